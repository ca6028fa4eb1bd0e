"""Logo and favicon uploads: type decided by content, safe storage and serving, no orphans."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import requests
from PIL import Image

from dxconnect.extensions import db
from dxconnect.models import Configuration
from tests.conftest import PASSWORD

APPEARANCE = ["core.manage_config_appearance"]
UPLOAD = "/api/v1/config/appearance/upload/"


def image_bytes(pillow_format: str, size: tuple[int, int] = (16, 16)) -> bytes:
    """A real image of ``pillow_format`` made by Pillow."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (14, 165, 233)).save(buffer, format=pillow_format)
    return buffer.getvalue()


PNG = image_bytes("PNG")


@pytest.fixture
def headers(headers_for) -> dict[str, str]:
    return headers_for("ana", APPEARANCE)


@pytest.fixture
def media_root(app) -> Path:
    return Path(app.config["DXCONNECT_SETTINGS"].media_root)


def stored_files(media_root: Path) -> list[str]:
    return sorted(p.name for p in media_root.glob("*")) if media_root.exists() else []


def upload(client, headers, data: bytes, kind: str = "logo", filename: str = "logo.png"):
    body = {"kind": kind, "file": (io.BytesIO(data), filename)}
    return client.post(UPLOAD, data=body, headers=headers, content_type="multipart/form-data")


def appearance(app) -> dict:
    with app.app_context():
        row = db.session.get(Configuration, 1)
        return dict(row.appearance_settings) if row else {}


@pytest.mark.parametrize(
    ("pillow_format", "content_type"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("WEBP", "image/webp"),
        ("GIF", "image/gif"),
        ("ICO", "image/x-icon"),
    ],
)
def test_accepted_image_is_stored_under_a_random_name_and_served_back(
    client, headers, app, media_root, pillow_format, content_type
):
    data = image_bytes(pillow_format)
    response = upload(client, headers, data, filename="../../etc/passwd.svg")
    assert response.status_code == 200, response.get_json()
    url = response.get_json()["url"]
    assert url.startswith("http://localhost/media/") and "passwd" not in url
    name = url.rsplit("/", 1)[1]
    assert stored_files(media_root) == [name]
    served = client.get(url)
    assert served.status_code == 200
    assert served.mimetype == content_type
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.data == data
    assert appearance(app)["login_logo_url"] == f"/media/{name}"
    section = client.get("/api/v1/config/appearance/", headers=headers).get_json()
    assert section["login_logo_url"] == url


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
REFUSED = [
    ("svg", SVG),
    ("html", b"<!DOCTYPE html><html><body>hi</body></html>"),
    ("script", b"alert(document.cookie)"),
    ("png-then-script", PNG + b"<script>alert(1)</script>"),
    ("png-then-html", PNG[:40] + b"<html><body onload=alert(1)>" + PNG[40:]),
    ("gif-header-then-script", b"GIF89a/*<script>alert(1)</script>*/"),
    ("truncated-png", PNG[: len(PNG) // 2]),
    ("png-header-only", PNG[:8]),
    ("jpeg-garbage", b"\xff\xd8\xff\xe0" + b"\x00" * 64),
    ("random", bytes(range(256)) * 4),
]


@pytest.mark.parametrize(("label", "data"), REFUSED, ids=[label for label, _ in REFUSED])
def test_files_that_are_not_plain_images_are_refused_and_nothing_is_stored(
    client, headers, app, media_root, label, data
):
    response = upload(client, headers, data, filename="logo.png")
    assert response.status_code == 400, label
    error = response.get_json()["error"]
    assert error["code"] == "INVALID_PAYLOAD" and "file" in error["details"]
    assert stored_files(media_root) == []
    assert appearance(app).get("login_logo_url", "") == ""


def test_empty_file_is_refused(client, headers, media_root):
    response = upload(client, headers, b"")
    assert response.status_code == 400
    assert response.get_json()["error"]["details"] == {"file": ["The file is empty."]}
    assert stored_files(media_root) == []


def test_file_over_2_mib_is_413(client, headers, media_root):
    too_big = PNG + b"\x00" * (2 * 1024 * 1024)
    response = upload(client, headers, too_big)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert stored_files(media_root) == []


def test_image_with_too_many_pixels_is_refused(client, headers, media_root):
    response = upload(client, headers, image_bytes("PNG", (5000, 5000)))
    assert response.status_code == 400
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"file": (io.BytesIO(PNG), "logo.png")}, "kind"),
        ({"kind": "banner", "file": (io.BytesIO(PNG), "logo.png")}, "kind"),
        ({"kind": "logo"}, "file"),
        ({"kind": "logo", "file": "not a file part"}, "file"),
    ],
)
def test_missing_or_bad_kind_or_file_is_400(client, headers, form, field):
    response = client.post(UPLOAD, data=form, headers=headers, content_type="multipart/form-data")
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]


