"""A separate process consuming the bus, for the competing-consumer tests.

``python -m tests.bus_consumer GROUP [--die]`` builds the app from the
environment, consumes ``GROUP`` and records each event it handles by pushing
``"<pid> <event id>"`` to the Redis list ``handled:GROUP``. With ``--die`` it
kills itself (SIGKILL, no acknowledgement) on its first event instead.
Prints ``ready`` once consuming.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

import redis

from dxconnect import create_app
from dxconnect.events.bus import get_bus


def main() -> None:
    """Consume until killed."""
    group, die = sys.argv[1], "--die" in sys.argv[2:]
    app = create_app()
    store = redis.Redis.from_url(os.environ["REDIS_URL"])

    def handle(event: dict[str, Any]) -> None:
        if die:
            os.kill(os.getpid(), signal.SIGKILL)
        store.rpush(f"handled:{group}", f"{os.getpid()} {event['id']}")

    get_bus(app).consume(group, handle)
    print("ready", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
