"""HTTP benchmark: our endpoints against a bare WSGI app, side by side in one run.

Three servers run from ``gunicorn.conf.py`` (same worker class, same worker
count): the bare WSGI app (the reference of the goals), a minimal Flask app
(Flask's own floor, for reading the health figure) and ours. ``wrk`` drives 32
connections at each target in turn, every measurement is repeated and the
medians are reported, with each one's requests/s as a share of the bare app's. The servers run the default ``stub`` driver with
``WHATSAPP_RUNNER=0``: posted messages are stored, queued and their event
published, and stay queued.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.common import DATABASE_URL, Setup, prepare, start_server
from tests.conftest import LiveServer

CONNECTIONS = 32
#: One load-generator thread: it saturates the servers, and a second one would compete with
#: the two workers for the 2 cores (descheduling a gevent worker stalls all its connections).
THREADS = 1
MESSAGE_BODY = '{"to": "5511999999999", "type": "text", "text": "bench"}'
POST_SCRIPT = f"""wrk.method = "POST"
wrk.body = '{MESSAGE_BODY}'
wrk.headers["Content-Type"] = "application/json"
"""
#: Share of the bare app's requests/s each endpoint aims at, and its p99 target (ms).
TARGETS = {"health": (0.50, 50.0), "me": (0.25, 50.0), "messages": (0.08, None)}
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Run:
    """One wrk run: throughput, latency percentiles (ms), answers that were not 2xx/3xx."""

    rps: float
    p50: float
    p99: float
    requests: int
    errors: int


@dataclass
class Target:
    """One thing to measure: a URL, and wrk's extra arguments for it."""

    name: str
    path: str
    args: list[str]


def _ms(text: str) -> float:
    """``"1.23ms"`` / ``"850.00us"`` / ``"1.02s"`` as milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def parse_wrk(output: str) -> Run:
    """The figures of one ``wrk --latency`` report."""
    percentiles = dict(re.findall(r"^ +(50|99)% +(\S+) *$", output, re.M))
    if len(percentiles) != 2:
        raise RuntimeError(f"unexpected wrk report:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)$", output, re.M)
    if socket_errors:
        print(f"      wrk socket errors: {socket_errors.group(1)}")
    return Run(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50=_ms(percentiles["50"]),
        p99=_ms(percentiles["99"]),
        requests=int(re.search(r"(\d+) requests in", output).group(1)),  # type: ignore[union-attr]
        errors=int(errors.group(1)) if errors else 0,
    )


def wrk(url: str, args: list[str], seconds: int) -> Run:
    """Run ``wrk -t1 -c32 --latency`` against ``url`` for ``seconds``."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", *args, url]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30)
    return parse_wrk(done.stdout)


def targets(token: str, script: Path) -> list[Target]:
    """The bare app, the minimal Flask app, then our three endpoints (the authenticated ones
    with ``token``)."""
    bearer = ["-H", f"Authorization: Bearer {token}"]
    return [
        Target("bare", "/", []),
        Target("flask", "/api/v1/health/", []),
        Target("health", "/api/v1/health/", []),
        Target("me", "/api/v1/me/", bearer),
        Target("messages", "/api/v1/whatsapp/messages", [*bearer, "-s", str(script)]),
    ]


def stored_messages() -> int:
    """Rows in the message outbox (every accepted POST must be one)."""
    with psycopg.connect(DATABASE_URL) as conn:
        return conn.execute("SELECT count(*) FROM whatsapp_messages").fetchone()[0]  # type: ignore[index]


def median_run(runs: list[Run]) -> Run:
    """Per figure, the median of ``runs``; request and error counts summed."""
    med: Callable[[Callable[[Run], float]], float] = lambda f: statistics.median(map(f, runs))  # noqa: E731
    return Run(
        rps=med(lambda r: r.rps),
        p50=med(lambda r: r.p50),
        p99=med(lambda r: r.p99),
        requests=sum(r.requests for r in runs),
        errors=sum(r.errors for r in runs),
    )


def verdict(name: str, run: Run, bare: Run) -> str:
    """Whether ``run`` meets the targets of ``name``, as the share of the bare app."""
    share = run.rps / bare.rps
    if name not in TARGETS:
        return f"{share:6.1%}"
    floor, p99 = TARGETS[name]
    met = share >= floor and (p99 is None or run.p99 < p99)
    return f"{share:6.1%}  target >= {floor:.0%}{f', p99 < {p99:.0f} ms' if p99 else ''}: " + (
        "met" if met else "MISSED"
    )


def measure(setup: Setup, workers: int, seconds: int, repeats: int, script: Path) -> None:
    """Every server up at once; each target ``repeats`` times in turn; medians printed."""
    bare = LiveServer(setup.env, workers=workers, wsgi="bench.bare_app:app")
    flask = LiveServer(setup.env, workers=workers, wsgi="bench.minimal_flask:app")
    ours = start_server(setup, workers)
    references = {"bare": bare, "flask": flask}
    plan = targets(setup.token, script)
    runs: dict[str, list[Run]] = {target.name: [] for target in plan}
    try:
        before = stored_messages()
        for target in plan:  # warm up: pools, caches, imports
            wrk(references.get(target.name, ours).url + target.path, target.args, 2)
        warmed = stored_messages()
        for _ in range(repeats):
            for target in plan:
                server = references.get(target.name, ours)
                runs[target.name].append(wrk(server.url + target.path, target.args, seconds))
        stored = stored_messages() - warmed
    finally:
        for server in (ours, *references.values()):
            server.stop()
    medians = {name: median_run(r) for name, r in runs.items()}
    print(
        f"  {workers} worker(s), {CONNECTIONS} connections, {repeats} x {seconds} s each, medians:"
    )
    for name, run in medians.items():
        print(
            f"    {name:9s} {run.rps:8.0f} req/s  p50 {run.p50:6.2f} ms  p99 {run.p99:6.2f} ms  "
            f"non-2xx {run.errors:<5d} {verdict(name, run, medians['bare'])}"
        )
        if len(runs[name]) > 1:
            print(f"              runs: {', '.join(f'{r.rps:.0f}' for r in runs[name])} req/s")
    accepted = sum(r.requests - r.errors for r in runs["messages"])
    print(
        f"    messages: {accepted} answered 202 in the measured runs, {stored} rows stored "
        f"(warm-up stored {warmed - before}; rows >= answers: requests cut off at the end still commit)"
    )


def run(quick: bool = False) -> None:
    """Entry point for ``python -m bench http``."""
    print("== HTTP: health, me, message send vs a bare WSGI app (wrk) ==")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    seconds, repeats, worker_counts = (3, 1, (2,)) if quick else (10, 3, (2, 1))
    print(f"  {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    setup = prepare(WHATSAPP_RUNNER="0")
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(POST_SCRIPT)
        script.flush()
        for workers in worker_counts:
            measure(setup, workers, seconds, repeats, Path(script.name))
    print(f"  load average at the end {os.getloadavg()[0]:.1f}")
