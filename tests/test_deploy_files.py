"""Static checks of the container and compose files (no Docker engine runs here).

The files are parsed with PyYAML as written, and merged by the real Compose binary
(``docker-compose config``, from PyPI) the way ``docker compose up`` would see them.
The Dockerfile goes through hadolint and the shell scripts through ShellCheck.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy_files import (
    ROOT,
    TOOLS_PATH,
    dockerfile_stages,
    env_example,
    exec_form,
    load_compose,
)

CONTAINER_PORT = 8001


def run_tool(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """A linter or the compose binary from the virtualenv, with a clean environment."""
    env = {"PATH": TOOLS_PATH, "HOME": str(cwd)}
    return subprocess.run(
        argv, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def compose_config(tmp_path: Path, *files: str, profile: str | None = None) -> dict[str, Any]:
    """The merged model ``docker compose`` builds from ``files``, with .env.production from .env.example."""
    for name in ("docker-compose.yml", "docker-compose.prod.yml", "deploy"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, tmp_path / name)
    values = {**env_example(optional=False), "SECRET_KEY": "s" * 48}
    (tmp_path / ".env.production").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    argv = ["docker-compose", "--project-name", "dxconnect"]
    argv += [arg for name in files for arg in ("-f", name)]
    argv += ["--profile", profile] if profile else []
    result = run_tool(*argv, "config", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def published_ports(service: dict[str, Any]) -> list[tuple[str, int]]:
    """``(host port, container port)`` of every published port of a merged service."""
    return [(port.get("published"), port["target"]) for port in service.get("ports", [])]


# --- Dockerfile -------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint_which_does_catch_mistakes(tmp_path):
    result = run_tool("hadolint", "--no-color", "Dockerfile")
    assert (result.returncode, result.stdout) == (0, ""), result.stdout
    sloppy = tmp_path / "Dockerfile"
    sloppy.write_text("FROM python:latest\nRUN cd /tmp && pip install flask\nUSER root\n")
    found = run_tool("hadolint", "--no-color", str(sloppy))
    assert found.returncode != 0
    assert {"DL3007", "DL3003", "DL3013", "DL3002"} <= set(re.findall(r"DL\d{4}", found.stdout))


def test_runtime_image_is_a_separate_stage_running_as_non_root():
    stages = dockerfile_stages()
    build, runtime = stages[0], stages[-1]
    assert len(stages) >= 2 and runtime.name == "runtime"
    assert {stage.base for stage in stages} == {"${PYTHON_IMAGE}"}
    assert "--from=build /wheels" in " ".join(runtime.all("COPY"))
    # The build stage wheels the core and every plugin of the repo.
    assert any("plugins/*/" in run and "pip wheel" in run for run in build.all("RUN"))
    user = runtime.last("USER").split(":")[0]
    assert user.isdigit() and int(user) > 0


def test_runtime_image_checks_health_and_serves_with_the_gunicorn_config():
    runtime = dockerfile_stages()[-1]
    assert runtime.last("EXPOSE") == str(CONTAINER_PORT)
    healthcheck = runtime.last("HEALTHCHECK")
    assert f"http://127.0.0.1:{CONTAINER_PORT}/api/v1/health/" in healthcheck
    assert exec_form(healthcheck.split(" CMD ", 1)[1])[0] == "python"
    assert exec_form(runtime.last("CMD")) == ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    entrypoint = exec_form(runtime.last("ENTRYPOINT"))
    assert entrypoint == ["./docker-entrypoint.sh"]
    assert (ROOT / "docker-entrypoint.sh").stat().st_mode & 0o111
    assert "DXCONNECT_ENV=production" in runtime.last("ENV")


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether ``.dockerignore`` ``patterns`` keep ``path`` out of the build context."""
    ignored = False
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").replace("**/", "*")
        if any(fnmatch.fnmatch(candidate, glob) for candidate in candidates):
            ignored = not negated
    return ignored


def test_every_file_the_dockerfile_copies_exists_in_the_build_context():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = []
    for stage in dockerfile_stages():
        for copy in stage.all("COPY"):
            if "--from=" in copy:
                continue
            sources += [word for word in copy.split()[:-1] if not word.startswith("--")]
    assert "wsgi.py" in sources and "migrations" in sources
    for source in sources:
        matches = [source] if source == "." else [p for p in ROOT.glob(source) if p.exists()]
        assert matches, f"COPY source {source} does not exist"
        assert source == "." or not dockerignored(source, patterns), f"{source} is dockerignored"
    # The test stage copies the whole tree: the files its tests read must be in it.
    for needed in (".env.example", "deploy/nginx.conf", "scripts/backup.sh", "tests/conftest.py"):
        assert not dockerignored(needed, patterns), needed
    assert dockerignored(".env.production", patterns) and dockerignored(".venv/bin", patterns)


def test_shell_scripts_pass_shellcheck():
    scripts = sorted(
        str(p.relative_to(ROOT)) for p in ROOT.glob("**/*.sh") if ".venv" not in p.parts
    )
    assert {"docker-run.sh", "docker-entrypoint.sh", "scripts/backup.sh"} <= set(scripts)
    result = run_tool("shellcheck", "--external-sources", *scripts)
    assert result.returncode == 0, result.stdout


