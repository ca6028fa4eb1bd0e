"""OpenAPI schema, Swagger UI and ReDoc served with no internet access."""

from __future__ import annotations

import re

import pytest


def test_schema_documents_every_route_with_security_and_errors(client, app):
    spec = client.get("/api/schema/").get_json()
    assert spec["openapi"].startswith("3.")
    documented = set(spec["paths"])
    api_rules = {
        re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
    }
    assert api_rules <= documented
    me = spec["paths"]["/api/v1/me/"]["get"]
    assert me["security"] == [{"bearerAuth": []}]
    assert "401" in me["responses"]
    token = spec["paths"]["/api/v1/auth/token/"]["post"]
    assert "400" in token["responses"] and "422" not in token["responses"]
    assert token["requestBody"]["content"]["application/json"]["example"]["username"] == "admin"
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_doc_pages_load_only_local_assets(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    for url in assets:
        assert not url.startswith(("http:", "https:", "//")), url
        assert client.get(url).status_code == 200, url


def test_swagger_ui_bundle_is_served_with_js_type(client):
    response = client.get("/api/_assets/swagger-ui/swagger-ui-bundle.js")
    assert response.status_code == 200
    assert "javascript" in response.mimetype
    assert response.headers["X-Content-Type-Options"] == "nosniff"
