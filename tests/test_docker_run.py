"""``docker-run.sh`` runs the right ``docker compose`` command for each verb.

No Docker engine exists here, so a stand-in ``docker`` executable first on PATH records
the arguments, working directory and environment it was called with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy_files import ROOT

VERBS = ("build", "start", "stop", "migrate", "createsuperuser", "logs", "test")
FAKE_DOCKER = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["FAKE_DOCKER_RECORD"], "w") as record:
    json.dump({{"argv": sys.argv[1:], "cwd": os.getcwd(),
               "compose_file": os.environ.get("COMPOSE_FILE")}}, record)
sys.exit(int(os.environ.get("FAKE_DOCKER_EXIT", "0")))
"""


def run(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Run docker-run.sh from a foreign folder; return the result and what docker recorded."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    record = tmp_path / "record.json"
    record.unlink(missing_ok=True)
    result = subprocess.run(
        [str(ROOT / "docker-run.sh"), *args],
        check=False,
        cwd=tmp_path,
        env={
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_DOCKER_RECORD": str(record),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result, json.loads(record.read_text()) if record.exists() else {}


IN_WEB = ["compose", "exec", "web", "flask", "--app", "wsgi"]
PYTEST = ["compose", "--profile", "test", "run", "--rm", "tests", "python", "-m", "pytest"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["build"], ["compose", "build"]),
        (["start"], ["compose", "up", "-d"]),
        (["start", "--build"], ["compose", "up", "-d", "--build"]),
        (["stop"], ["compose", "down"]),
        (["migrate"], [*IN_WEB, "db", "upgrade"]),
        (["createsuperuser"], [*IN_WEB, "create-superuser"]),
        (
            ["createsuperuser", "--username", "ana"],
            [*IN_WEB, "create-superuser", "--username", "ana"],
        ),
        (["logs"], ["compose", "logs", "--follow", "web"]),
        (["logs", "db", "redis"], ["compose", "logs", "--follow", "db", "redis"]),
        (["test"], PYTEST),
        (["test", "-k", "auth", "-x"], [*PYTEST, "-k", "auth", "-x"]),
    ],
)
def test_each_verb_runs_its_docker_compose_command_from_the_project_folder(
    tmp_path, args, expected
):
    result, called = run(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert called["argv"] == expected
    assert called["cwd"] == str(ROOT)


def test_help_lists_exactly_the_tested_verbs_without_calling_docker(tmp_path):
    result, called = run(tmp_path, "help")
    assert (result.returncode, called) == (0, {})
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")}
    assert listed == set(VERBS)


@pytest.mark.parametrize("args", [["deploy"], [], ["--start"]])
def test_unknown_or_missing_verb_prints_usage_and_exits_2_without_calling_docker(tmp_path, args):
    result, called = run(tmp_path, *args)
    assert result.returncode == 2
    assert called == {}
    assert "Usage: ./docker-run.sh VERB" in result.stderr
    assert all(f"  {verb}" in result.stderr for verb in VERBS)
    if args:
        assert f"unknown verb '{args[0]}'" in result.stderr


def test_docker_failure_is_the_exit_status(tmp_path):
    result, called = run(tmp_path, "migrate", FAKE_DOCKER_EXIT="3")
    assert called["argv"][:3] == ["compose", "exec", "web"]
    assert result.returncode == 3


def test_production_files_reach_compose_through_compose_file(tmp_path):
    files = "docker-compose.yml:docker-compose.prod.yml"
    _, called = run(tmp_path, "start", COMPOSE_FILE=files)
    assert called["compose_file"] == files