# --- Compose files as written -----------------------------------------------------------------


def test_dev_compose_runs_web_on_8001_after_healthy_db_and_redis():
    compose = load_compose("docker-compose.yml")
    services = compose["services"]
    web, db, redis = services["web"], services["db"], services["redis"]
    assert web["ports"] == [f"{CONTAINER_PORT}:{CONTAINER_PORT}"]
    assert web["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert web["environment"]["DXCONNECT_ENV"] == "development"
    assert web["build"]["target"] == "runtime"
    assert int(re.search(r"postgres:(\d+)", db["image"]).group(1)) >= 15
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert db["healthcheck"]["test"][0] == "CMD-SHELL"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "pgdata:/var/lib/postgresql/data" in db["volumes"]
    assert "media:/app/media" in web["volumes"]
    assert {"pgdata", "media"} <= set(compose["volumes"])
    assert "ports" not in db and "ports" not in redis
    assert services["tests"]["profiles"] == ["test"]


def test_prod_override_takes_secrets_from_env_production_and_replaces_dev_settings():
    services = load_compose("docker-compose.prod.yml")["services"]
    web = services["web"]
    assert web["env_file"] == [".env.production"]
    assert web["environment"]["tag"] == "!override"
    inline = web["environment"]["value"]
    assert inline["DXCONNECT_ENV"] == "production"
    assert not {"SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL"} & set(inline)
    assert web["ports"] == {"tag": "!reset", "value": []}
    assert services["db"]["env_file"] == [".env.production"]
    assert "POSTGRES_PASSWORD" not in services["db"]["environment"]["value"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["nginx"]["volumes"]


# --- Compose files merged by the Compose binary -----------------------------------------------


def test_compose_merges_the_dev_stack(tmp_path):
    services = compose_config(tmp_path, "docker-compose.yml")["services"]
    assert set(services) == {"web", "db", "redis"}
    assert published_ports(services["web"]) == [(str(CONTAINER_PORT), CONTAINER_PORT)]
    assert services["web"]["environment"]["REDIS_URL"] == "redis://redis:6379/0"


def test_compose_merges_the_test_profile(tmp_path):
    tests = compose_config(tmp_path, "docker-compose.yml", profile="test")["services"]["tests"]
    assert tests["build"]["target"] == "test"
    assert tests["environment"]["TEST_DATABASE_URL"].startswith("postgresql://")
    assert set(tests["depends_on"]) == {"db", "redis"}


def test_compose_merges_production_with_replicas_behind_nginx_only(tmp_path):
    services = compose_config(tmp_path, "docker-compose.yml", "docker-compose.prod.yml")["services"]
    assert set(services) == {"web", "db", "redis", "nginx"}
    assert {name for name, service in services.items() if service.get("ports")} == {"nginx"}
    assert published_ports(services["nginx"]) == [("80", 80)]
    assert all(service["restart"] == "unless-stopped" for service in services.values())
    web = services["web"]
    assert web["deploy"]["replicas"] >= 2
    env = web["environment"]
    assert env["DXCONNECT_ENV"] == "production"
    assert env["TRUSTED_PROXY_COUNT"] == "1"
    # Several replicas share events and login throttling only through Redis.
    assert env["REDIS_URL"].startswith("redis://redis:")
    assert env["SECRET_KEY"] == "s" * 48
    assert env["DATABASE_URL"] == env_example()["DATABASE_URL"]
    db_env = services["db"]["environment"]
    assert db_env["POSTGRES_PASSWORD"] == env_example()["POSTGRES_PASSWORD"] != "dxconnect"
    assert env["DATABASE_URL"].startswith(
        f"postgresql://dxconnect:{db_env['POSTGRES_PASSWORD']}@db"
    )
    assert services["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_compose_refuses_production_without_env_production(tmp_path):
    compose_config(tmp_path, "docker-compose.yml")
    (tmp_path / ".env.production").unlink()
    result = run_tool(
        "docker-compose", "-f", "docker-compose.yml", "-f", "docker-compose.prod.yml", "config",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0
    assert ".env.production" in result.stderr


# --- Monitoring -------------------------------------------------------------------------------


def test_prometheus_example_scrapes_metrics_with_the_bearer_token():
    text = (ROOT / "monitoring" / "prometheus.yml").read_text()
    (job,) = yaml.safe_load(text)["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert job["authorization"]["credentials_file"]
    assert "METRICS_TOKEN" in text
    assert job["dns_sd_configs"][0]["port"] == CONTAINER_PORT


def test_newman_service_runs_the_postman_collection_against_web(tmp_path):
    newman = compose_config(tmp_path, "docker-compose.yml", profile="test")["services"]["newman"]
    assert newman["image"].startswith("postman/newman:")
    assert newman["depends_on"]["web"]["condition"] == "service_healthy"
    command = newman["command"]
    assert command[:2] == ["run", "dxconnect.postman_collection.json"]
    assert "baseUrl=http://web:8001" in command
    (mount,) = newman["volumes"]
    assert mount["target"] == "/etc/newman" and mount["source"].endswith(".postman")
    assert (ROOT / ".postman" / "dxconnect.postman_collection.json").is_file()
