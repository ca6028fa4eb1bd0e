"""The driver lease: one holder at a time, take-over when the holder dies, SQLite's local lease."""

from __future__ import annotations

import signal
import subprocess
import sys

import sqlalchemy as sa
from flask_migrate import upgrade

from dxconnect import create_app
from dxconnect.accounts.agents import create_agent
from dxconnect.extensions import db
from dxconnect.models import WhatsAppMessage, WhatsAppSession
from dxconnect.models.agents import utcnow
from dxconnect.whatsapp import session
from dxconnect.whatsapp.lease import LEASE_KEY, AdvisoryLease, FileLease
from dxconnect.whatsapp.messages import NewMessage, accept_message
from dxconnect.whatsapp.outbox import INTERRUPTED
from dxconnect.whatsapp.runtime import make_lease, start_runner, use_driver_class
from tests.whatsapp.conftest import wait_for
from tests.whatsapp.support import recorded_sends

TO = "5511999999999"


def queue(app, agent_id: int, n: int) -> list[str]:
    with app.app_context():
        return [
            accept_message(agent_id, NewMessage(TO, "text", {"text": f"m{i}"}), None)
            for i in range(n)
        ]


def kill_lease_connection(app) -> None:
    """What the server sees when the holding process dies: its connection goes away."""
    with app.app_context():
        db.session.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND ((classid::bigint << 32) | objid::bigint) = :key AND granted"
            ),
            {"key": LEASE_KEY},
        )
        db.session.commit()


def stored_session(app) -> WhatsAppSession:
    with app.app_context():
        row = db.session.scalar(sa.select(WhatsAppSession))
        db.session.expunge(row)
        return row


def test_postgresql_uses_an_advisory_lease_held_by_one_runner_at_a_time(app, driver, make_runner):
    first, second = make_runner(driver), make_runner(driver)
    assert isinstance(first.lease, AdvisoryLease)
    first.tick()
    second.tick()
    assert (first.lease.held, second.lease.held) == (True, False)
    assert stored_session(app).holder == first.holder


def test_when_the_holder_dies_another_takes_over_reconnects_and_sends_the_queue_once(
    app, driver, make_runner, make_agent, record_file, events
):
    agent = make_agent("failover")
    with app.app_context():
        session.request_start()
    holder, standby = make_runner(driver, backoff=0.2), make_runner(driver, backoff=0.2)
    holder.tick()
    standby.tick()
    before = queue(app, agent.id, 2)
    holder.tick()
    standby.holder = "standby-host:2"
    kill_lease_connection(app)
    after = queue(app, agent.id, 3)
    standby.tick()
    assert standby.lease.held
    assert stored_session(app).status == "connecting"
    assert standby.driver is None  # reconnects only after the backoff
    holder.tick()
    assert (holder.lease.held, holder.driver) == (False, None)
    wait_for(lambda: standby.tick() or len(recorded_sends(record_file)) == 5)
    assert sorted(recorded_sends(record_file)) == sorted(before + after)
    assert stored_session(app).holder == "standby-host:2"
    walk = ["connecting", "qrcode", "authenticated", "ready"]
    assert [e["status"] for e in events if e["type"] == "session_status"] == walk + walk


def test_rows_a_dead_holder_claimed_but_never_handed_over_fail_instead_of_going_twice(
    app, driver, make_runner, make_agent, record_file, events
):
    agent = make_agent("interrupted")
    claimed, waiting = queue(app, agent.id, 2)
    with app.app_context():
        db.session.execute(
            sa.update(WhatsAppMessage)
            .where(WhatsAppMessage.message_id == claimed)
            .values(claimed_at=utcnow())
        )
        db.session.commit()
        session.request_start()
    make_runner(driver).tick()
    with app.app_context():
        row = db.session.scalar(
            sa.select(WhatsAppMessage).where(WhatsAppMessage.message_id == claimed)
        )
        assert (row.status, row.error) == ("failed", INTERRUPTED)
    assert recorded_sends(record_file) == [waiting]


def test_a_stopped_runner_releases_the_lease(app, driver, make_runner):
    first, second = make_runner(driver), make_runner(driver)
    first.tick()
    first.stop()
    second.tick()
    assert second.lease.held


def test_the_background_loop_sends_as_soon_as_it_is_woken(app, driver, make_agent, record_file):
    agent = make_agent("loop")
    use_driver_class(app, driver)
    runner = start_runner(app, poll_seconds=30)
    try:
        with app.app_context():
            session.request_start()
        runner.wake()
        wait_for(lambda: stored_session(app).status == "ready")
        [message_id] = queue(app, agent.id, 1)
        runner.wake()
        wait_for(lambda: recorded_sends(record_file) == [message_id], timeout=5)
    finally:
        runner.stop()
    assert not runner.lease.held


def test_sqlite_runs_the_same_code_with_a_file_lease(tmp_path, driver):
    lite = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/lite.db", "REDIS_URL": ""})
    lite.config["TESTING"] = True
    use_driver_class(lite, driver)
    with lite.app_context():
        upgrade()
        session.request_start()
        agent_id = create_agent("lite", "correct-horse-battery").id
    first, second = make_lease(lite), make_lease(lite)
    assert isinstance(first, FileLease)
    assert (first.acquire(), second.acquire()) == (True, False)
    first.release()
    runner = start_runner(lite, poll_seconds=0.05)
    try:
        wait_for(lambda: runner.driver is not None and runner.driver.status() == "ready")
        with lite.app_context():
            message_id = accept_message(agent_id, NewMessage(TO, "text", {"text": "oi"}), None)
        wait_for(lambda: recorded_sends(driver.record_file) == [message_id])
    finally:
        runner.stop()


def test_the_file_lease_is_freed_when_its_holding_process_dies(tmp_path):
    path = tmp_path / "db.whatsapp-lease"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_FLOCK, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        lease = FileLease(path)
        assert lease.acquire() is False
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert lease.acquire() is True
        lease.release()
    finally:
        holder.kill()
        holder.wait()


HOLD_FLOCK = """
import fcntl, sys, time
handle = open(sys.argv[1], "a")
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""
