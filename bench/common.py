"""What the benchmarks share: a prepared database and agent, live servers, measurements."""

from __future__ import annotations

import os
import resource
import secrets
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flask_migrate import upgrade

from dxconnect import create_app
from dxconnect.accounts.agents import create_agent
from dxconnect.accounts.tokens import issue_tokens
from tests.conftest import LiveServer, recreate_database

#: The benchmarks drop and recreate this database, and flush this Redis database.
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/dxconnect_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


@dataclass
class Setup:
    """The environment the servers run with, and an agent's access token."""

    env: dict[str, str]
    token: str


def prepare(**overrides: str) -> Setup:
    """Fresh, migrated database and empty Redis; one agent with a long-lived access token."""
    import redis

    recreate_database(DATABASE_URL)
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {
        "DXCONNECT_ENV": "development",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "JWT_ACCESS_TOKEN_SECONDS": "7200",
        "LOG_LEVEL": "warning",
        **overrides,
    }
    app = create_app(env)
    with app.app_context():
        upgrade()
        agent = create_agent("bench", secrets.token_urlsafe(16), is_superuser=True)
        token = issue_tokens(agent)["access"]
    return Setup(env=env, token=token)


def start_server(setup: Setup, workers: int) -> LiveServer:
    """A gunicorn server from the production config (gevent) on a free port."""
    return LiveServer(setup.env, workers=workers)


def raise_file_limit() -> int:
    """Raise this process's open-file limit to the hard limit (clients need one per socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def rss_kib(pids: Iterable[int]) -> int:
    """Resident memory of ``pids`` together, in KiB."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def summary_ms(values: Sequence[float]) -> str:
    """``p50 / p99 / max`` of durations in seconds, as milliseconds."""
    if not values:
        return "no samples"
    return (
        f"p50 {percentile(values, 50) * 1000:.1f} ms, p99 {percentile(values, 99) * 1000:.1f} ms, "
        f"max {max(values) * 1000:.1f} ms (mean {statistics.fmean(values) * 1000:.1f})"
    )
