"""The Postman collection is current and passes under newman against a live server."""

from __future__ import annotations

import importlib.util
import subprocess

from tests.conftest import PASSWORD, ROOT

POSTMAN = ROOT / ".postman"
NEWMAN = POSTMAN / "node_modules" / ".bin" / "newman"


def _builder():
    spec = importlib.util.spec_from_file_location("build_collection", POSTMAN / "build_collection.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_collection_is_what_the_builder_writes():
    builder = _builder()
    assert builder.COLLECTION.read_text(encoding="utf-8") == builder.render(builder.collection())
    assert builder.ENVIRONMENT.read_text(encoding="utf-8") == builder.render(builder.environment())
    assert (POSTMAN / "fixtures" / "logo.png").read_bytes() == builder.TINY_PNG


def test_collection_passes_under_newman(start_server, make_agent):
    assert NEWMAN.exists(), "newman is installed by `make install` (npm ci in .postman/)"
    server = start_server(LOGIN_RATE_LIMIT="100 per minute", WHATSAPP_STUB_FAST="1")
    make_agent("postman-admin", superuser=True)
    result = subprocess.run(
        [
            str(NEWMAN), "run", "dxconnect.postman_collection.json",
            "-e", "dxconnect.postman_environment.json",
            "--env-var", f"baseUrl={server.url}",
            "--env-var", "username=postman-admin",
            "--env-var", f"password={PASSWORD}",
            "--working-dir", str(POSTMAN), "--color", "off", "--bail",
        ],
        cwd=POSTMAN, check=False, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "assertions" in result.stdout
