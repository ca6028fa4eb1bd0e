"""The event sink interface every sink plugin implements.

A sink receives every v1 event (contract section 4) from its own queue and
thread (see :mod:`dxconnect.events.worker`): a slow or failing sink never delays
the publisher or the other sinks. A failed delivery is retried up to
``max_attempts`` with exponential backoff and jitter, then kept as a dead letter
that an operator can list and replay (``flask --app wsgi dead-letters``).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from dxconnect.settings import Settings


class PermanentSinkFailure(Exception):
    """A delivery that retrying cannot fix (e.g. the receiver refused it): dead-lettered at once."""


class EventSink(ABC):
    """Base class of event sinks: one instance per process, fed one event at a time."""

    #: Unique name, enabled with ``EVENT_SINKS=<name>,...``.
    name: ClassVar[str]
    #: Attempts per event before it becomes a dead letter (1 = never retried).
    max_attempts: int = 1
    #: Delay before the first retry; doubles at each further attempt.
    backoff_seconds: float = 1.0
    #: Upper bound of one retry delay.
    max_backoff_seconds: float = 300.0

    def __init__(self, settings: Settings) -> None:
        """Read what the sink needs from ``settings``; raise ``SettingsError`` when it is unusable."""
        self.settings = settings

    @abstractmethod
    def deliver(self, event: Mapping[str, Any]) -> None:
        """Deliver one event; raise to fail (:class:`PermanentSinkFailure` to skip retries)."""

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        Exponential backoff with "equal jitter": half the exponential delay
        plus a random part up to the other half, so retries from many
        processes spread out while still growing.
        """
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def close(self) -> None:
        """Release resources; called once when the app's sinks stop."""
