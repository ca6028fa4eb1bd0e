"""A second reference for the HTTP benchmark: the smallest Flask app answering our liveness path.

Served like the others (``gunicorn -c gunicorn.conf.py bench.minimal_flask:app``), it shows
what Flask's own per-request machinery (request context, routing, response object) costs
on this machine, with none of ours: the floor under ``GET /api/v1/health/``.
"""

from __future__ import annotations

from flask import Flask, Response

BODY = b'{"status":"ok"}'

app = Flask(__name__)


@app.get("/api/v1/health/")
def liveness() -> Response:
    """The constant liveness body."""
    return Response(BODY, mimetype="application/json")
