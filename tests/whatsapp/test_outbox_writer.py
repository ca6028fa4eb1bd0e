"""Group commit: sends accepted at the same moment share one INSERT, and nothing else changes.

The writer is held on a PostgreSQL table lock while requests queue behind it,
so the groups these tests assert on are certain, not a matter of timing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from dxconnect.whatsapp import outbox_writer as writer_module
from dxconnect.whatsapp.runtime import outbox_writer
from tests.conftest import TEST_DATABASE_URL, eventually
from tests.whatsapp.test_messages_api import MESSAGES, TEXT, stored_messages

WRITER = "dxconnect-outbox-writer"


@contextmanager
def table_locked() -> Iterator[psycopg.Connection]:
    """Hold an exclusive lock on the outbox: every INSERT into it waits until the block ends."""
    with psycopg.connect(TEST_DATABASE_URL) as conn:
        conn.execute("LOCK TABLE whatsapp_messages IN EXCLUSIVE MODE")
        yield conn


@pytest.fixture
def inserts() -> Iterator[list[int]]:
    """The row count of every INSERT into the outbox during the test (on any engine: the
    writer has its own)."""
    counts: list[int] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO whatsapp_messages"):
            counts.append(statement.count("%(message_id"))

    sa.event.listen(sa.Engine, "before_cursor_execute", count)
    yield counts
    sa.event.remove(sa.Engine, "before_cursor_execute", count)


def queued(app) -> int:
    return len(outbox_writer(app)._waiting)


def post_all(app, headers, bodies: list[dict[str, Any]], pool: ThreadPoolExecutor) -> list[Future]:
    """Post each of ``bodies`` from its own thread (its own test client)."""
    return [
        pool.submit(lambda b=b: app.test_client().post(MESSAGES, headers=headers, json=b))
        for b in bodies
    ]


def test_sends_waiting_on_the_writer_are_stored_by_one_insert(
    app, manager_headers, driver, events, inserts
):
    with ThreadPoolExecutor(20) as pool, table_locked():
        [first] = post_all(app, manager_headers, [TEXT], pool)
        eventually(lambda: len(inserts) == 1, timeout=5)  # the writer now waits on the lock
        rest = post_all(app, manager_headers, [{**TEXT, "text": f"m{i}"} for i in range(19)], pool)
        eventually(lambda: queued(app) == 19, timeout=5)
    responses = [f.result(timeout=10) for f in [first, *rest]]
    assert [r.status_code for r in responses] == [202] * 20
    ids = [r.get_json()["message_id"] for r in responses]
    assert len(set(ids)) == 20
    assert inserts == [1, 19]  # the first alone, then everything that queued behind it
    rows = stored_messages(app)
    assert sorted(row.message_id for row in rows) == sorted(ids)
    assert {row.status for row in rows} == {"queued"}
    assert sorted(e["message_id"] for e in events) == sorted(ids)
    assert {(e["type"], e["status"]) for e in events} == {("message_status", "queued")}


def test_a_duplicate_key_in_a_group_fails_alone_and_answers_the_winners_message(
    app, manager_headers, driver, events, inserts
):
    keyed = {**TEXT, "client_message_id": "corrida"}
    with ThreadPoolExecutor(8) as pool, table_locked():
        [blocker] = post_all(app, manager_headers, [{**TEXT, "text": "first"}], pool)
        eventually(lambda: len(inserts) == 1, timeout=5)
        # Both keyed sends look the key up before either is stored: the same race as on two
        # processes, decided by the unique constraint inside one group.
        group = post_all(app, manager_headers, [keyed, {**TEXT, "text": "a"}, keyed], pool)
        eventually(lambda: queued(app) == 3, timeout=5)
    responses = [f.result(timeout=10) for f in [blocker, *group]]
    assert [r.status_code for r in responses] == [202] * 4
    first_key, other, second_key = (r.get_json()["message_id"] for r in responses[1:])
    assert first_key == second_key
    assert inserts == [1, 3, 1, 1, 1]  # the group's INSERT failed, then each row on its own
    rows = stored_messages(app)
    assert len(rows) == 3
    assert sorted(e["message_id"] for e in events) == sorted(
        [responses[0].get_json()["message_id"], first_key, other]
    )


def test_a_database_failure_answers_503_to_its_group_and_the_writer_carries_on(
    app, manager_headers, driver, events, inserts
):
    with ThreadPoolExecutor(4) as pool, table_locked() as lock:
        [doomed] = post_all(app, manager_headers, [TEXT], pool)
        eventually(lambda: len(inserts) == 1, timeout=5)
        lock.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'INSERT INTO whatsapp_messages%%' AND pid <> pg_backend_pid()"
        )
        response = doomed.result(timeout=10)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert stored_messages(app) == [] and events == []
    again = app.test_client().post(MESSAGES, headers=manager_headers, json=TEXT)
    assert again.status_code == 202
    assert [row.message_id for row in stored_messages(app)] == [again.get_json()["message_id"]]


def test_an_idle_writer_ends_and_the_next_send_starts_another(
    app, client, manager_headers, driver, monkeypatch
):
    monkeypatch.setattr(writer_module, "IDLE_SECONDS", 0.05)
    writers = lambda: [t for t in threading.enumerate() if t.name == WRITER]  # noqa: E731
    eventually(lambda: not writers(), timeout=35)  # any writer of an earlier test retires too
    assert client.post(MESSAGES, headers=manager_headers, json=TEXT).status_code == 202
    assert len(writers()) == 1
    eventually(lambda: not writers(), timeout=2)
    assert client.post(MESSAGES, headers=manager_headers, json=TEXT).status_code == 202
    assert len(stored_messages(app)) == 2