def test_upload_needs_the_appearance_permission(client, headers_for, media_root):
    others = headers_for("bia", ["core.manage_config_company", "accounts.manage_auth"])
    response = upload(client, others, PNG)
    assert response.status_code == 403
    assert client.delete(f"{UPLOAD}?kind=logo", headers=others).status_code == 403
    assert stored_files(media_root) == []


def test_replacing_a_logo_deletes_the_old_file_and_keeps_the_favicon(
    client, headers, app, media_root
):
    first = upload(client, headers, PNG).get_json()["url"].rsplit("/", 1)[1]
    favicon = upload(client, headers, image_bytes("ICO"), kind="favicon").get_json()["url"]
    second = upload(client, headers, image_bytes("GIF")).get_json()["url"].rsplit("/", 1)[1]
    assert first not in stored_files(media_root)
    assert stored_files(media_root) == sorted([second, favicon.rsplit("/", 1)[1]])
    assert client.get(f"/media/{first}").status_code == 404
    assert appearance(app)["favicon_url"] == "/media/" + favicon.rsplit("/", 1)[1]


def test_deleting_an_upload_clears_the_field_and_leaves_no_orphan(client, headers, app, media_root):
    upload(client, headers, PNG)
    response = client.delete(f"{UPLOAD}?kind=logo", headers=headers)
    assert response.status_code == 204
    assert stored_files(media_root) == []
    assert appearance(app)["login_logo_url"] == ""
    assert client.delete(f"{UPLOAD}?kind=logo", headers=headers).status_code == 204
    bad = client.delete(f"{UPLOAD}?kind=banner", headers=headers)
    assert bad.status_code == 400 and "kind" in bad.get_json()["error"]["details"]


def test_clearing_the_url_through_patch_or_put_deletes_the_file(
    client, headers_for, app, media_root
):
    headers = headers_for(
        "ana",
        [f"core.manage_config_{s}" for s in ("company", "chat", "email", "appearance", "whatsapp")],
    )
    url = upload(client, headers, PNG).get_json()["url"]
    kept = client.patch(
        "/api/v1/config/appearance/",
        json={"login_logo_url": url, "primary_color": "#000"},
        headers=headers,
    )
    assert kept.status_code == 200 and kept.get_json()["login_logo_url"] == url
    assert len(stored_files(media_root)) == 1
    cleared = client.patch(
        "/api/v1/config/appearance/", json={"login_logo_url": ""}, headers=headers
    )
    assert cleared.status_code == 200
    assert stored_files(media_root) == []
    upload(client, headers, PNG, kind="favicon")
    assert client.put("/api/v1/config/", json={}, headers=headers).status_code == 200
    assert stored_files(media_root) == [] and appearance(app)["favicon_url"] == ""


def test_an_external_logo_url_may_be_set(client, headers, media_root):
    body = {"login_logo_url": "https://cdn.example.com/logo.png"}
    response = client.patch("/api/v1/config/appearance/", json=body, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["login_logo_url"] == "https://cdn.example.com/logo.png"


@pytest.mark.parametrize(
    "path",
    [
        "/media/nothing.png",
        "/media/..%2f..%2fetc%2fpasswd",
        "/media/0123456789abcdef0123456789abcdef.svg",
    ],
)
def test_media_route_serves_only_stored_files(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"


def test_uploaded_logo_is_served_back_by_the_live_server(live_server, make_agent):
    make_agent("ana", permissions=APPEARANCE)
    base = live_server.url
    token = requests.post(
        f"{base}/api/v1/auth/token/", json={"username": "ana", "password": PASSWORD}, timeout=5
    ).json()["access"]
    response = requests.post(
        f"{base}{UPLOAD}",
        data={"kind": "favicon"},
        files={"file": ("favicon.ico", image_bytes("ICO"), "application/octet-stream")},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert url.startswith(f"{base}/media/")
    served = requests.get(url, timeout=5)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/x-icon"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
