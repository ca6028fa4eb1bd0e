"""Concurrent changes of the configuration never lose an update (threads against PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from dxconnect.extensions import db
from dxconnect.models import Configuration

ROUNDS = 30


def race(app, requests: list[Callable[[object], object]]) -> list[int]:
    """Run each request in its own thread (own client, own session), released together."""
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)

    def run(index: int, request: Callable[[object], object]) -> None:
        client = app.test_client()
        barrier.wait()
        statuses[index] = request(client).status_code

    threads = [threading.Thread(target=run, args=item) for item in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


def patch_together(app, *changes: tuple[dict[str, str], str, dict]) -> None:
    """Send each ``(headers, path, body)`` PATCH at the same moment; all must succeed."""
    requests = [
        lambda client, change=change: client.patch(change[1], json=change[2], headers=change[0])
        for change in changes
    ]
    assert race(app, requests) == [200] * len(changes)


def stored(app) -> Configuration:
    with app.app_context():
        row = db.session.get(Configuration, 1)
        db.session.expunge(row)
        return row


def test_two_agents_patching_different_sections_at_once_never_lose_an_update(
    app, client, headers_for
):
    company = headers_for("ana", ["core.manage_config_company"])
    chat = headers_for("bia", ["core.manage_config_chat"])
    client.get("/api/v1/config/", headers=company)
    for n in range(ROUNDS):
        patch_together(
            app,
            (company, "/api/v1/config/company/", {"razao_social": f"Empresa {n}"}),
            (chat, "/api/v1/config/chat/", {"mensagem_saudacao": f"Olá {n}"}),
        )
        row = stored(app)
        assert row.company_data["razao_social"] == f"Empresa {n}"
        assert row.chat_settings["mensagem_saudacao"] == f"Olá {n}"


def test_two_agents_patching_different_fields_of_one_section_never_lose_an_update(
    app, client, headers_for
):
    first = headers_for("ana", ["core.manage_config_company"])
    second = headers_for("bia", ["core.manage_config_company"])
    client.get("/api/v1/config/", headers=first)
    for n in range(ROUNDS):
        patch_together(
            app,
            (first, "/api/v1/config/company/", {"nome_fantasia": f"Fantasia {n}"}),
            (second, "/api/v1/config/company/", {"endereco": {"numero": str(n)}}),
        )
        company = stored(app).company_data
        assert company["nome_fantasia"] == f"Fantasia {n}"
        assert company["endereco"]["numero"] == str(n)


def test_first_reads_racing_create_one_configuration(app, headers_for):
    headers = headers_for("ana")
    statuses = race(app, [lambda c: c.get("/api/v1/config/", headers=headers) for _ in range(4)])
    assert statuses == [200, 200, 200, 200]
    with app.app_context():
        assert db.session.query(Configuration).count() == 1
