"""The session runner and dispatcher: readiness, sending once, TTL, failures, forward-only
statuses."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dxconnect.extensions import db
from dxconnect.models import WhatsAppMessage, WhatsAppSession
from dxconnect.models.agents import utcnow
from dxconnect.whatsapp import outbox, session
from dxconnect.whatsapp.messages import NewMessage, accept_message
from tests.whatsapp.conftest import wait_for
from tests.whatsapp.support import REFUSED_NUMBER, recorded_sends

TO = "5511999999999"


@pytest.fixture
def queue(app, make_agent):
    """``queue(n, to=TO)`` -> the ids of ``n`` text messages accepted from one agent."""
    agent = make_agent("dispatcher-test")

    def accept(n: int, to: str = TO) -> list[str]:
        with app.app_context():
            return [
                accept_message(agent.id, NewMessage(to, "text", {"text": f"m{i}"}), None)
                for i in range(n)
            ]

    return accept


def start_requested(app) -> None:
    with app.app_context():
        session.request_start()


def message(app, message_id: str) -> WhatsAppMessage:
    with app.app_context():
        row = db.session.scalar(
            sa.select(WhatsAppMessage).where(WhatsAppMessage.message_id == message_id)
        )
        db.session.expunge(row)
        return row


def statuses(events, message_id: str) -> list[str]:
    return [
        e["status"]
        for e in events
        if e["type"] == "message_status" and e["message_id"] == message_id
    ]


def test_holder_walks_the_session_to_ready_and_records_itself(app, driver, make_runner, events):
    start_requested(app)
    runner = make_runner(driver)
    runner.tick()
    assert runner.lease.held
    with app.app_context():
        row = db.session.scalar(sa.select(WhatsAppSession))
        assert (row.status, row.holder, row.qrcode) == ("ready", runner.holder, None)
    assert [(e["type"], e.get("status")) for e in events] == [
        ("session_status", "connecting"),
        ("session_status", "qrcode"),
        ("qrcode", None),
        ("session_status", "authenticated"),
        ("session_status", "ready"),
    ]


def test_messages_queued_before_ready_go_out_once_when_ready(
    app, driver, make_runner, queue, record_file, events
):
    slow = type("SlowScan", (driver,), {"ready_after": 0.3})
    ids = queue(3)
    start_requested(app)
    runner = make_runner(slow)
    runner.tick()
    assert recorded_sends(record_file) == []
    assert [message(app, i).status for i in ids] == ["queued"] * 3
    wait_for(lambda: runner.driver.status() == "ready")
    runner.tick()
    runner.tick()
    assert recorded_sends(record_file) == ids
    for message_id in ids:
        row = message(app, message_id)
        assert row.status == "delivered"
        assert set(row.status_times()) == {"queued", "sent", "delivered"}
        assert statuses(events, message_id) == ["queued", "sent", "delivered"]


def test_nothing_is_sent_while_no_session_is_wanted(app, driver, make_runner, queue, record_file):
    [message_id] = queue(1)
    make_runner(driver).tick()
    assert recorded_sends(record_file) == []
    assert message(app, message_id).status == "queued"


def test_messages_older_than_the_ttl_fail_with_a_reason_and_are_not_sent(
    app, driver, make_runner, queue, record_file, events
):
    old, fresh = queue(2)
    with app.app_context():
        db.session.execute(
            sa.update(WhatsAppMessage)
            .where(WhatsAppMessage.message_id == old)
            .values(created_at=utcnow() - timedelta(seconds=86401))
        )
        db.session.commit()
    start_requested(app)
    make_runner(driver).tick()
    assert recorded_sends(record_file) == [fresh]
    expired = message(app, old)
    assert (expired.status, expired.error) == ("failed", "Expired: not sent within 86400 seconds")
    assert expired.failed_at is not None
    assert statuses(events, old) == ["queued", "failed"]
    [failed_event] = [e for e in events if e.get("message_id") == old and e["status"] == "failed"]
    assert failed_event["error"] == expired.error


def test_ttl_expiry_runs_even_while_the_session_is_down(
    app, driver, make_runner, queue, monkeypatch
):
    settings = dataclasses.replace(app.config["DXCONNECT_SETTINGS"], message_ttl_seconds=1)
    monkeypatch.setitem(app.config, "DXCONNECT_SETTINGS", settings)
    [old] = queue(1)
    with app.app_context():
        db.session.execute(
            sa.update(WhatsAppMessage).values(created_at=utcnow() - timedelta(seconds=2))
        )
        db.session.commit()
    make_runner(driver).tick()
    assert message(app, old).error == "Expired: not sent within 1 seconds"


def test_a_driver_failure_fails_the_message_with_the_error(
    app, driver, make_runner, queue, record_file, events
):
    [refused] = queue(1, to=REFUSED_NUMBER)
    [fine] = queue(1)
    start_requested(app)
    make_runner(driver).tick()
    row = message(app, refused)
    assert (row.status, row.error) == (
        "failed",
        f"RuntimeError: recipient {REFUSED_NUMBER} refused the message",
    )
    assert statuses(events, refused) == ["queued", "failed"]
    assert recorded_sends(record_file) == [fine]


def test_statuses_only_move_forward_and_late_or_repeated_ones_are_ignored(app, queue, events):
    [message_id] = queue(1)
    with app.app_context():
        applied = [
            outbox.apply_status(message_id, status)
            for status in ("sent", "sent", "read", "delivered", "failed", "sent")
        ]
    assert applied == [True, False, True, False, False, False]
    row = message(app, message_id)
    assert row.status == "read"
    assert set(row.status_times()) == {"queued", "sent", "read"}
    assert statuses(events, message_id) == ["queued", "sent", "read"]


def test_failed_is_final(app, queue, events):
    [message_id] = queue(1)
    with app.app_context():
        assert outbox.apply_status(message_id, "failed", "no route") is True
        assert outbox.apply_status(message_id, "delivered") is False
    row = message(app, message_id)
    assert (row.status, row.error, row.delivered_at) == ("failed", "no route", None)


def test_a_late_report_of_a_discarded_driver_is_ignored(app, driver, make_runner, queue, events):
    start_requested(app)
    runner = make_runner(driver)
    runner.tick()
    old_driver = runner.driver
    with app.app_context():
        session.request_stop()
    runner.tick()
    [message_id] = queue(1)
    published = len(events)
    old_driver.context.emit("session_status", {"status": "ready"})
    old_driver.context.emit("message_status", {"message_id": message_id, "status": "read"})
    assert len(events) == published
    assert message(app, message_id).status == "queued"
    with app.app_context():
        assert session.session_view()["status"] == "disconnected"


def test_a_dropped_session_reconnects_after_the_backoff(app, driver, make_runner, events):
    start_requested(app)
    runner = make_runner(driver, backoff=0.2)
    runner.tick()
    runner.driver.stop_session()  # the phone went away
    runner.tick()
    assert runner.driver is None
    runner.tick()
    assert runner.driver is None  # still waiting for the backoff
    wait_for(lambda: runner.tick() or runner.driver is not None)
    assert runner.driver.status() == "ready"
    walk = ["connecting", "qrcode", "authenticated", "ready"]
    assert [e["status"] for e in events if e["type"] == "session_status"] == [
        *walk, "disconnected", *walk,
    ]  # fmt: skip


def test_a_driver_that_fails_to_start_is_retried(app, driver, make_runner):
    attempts = []

    class FailsOnce(driver):
        def start_session(self):
            attempts.append(1)
            if len(attempts) == 1:
                raise ConnectionError("network down")
            super().start_session()

    start_requested(app)
    runner = make_runner(FailsOnce, backoff=0)
    runner.tick()
    with app.app_context():
        assert session.session_view()["reason"] == "ConnectionError: network down"
    runner.tick()
    assert len(attempts) == 2
    with app.app_context():
        assert session.session_view()["status"] == "ready"


def test_claims_skip_rows_locked_by_another_transaction(app, queue):
    first, second = queue(2)
    with app.app_context():
        other = db.engine.connect()
        transaction = other.begin()
        other.execute(
            sa.select(WhatsAppMessage.id)
            .where(WhatsAppMessage.message_id == first)
            .with_for_update()
        )
        claimed = outbox.claim_batch(10, 86400)
        transaction.rollback()
        other.close()
    assert [m.message_id for m in claimed] == [second]
    assert message(app, first).claimed_at is None
    assert message(app, second).claimed_at is not None


def test_a_session_dropping_mid_batch_gives_the_rest_back_to_the_queue(
    app, driver, make_runner, queue, record_file
):
    class DropsAfterOne(driver):
        def send_message(self, message):
            super().send_message(message)
            self._status = "disconnected"

    ids = queue(3)
    start_requested(app)
    make_runner(DropsAfterOne).tick()
    assert recorded_sends(record_file) == ids[:1]
    assert [message(app, i).claimed_at is None for i in ids[1:]] == [True, True]
    assert [message(app, i).status for i in ids[1:]] == ["queued", "queued"]
