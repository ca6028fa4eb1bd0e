"""Liveness and readiness."""

from __future__ import annotations

from dxconnect import create_app


def test_liveness_is_ok(client):
    response = client.get("/api/v1/health/")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readiness_checks_database_and_redis(client):
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"] == "ok"


def test_readiness_names_unreachable_redis(test_env):
    app = create_app({**test_env, "REDIS_URL": "redis://127.0.0.1:1/0"})
    response = app.test_client().get("/api/v1/health/ready")
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert "redis" in error["message"]
    assert error["details"]["checks"]["redis"] == "unreachable"
    assert error["details"]["checks"]["database"] == "ok"


def test_readiness_names_unreachable_database(test_env):
    app = create_app({**test_env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"})
    response = app.test_client().get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.get_json()["error"]["details"]["checks"]["database"] == "unreachable"
    assert "127.0.0.1:1" not in response.get_data(as_text=True)


def test_liveness_touches_no_backing_service(test_env):
    app = create_app(
        {**test_env, "DATABASE_URL": "postgresql://x@127.0.0.1:1/x", "REDIS_URL": "redis://127.0.0.1:1"}
    )
    assert app.test_client().get("/api/v1/health/").status_code == 200


def test_readiness_reports_redis_disabled_without_redis_url(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "REDIS_URL": ""})
    body = app.test_client().get("/api/v1/health/ready").get_json()
    assert body["checks"] == {"database": "ok", "redis": "disabled", "driver": "stub"}


def test_a_burst_beyond_the_redis_pool_waits_instead_of_failing(test_env):
    """More concurrent Redis users than pooled connections: they queue for one, no error."""
    import threading

    from dxconnect.redis_client import get_redis

    app = create_app({**test_env, "REDIS_MAX_CONNECTIONS": "2"})
    client, errors = get_redis(app), []

    def slow_call() -> None:
        try:
            client.blpop(["dxconnect:test:pool-burst"], timeout=0.2)  # holds a connection
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)

    threads = [threading.Thread(target=slow_call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
