"""Every route is either public by an explicit allow-list or refuses requests without a token.

The walk covers all registered url rules, so a new route cannot ship unprotected
by accident: it fails here until it is decorated with ``@blp.requires(...)`` or
added to :data:`PUBLIC` on purpose.

WebSocket routes (``/ws/...``) are skipped: they authenticate with ``?token=``
and close with code 4001, which their own test suite checks over real sockets
(Flask's test client cannot open WebSockets).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule

#: (rule, method) pairs anyone may call without a token.
PUBLIC = {
    ("/api/v1/health/", "GET"),
    ("/api/v1/health/ready", "GET"),
    ("/api/v1/auth/token/", "POST"),
    ("/api/v1/auth/refresh/", "POST"),
    ("/api/schema/", "GET"),
    ("/api/docs/", "GET"),
    ("/api/redoc/", "GET"),
    ("/api/_assets/swagger-ui/<path:filename>", "GET"),
    ("/api/_assets/redoc/<path:filename>", "GET"),
    ("/media/<name>", "GET"),  # the logo is shown on the login page, before anyone logs in
    # Guarded by METRICS_TOKEN (a scraper's bearer token, not a JWT); off in production without it.
    ("/metrics", "GET"),
}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def routes(app: Flask) -> Iterator[tuple[Rule, str]]:
    """Every (rule, method) of the app except WebSockets and automatic HEAD/OPTIONS."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/ws/"):
            continue
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            yield rule, method


def handler(app: Flask, rule: Rule, method: str) -> Callable[..., Any]:
    """The function answering ``method`` on ``rule`` (the MethodView method when there is one)."""
    view = app.view_functions[rule.endpoint]
    view_class = getattr(view, "view_class", None)
    return getattr(view_class, method.lower()) if view_class is not None else view


def sample_url(rule: Rule) -> str:
    """``rule`` with every variable replaced by ``1``."""
    return re.sub(r"<(?:[^:>]+:)?\w+>", "1", rule.rule)


def test_every_route_is_public_by_the_allow_list_or_refuses_requests_without_a_token(app, client):
    checked = 0
    for rule, method in routes(app):
        if (rule.rule, method) in PUBLIC:
            continue
        view = handler(app, rule, method)
        assert hasattr(view, "_required_permissions"), (
            f"{method} {rule.rule} neither uses @blp.requires(...) nor is in the public allow-list"
        )
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = client.open(sample_url(rule), method=method, headers=headers)
            assert response.status_code == 401, (method, rule.rule, headers, response.status_code)
            assert response.get_json()["error"]["code"] == "UNAUTHORIZED"
        checked += 1
    assert checked >= 25


def test_public_routes_answer_without_a_token(app, client):
    for rule, method in routes(app):
        if (rule.rule, method) in PUBLIC:
            assert not hasattr(handler(app, rule, method), "_required_permissions"), rule.rule
            response = client.open(sample_url(rule), method=method)
            assert response.status_code != 401, (method, rule.rule)


def test_the_allow_list_names_only_existing_routes(app):
    existing = {(rule.rule, method) for rule, method in routes(app)}
    assert existing >= PUBLIC, PUBLIC - existing


@pytest.mark.parametrize(
    ("path", "permissions"),
    [
        ("/api/v1/agents/", ("accounts.manage_auth",)),
        ("/api/v1/authz/groups/", ("accounts.manage_auth",)),
        ("/api/v1/config/company/", ("core.manage_config_company",)),
    ],
)
def test_views_state_their_permission_where_they_are_defined(app, path, permissions):
    rule = next(r for r in app.url_map.iter_rules() if r.rule == path)
    method = "PATCH" if "PATCH" in rule.methods else "POST"
    assert handler(app, rule, method)._required_permissions == permissions
