"""Shared pagination of lists: page, page_size, count, next/previous URLs, 404 past the end."""

from __future__ import annotations

import pytest

from dxconnect.extensions import db
from dxconnect.models import Agent

MANAGE_AUTH = ["accounts.manage_auth"]


@pytest.fixture
def boss(headers_for, app):
    """A manager, then 24 more agents (stored directly: hashing 24 passwords is slow)."""
    headers = headers_for("boss", MANAGE_AUTH)
    with app.app_context():
        db.session.add_all(Agent(username=f"agent{n:02d}", password_hash="-") for n in range(1, 25))
        db.session.commit()
    return headers


def test_first_page_has_default_size_and_a_full_next_url(client, boss):
    body = client.get("/api/v1/agents/", headers=boss).get_json()
    assert body["count"] == 25
    assert len(body["results"]) == 20
    assert body["previous"] is None
    assert body["next"] == "http://localhost/api/v1/agents/?page=2"


def test_next_and_previous_keep_the_other_query_arguments(client, boss):
    body = client.get("/api/v1/agents/?search=agent&page_size=10&page=2", headers=boss).get_json()
    assert body["count"] == 24
    assert [a["username"] for a in body["results"]] == [f"agent{n:02d}" for n in range(11, 21)]
    assert body["next"] == "http://localhost/api/v1/agents/?search=agent&page_size=10&page=3"
    assert body["previous"] == "http://localhost/api/v1/agents/?search=agent&page_size=10&page=1"
    last = client.get(body["next"], headers=boss).get_json()
    assert len(last["results"]) == 4 and last["next"] is None


def test_page_size_above_the_maximum_is_clamped_to_100(client, boss):
    body = client.get("/api/v1/agents/?page_size=1000", headers=boss).get_json()
    assert len(body["results"]) == 25 and body["next"] is None


def test_page_past_the_end_is_404(client, boss):
    response = client.get("/api/v1/agents/?page=3", headers=boss)
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "NOT_FOUND" and error["details"] == {"page": ["The last page is 2."]}


def test_first_page_of_an_empty_list_is_empty_not_404(client, headers_for):
    body = client.get("/api/v1/authz/groups/", headers=headers_for("boss", MANAGE_AUTH)).get_json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "page_size=0", "page_size=1.5"])
def test_bad_page_arguments_are_400(client, boss, query):
    response = client.get(f"/api/v1/agents/?{query}", headers=boss)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "INVALID_PAYLOAD"
