"""Production server settings: ``gunicorn -c gunicorn.conf.py wsgi:app``.

gevent workers hold many WebSockets cheaply (one greenlet each, no thread per
socket). Command-line ``-w``/``-b`` override what is set here.
Without ``REDIS_URL`` the event bus is in-process, so one worker is the default.
"""

import _thread
import os
import resource
import shutil
import signal
import sys
import tempfile

bind = os.environ.get("BIND", "0.0.0.0:8001")
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY") or (2 if os.environ.get("REDIS_URL") else 1))
# Must exceed the WebSockets one worker holds: at the limit, requests hang.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "12000"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Each worker listens on its own socket (SO_REUSEPORT) and the kernel spreads new connections
# across them. On one shared socket, the worker that happens to be awake accepts a burst of
# connections alone: with keep-alive, one worker can serve every client while the others idle.
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "1") != "0"
# The app writes its own JSON access line per request; gunicorn's would repeat it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Never preload: psycopg would pick a blocking wait before gevent patches it.
preload_app = False
# gunicorn 27's control socket has one fixed path per user: several servers on one host
# (replicas, tests) would fight over it. We don't use it.
control_socket_disable = True
#: How long a gevent worker yields between two requests (see post_request).
YIELD_SECONDS = 1e-6

# Workers share their Prometheus values through files in this directory (multiprocess
# mode). It must be set before any worker imports prometheus_client, so here, in the
# master, as the config loads. A fresh directory per server start unless the operator
# names one (then it must be dedicated to this server and emptied before each start).
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="dxconnect-metrics-")


def on_starting(server):
    """Let each worker hold as many sockets as the hard file limit allows (often 1024 soft)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def child_exit(server, worker):
    """Drop the dead worker's live gauges (open WebSockets) from the metrics; counters stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory this server created."""
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_worker_init(worker):
    """Start the WhatsApp session runner in this worker (after the fork, never in the
    master); on SIGTERM, close the worker's WebSockets with 1001 (going away) and stop the
    runner, then drain.

    gunicorn only stops accepting and waits for handlers to end; WebSocket
    handlers end when their sockets close, so close them at once.
    """
    from dxconnect.realtime import close_all
    from dxconnect.whatsapp.runtime import start_in_worker, stop_in_worker

    start_in_worker(worker.wsgi)
    gunicorn_exit = worker.handle_exit

    def handle_exit(sig, frame):
        gunicorn_exit(sig, frame)
        # A signal handler must not block (under gevent it runs in the event loop):
        # start_new_thread spawns a greenlet (or a thread) without waiting for it.
        _thread.start_new_thread(close_all, (worker.wsgi,))
        # Stop dispatching now; what the runner claimed but did not send goes back to the queue.
        _thread.start_new_thread(stop_in_worker, (worker.wsgi,))

    signal.signal(signal.SIGTERM, handle_exit)


def worker_exit(server, worker):
    """Make sure the runner stopped (and released the lease) before the worker process ends."""
    from dxconnect.whatsapp.runtime import stop_in_worker

    stop_in_worker(worker.wsgi)


def post_request(worker, req, environ, resp):
    """Under gevent, let the worker's other connections run before this one's next request.

    A greenlet only yields when a socket would block. A keep-alive client that
    sends its next request while the answer to the previous one is being
    finished never makes it block, so one connection can keep the worker to
    itself while the others wait (the symptom: a sub-millisecond median with a
    p99 of hundreds of milliseconds and client timeouts). ``sleep(0)`` would only
    let greenlets that are already runnable go first; any positive delay waits
    for the event loop's next iteration, which polls every socket.
    """
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("socket"):
        import gevent

        gevent.sleep(YIELD_SECONDS)
