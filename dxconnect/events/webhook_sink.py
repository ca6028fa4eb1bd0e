"""Built-in ``webhook`` sink (a default plugin): POST each event, signed, to ``WEBHOOK_URL``.

Signatures follow the Standard Webhooks scheme: headers ``webhook-id`` (the
event id, the same on every retry), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` = ``v1,`` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")).
The key is ``WEBHOOK_SECRET`` base64-decoded when it starts with ``whsec_``,
otherwise its UTF-8 bytes. Network errors, timeouts, 408, 429 and 5xx answers
are retried with backoff; other answers (redirects included) are dead-lettered
at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from dxconnect.events.sink import EventSink, PermanentSinkFailure
from dxconnect.hookspecs import hookimpl
from dxconnect.settings import Settings, SettingsError

SECRET_PREFIX = "whsec_"
#: Answers worth retrying besides every 5xx.
RETRYABLE_STATUSES = (408, 429)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: a webhook never turns into a GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def signing_key(secret: str) -> bytes:
    """The HMAC key of ``secret`` (``whsec_<base64>`` or any other string)."""
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :])
    return secret.encode("utf-8")


def signature_headers(key: bytes, event_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The ``webhook-id``/``-timestamp``/``-signature`` headers of one delivery."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode("ascii"),
    }


class WebhookFailed(Exception):
    """The receiver answered with a status worth retrying."""


class WebhookSink(EventSink):
    """POSTs every event as JSON to ``WEBHOOK_URL``, signed with ``WEBHOOK_SECRET``."""

    name = "webhook"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        for variable, value in (
            ("WEBHOOK_URL", settings.webhook_url),
            ("WEBHOOK_SECRET", settings.webhook_secret),
        ):
            if not value:
                raise SettingsError(f"{variable} is required when EVENT_SINKS includes webhook")
        self.url = str(settings.webhook_url)
        self.key = signing_key(str(settings.webhook_secret))
        self.timeout = settings.webhook_timeout_seconds
        self.max_attempts = settings.webhook_max_attempts
        self.backoff_seconds = settings.webhook_backoff_ms / 1000
        self.receiver = urlsplit(self.url).hostname or "receiver"

    def deliver(self, event: Mapping[str, Any]) -> None:
        """POST ``event``; raise on anything but a 2xx answer."""
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = signature_headers(self.key, str(event["id"]), body, int(time.time()))
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "dxconnect-webhook",
                **headers,
            },
        )
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        if 200 <= status < 300:
            return
        message = f"webhook receiver {self.receiver} answered {status}"
        if status >= 500 or status in RETRYABLE_STATUSES:
            raise WebhookFailed(message)
        raise PermanentSinkFailure(message)


@hookimpl(trylast=True)
def dxconnect_event_sinks() -> list[type[EventSink]]:
    """The built-in ``webhook`` sink."""
    return [WebhookSink]
