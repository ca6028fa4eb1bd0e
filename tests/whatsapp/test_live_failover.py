"""Real server processes: shared session state, SIGKILL of the lease holder, crash and restart,
idempotent retries racing on two processes. The driver records every send in a file, so
"exactly once" is checked where the message leaves, not only in the database."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from dxconnect.extensions import db
from dxconnect.models import WhatsAppMessage, WhatsAppSession
from tests.whatsapp.conftest import TO, wait_for
from tests.whatsapp.support import recorded_sends


def holder_pid(app) -> int | None:
    """The pid of the worker holding the lease, as the session row records it."""
    with app.app_context():
        holder = db.session.scalar(sa.select(WhatsAppSession.holder))
        db.session.commit()
    return int(holder.rsplit(":", 1)[1]) if holder else None


def parent_pid(pid: int) -> int:
    """The parent of ``pid`` (a worker's parent is its gunicorn master)."""
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def test_a_start_on_one_process_reads_the_same_on_another(servers):
    first, second = servers(ready_after=1), servers(ready_after=1)
    response = first.request("POST", "/session/start")
    assert (response.status_code, response.json()) == (202, {"status": "connecting"})
    seen = second.request("GET", "/session/status").json()
    assert seen["status"] in ("connecting", "qrcode")
    assert seen["driver"] == "recording"
    shown = wait_for(lambda: second.request("GET", "/session/status").json().get("qrcode"))
    assert shown["image_b64"]
    wait_for(lambda: second.status() == "ready")
    on_first = first.request("GET", "/session/status").json()
    assert on_first == second.request("GET", "/session/status").json()
    assert second.request("DELETE", "/session").status_code == 204
    assert first.status() == "disconnected"


def test_when_the_holder_is_killed_another_process_takes_over_and_sends_the_queue_once(
    app, servers, record_file
):
    apis = [servers(), servers()]
    apis[0].request("POST", "/session/start")
    wait_for(lambda: apis[1].status() == "ready")
    old_holder = holder_pid(app)
    holder = next(api for api in apis if api.server.process.pid == parent_pid(old_holder))
    survivor = next(api for api in apis if api is not holder)
    before = [survivor.send(f"antes {i}") for i in range(5)]
    wait_for(lambda: {survivor.message(m)["status"] for m in before} == {"delivered"})

    holder.server.kill()
    killed_at = time.monotonic()
    after = [survivor.send(f"depois {i}") for i in range(5)]
    wait_for(lambda: holder_pid(app) not in (old_holder, None), timeout=10)
    assert time.monotonic() - killed_at < 5
    assert parent_pid(holder_pid(app)) == survivor.server.process.pid
    wait_for(lambda: len(recorded_sends(record_file)) >= 10, timeout=20)
    time.sleep(1)  # anything sent twice would show up by now
    assert Counter(recorded_sends(record_file)) == Counter(before + after)
    assert survivor.status() == "ready"
    assert {survivor.message(m)["status"] for m in before + after} == {"delivered"}


def test_messages_accepted_before_a_crash_go_out_exactly_once_after_a_restart(servers, record_file):
    first = servers(ready_after=600)
    first.request("POST", "/session/start")
    wait_for(lambda: first.status() == "qrcode")
    ids = [first.send(f"pedido {i}") for i in range(8)]
    retried = first.send("com chave", client_message_id="pedido-99")
    listed = first.request("GET", "/messages", params={"status": "queued"}).json()
    assert listed["count"] == 9
    assert recorded_sends(record_file) == []

    first.server.kill()
    second = servers(ready_after=0)
    assert second.send("com chave", client_message_id="pedido-99") == retried
    wait_for(lambda: len(recorded_sends(record_file)) >= 9, timeout=20)
    time.sleep(1)
    assert Counter(recorded_sends(record_file)) == Counter([*ids, retried])
    for message_id in [*ids, retried]:
        message = second.message(message_id)
        assert message["status"] == "delivered"
        assert set(message["status_times"]) == {"queued", "sent", "delivered"}


def test_retries_racing_on_two_processes_make_one_message_and_one_send(app, servers, record_file):
    apis = [servers(), servers()]
    body = {"to": TO, "type": "text", "text": "uma vez só"}

    def post(api, barrier, key):
        barrier.wait()
        return api.request("POST", "/messages", json=body, headers={"Idempotency-Key": key})

    for attempt in range(8):
        barrier = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            answers = [pool.submit(post, api, barrier, f"corrida-{attempt}") for api in apis]
        first, second = (answer.result() for answer in answers)
        assert (first.status_code, second.status_code) == (202, 202)
        assert first.json() == second.json()
    with app.app_context():
        ids = db.session.scalars(sa.select(WhatsAppMessage.message_id)).all()
        db.session.commit()
    assert len(ids) == 8
    apis[1].request("POST", "/session/start")
    wait_for(lambda: len(recorded_sends(record_file)) >= 8, timeout=20)
    time.sleep(1)
    assert Counter(recorded_sends(record_file)) == Counter(ids)
