"""The per-process auth cache follows revocations and agent changes made by other processes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from dxconnect.accounts.auth_cache import AuthCache
from dxconnect.accounts.tokens import revoke
from dxconnect.extensions import db
from dxconnect.models import Agent
from tests.conftest import TEST_REDIS_URL, bearer, eventually, obtain_tokens


def _logout(client, tokens: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/auth/logout/", json={"refresh": tokens["refresh"]}, headers=bearer(tokens["access"])
    )
    assert response.status_code == 204, response.get_json()


def _kill_subscriptions() -> int:
    """Close every subscriber connection on the test database, as a Redis restart would."""
    server = redis.Redis.from_url(TEST_REDIS_URL)
    database = server.connection_pool.connection_kwargs["db"]
    killed = 0
    for connection in server.client_list(_type="pubsub"):
        if int(connection["db"]) == database:
            killed += server.client_kill_filter(_id=connection["id"])
    return killed


def test_a_logout_is_refused_by_every_other_process_within_milliseconds(
    client, make_agent, make_app
):
    make_agent("ana")
    other = make_app().test_client()
    delays = []
    for _ in range(20):
        tokens = obtain_tokens(client, "ana")
        assert other.get("/api/v1/me/", headers=bearer(tokens["access"])).status_code == 200
        _logout(client, tokens)
        assert client.get("/api/v1/me/", headers=bearer(tokens["access"])).status_code == 401
        refused = lambda t=tokens: other.get("/api/v1/me/", headers=bearer(t["access"])).status_code == 401  # noqa: E731
        delays.append(eventually(refused, timeout=1.0))
    assert sorted(delays)[len(delays) // 2] < 0.05, delays


def test_a_broken_subscription_reloads_what_it_missed(client, make_agent, make_app, app):
    agent = make_agent("ana")
    other = make_app().test_client()
    tokens = obtain_tokens(client, "ana")
    me = other.get("/api/v1/me/", headers=bearer(tokens["access"])).get_json()
    assert me["is_superuser"] is False
    assert _kill_subscriptions() >= 1
    # Announced while nobody on this database listens: both messages are lost.
    with app.app_context():
        db.session.get(Agent, agent.id).is_superuser = True
        db.session.commit()
    assert other.get("/api/v1/me/", headers=bearer(tokens["access"])).get_json()["is_superuser"]
    assert _kill_subscriptions() >= 1
    _logout(client, tokens)
    assert other.get("/api/v1/me/", headers=bearer(tokens["access"])).status_code == 401


def test_without_redis_revocations_and_agents_come_from_the_database(app, make_agent):
    agent = make_agent("ana")
    unreachable = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    cache = AuthCache(unreachable)
    jti = "a-revoked-token-id"
    with app.app_context():
        assert cache.is_revoked(jti) is False
        revoke({"jti": jti, "exp": (datetime.now(UTC) + timedelta(hours=1)).timestamp()})
        assert cache.is_revoked(jti) is True
        assert cache.agent(agent.id).is_superuser is False
        db.session.get(Agent, agent.id).is_superuser = True
        db.session.commit()
        assert cache.agent(agent.id).is_superuser is True  # nothing was kept


def test_a_health_check_reply_does_not_hide_the_messages_behind_it(app, make_agent):
    """redis-py reads its own health-check PONG on the subscription as "no message"."""
    agent = make_agent("ana")
    cache = AuthCache(redis.Redis.from_url(TEST_REDIS_URL, health_check_interval=1))
    with app.app_context():
        assert cache.agent(agent.id).is_superuser is False  # subscribed, snapshot cached
        time.sleep(1.1)
        cache._subscription.check_health()  # the PING a read sends once the interval passed
        time.sleep(0.05)  # its PONG now waits unread
        db.session.get(Agent, agent.id).is_superuser = True
        db.session.commit()  # announced behind the PONG
        time.sleep(0.05)
        assert cache.agent(agent.id).is_superuser is True


def test_refused_names_revoked_tokens_and_inactive_agents_and_nothing_without_redis(
    app, make_agent
):
    ana, bia, caio = (make_agent(name) for name in ("ana", "bia", "caio"))
    cache = AuthCache(redis.Redis.from_url(TEST_REDIS_URL))
    owners = {("ana-token", ana.id), ("bia-token", bia.id), ("caio-token", caio.id)}
    later = datetime.now(UTC) + timedelta(hours=1)
    with app.app_context():
        assert cache.refused(owners) == set()
        cache.mark_revoked("ana-token", later)
        db.session.get(Agent, caio.id).is_active = False
        db.session.commit()
        assert cache.refused(owners) == {("ana-token", ana.id), ("caio-token", caio.id)}
        unreachable = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
        assert AuthCache(unreachable).refused(owners) == set()  # no query per socket


@pytest.mark.parametrize("count", [3])
def test_expired_revocations_are_forgotten(app, count, monkeypatch):
    monkeypatch.setattr("dxconnect.accounts.auth_cache.PRUNE_THRESHOLD", count)
    cache = AuthCache(None)
    with app.app_context():
        past = datetime.now(UTC) - timedelta(seconds=1)
        for n in range(count):
            cache.mark_revoked(f"expired-{n}", past)
        cache.is_revoked("load")
        cache.mark_revoked("live", datetime.now(UTC) + timedelta(hours=1))
        for n in range(count):
            cache.mark_revoked(f"expired-again-{n}", past)
        assert cache.is_revoked("live") and not cache.is_revoked("expired-0")
        assert len(cache._revocations()) <= count + 1
