"""The dead-letter store: events a sink gave up on, in the database, listed and replayed by operators.

A sink worker records a dead letter after the last failed attempt (or when it
stops with retries pending). ``flask --app wsgi dead-letters list`` shows them;
``dead-letters replay`` delivers them again through the enabled sink, once,
and deletes each one that goes through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask

from dxconnect.events.sink import EventSink
from dxconnect.events.worker import DeadLetterStore
from dxconnect.extensions import db
from dxconnect.models import DeadLetter


@dataclass(frozen=True)
class ReplayResult:
    """The outcome of replaying one dead letter (``error`` is None when delivered)."""

    id: int
    sink: str
    event_id: str
    error: str | None


def recorder(app: Flask) -> DeadLetterStore:
    """A ``dead_letter(sink, event, error, attempts)`` callback storing into ``app``'s database."""

    def record(sink: str, event: dict[str, Any], error: str, attempts: int) -> None:
        with app.app_context():
            db.session.add(
                DeadLetter(
                    sink=sink,
                    event_id=str(event.get("id", "")),
                    event=event,
                    error=error,
                    attempts=attempts,
                )
            )
            db.session.commit()

    return record


def list_dead_letters(sink: str | None = None) -> list[DeadLetter]:
    """Every dead letter, oldest first, optionally of one sink only."""
    query = sa.select(DeadLetter).order_by(DeadLetter.id)
    if sink:
        query = query.filter_by(sink=sink)
    return list(db.session.scalars(query))


def as_dict(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as plain JSON-ready data."""
    return {
        "id": letter.id,
        "sink": letter.sink,
        "event_id": letter.event_id,
        "attempts": letter.attempts,
        "error": letter.error,
        "created_at": letter.created_at.isoformat(),
        "last_attempt_at": letter.last_attempt_at.isoformat(),
        "event": letter.event,
    }


def replay(letters: Sequence[DeadLetter], sinks: Mapping[str, EventSink]) -> list[ReplayResult]:
    """Deliver each letter once through its sink; delete the delivered ones, update the others."""
    results = []
    for letter in letters:
        sink = sinks.get(letter.sink)
        error = (
            f"sink {letter.sink!r} is not enabled (EVENT_SINKS)"
            if sink is None
            else _deliver(sink, letter.event)
        )
        results.append(ReplayResult(letter.id, letter.sink, letter.event_id, error))
        if error is None:
            db.session.delete(letter)
        elif sink is not None:
            letter.attempts += 1
            letter.error = error
    db.session.commit()
    return results


def _deliver(sink: EventSink, event: dict[str, Any]) -> str | None:
    try:
        sink.deliver(event)
    except Exception as exc:  # the operator sees the reason; the letter is kept
        return f"{type(exc).__name__}: {exc}"[:2000]
    return None
