"""The driver conformance suite: what the core relies on from every WhatsApp driver.

Subclass :class:`DriverConformance` in a class whose name starts with ``Test``
and set :attr:`~DriverConformance.driver_class` (override
:meth:`~DriverConformance.make_driver` to pass options). Every check drives the
driver through a :class:`~dxconnect.testing.context.RecordingContext`, as the
core would, with no Flask app and no database.
"""

from __future__ import annotations

import ast
import base64
import binascii
import inspect
import itertools
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from dxconnect.events.envelope import VERSION
from dxconnect.testing.context import RecordingContext
from dxconnect.whatsapp.driver import (
    MESSAGE_STATUSES,
    MESSAGE_TYPES,
    SESSION_STATUSES,
    OutboundMessage,
    WhatsAppDriver,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Modules a driver must not import: drivers know nothing of Flask or the database.
FORBIDDEN_IMPORTS = ("flask", "flask_sqlalchemy", "sqlalchemy", "psycopg", "psycopg2",
                     "dxconnect.extensions", "dxconnect.models", "dxconnect.app")  # fmt: skip
#: The healthy lifecycle, in order (``failed`` may end it).
LIFECYCLE = ("connecting", "qrcode", "authenticated", "ready")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def sample_content(message_type: str) -> dict[str, Any]:
    """The fields of a message of ``message_type`` (contract section 3)."""
    if message_type == "text":
        return {"text": "Olá! Conformance check — ção"}
    extension = {"image": "png", "video": "mp4", "audio": "ogg", "document": "pdf"}[message_type]
    return {
        "media_url": f"https://files.example.com/conformance.{extension}",
        "caption": "conformance",
        "filename": f"conformance.{extension}",
    }


def _ordered(statuses: list[str], order: tuple[str, ...]) -> bool:
    positions = [order.index(status) for status in statuses]
    return all(a < b for a, b in itertools.pairwise(positions))


class DriverConformance:
    """Checks any :class:`~dxconnect.whatsapp.driver.WhatsAppDriver` against the core's expectations."""

    #: The driver under test.
    driver_class: ClassVar[type[WhatsAppDriver]]
    #: What ``context.settings`` holds (the WhatsApp configuration section).
    settings: ClassVar[Mapping[str, Any]] = {"device_name": "DXConnect"}
    #: A recipient that must accept messages.
    recipient: ClassVar[str] = "5511987654321"
    #: The sender used for inbound injection.
    sender: ClassVar[str] = "5511912345678"
    #: Longest wait for any expected event.
    timeout: ClassVar[float] = 10.0
    #: How long "nothing more happens" is watched.
    quiet_seconds: ClassVar[float] = 0.3

    def make_driver(self, context: RecordingContext) -> WhatsAppDriver:
        """Build the driver under test (override to pass options such as a short step delay)."""
        return self.driver_class(context)

    @pytest.fixture
    def context(self) -> RecordingContext:
        """A fresh recording context."""
        return RecordingContext(self.settings)

    @pytest.fixture
    def driver(self, context: RecordingContext) -> Iterator[WhatsAppDriver]:
        """A fresh driver, stopped after the test; every event it emitted must be valid."""
        driver = self.make_driver(context)
        yield driver
        driver.stop_session()
        assert context.errors == [], f"the driver emitted invalid events: {context.errors}"

    def start_ready(self, driver: WhatsAppDriver, context: RecordingContext) -> None:
        """Start the session and wait until it is ready."""
        driver.start_session()
        context.wait_for(
            lambda: driver.status() == "ready", "the session to be ready", self.timeout
        )

    def send(self, driver: WhatsAppDriver, message_type: str, to: str | None = None) -> str:
        """Send a sample message of ``message_type``; returns its id."""
        message_id = uuid.uuid4().hex
        driver.send_message(
            OutboundMessage(
                message_id, to or self.recipient, message_type, sample_content(message_type)
            )
        )
        return message_id

    def test_driver_is_a_named_whatsapp_driver(self) -> None:
        assert issubclass(self.driver_class, WhatsAppDriver)
        assert not inspect.isabstract(self.driver_class), "the driver leaves methods abstract"
        assert isinstance(self.driver_class.name, str) and _NAME.match(self.driver_class.name), (
            f"driver name {self.driver_class.name!r} must be lowercase letters, digits, _ . -"
        )

    def test_capabilities_are_contract_message_types(self) -> None:
        declared = self.driver_class.capabilities.message_types
        assert declared, "a driver must send at least one message type"
        assert set(declared) <= set(MESSAGE_TYPES), (
            f"unknown types: {set(declared) - set(MESSAGE_TYPES)}"
        )

    def test_driver_imports_neither_flask_nor_the_database(self) -> None:
        source = Path(inspect.getfile(self.driver_class))
        files = source.parent.rglob("*.py") if source.name == "__init__.py" else [source]
        imported = set()
        for path in files:
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    imported.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imported.add(node.module)
        forbidden = sorted(
            name for name in imported
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IMPORTS)
        )  # fmt: skip
        assert forbidden == [], f"drivers must not import {forbidden}"

    def test_a_new_driver_is_disconnected_and_silent(
        self, driver: WhatsAppDriver, context: RecordingContext
    ) -> None:
        assert driver.status() == "disconnected"
        assert context.events == []

    def test_session_walks_the_lifecycle_in_order_to_ready(
        self, driver: WhatsAppDriver, context: RecordingContext
    ) -> None:
        self.start_ready(driver, context)
        statuses = context.session_statuses()
        assert statuses[-1] == "ready" and all(s in LIFECYCLE for s in statuses), statuses
        assert _ordered(statuses, LIFECYCLE), f"statuses must only move forward: {statuses}"
        assert driver.status() == "ready"

    def test_qrcode_events_carry_a_png_before_authentication(
        self, driver: WhatsAppDriver, context: RecordingContext
    ) -> None:
        self.start_ready(driver, context)
        if "qrcode" in context.session_statuses():
            assert context.of_type("qrcode"), "status qrcode was reported without a qrcode event"
        types = [(e["type"], e.get("status")) for e in context.events]
        after_login = next(i for i, t in enumerate(types) if t[1] in ("authenticated", "ready"))
        for index, event in enumerate(context.events):
            if event["type"] != "qrcode":
                continue
            assert index < after_login, "a qrcode event came after authentication"
            try:
                image = base64.b64decode(event["image_b64"], validate=True)
            except (binascii.Error, TypeError) as error:
                pytest.fail(f"image_b64 is not base64: {error}")
            assert image.startswith(PNG_SIGNATURE), "image_b64 is not a PNG"

    def test_starting_a_ready_session_keeps_it_ready(
        self, driver: WhatsAppDriver, context: RecordingContext
    ) -> None:
        self.start_ready(driver, context)
        before = len(context.session_statuses())
        driver.start_session()
        time.sleep(self.quiet_seconds)
        assert driver.status() == "ready"
        assert set(context.session_statuses()[before:]) <= {"ready"}

    def test_every_declared_message_type_is_sent_and_statuses_only_move_forward(
        self, driver: WhatsAppDriver, context: RecordingContext
    ) -> None:
        self.start_ready(driver, context)
        sent = {
            t: self.send(driver, t) for t in sorted(self.driver_class.capabilities.message_types)
        }
        for message_type, message_id in sent.items():
            context.wait_for(
                lambda message_id=message_id: (
                    "sent" in context.message_statuses(message_id)
                    or "failed" in context.message_statuses(message_id)
                ),
                f"the {message_type} message to be sent",
                self.timeout,
            )
        time.sleep(self.quiet_seconds)
        for message_type, message_id in sent.items():
            statuses = context.message_statuses(message_id)
            assert "failed" not in statuses, f"a declared type ({message_type}) failed: {statuses}"
            assert _ordered(statuses, MESSAGE_STATUSES), f"{message_type}: {statuses} went back"

    def test_inbound_injection_matches_the_declared_capability(
        self, driver: WhatsAppDriver, context: RecordingContext
    ) -> None:
        self.start_ready(driver, context)
        payload = {"type": "text", "text": "Bom dia! ção"}
        if not self.driver_class.capabilities.inbound_injection:
            with pytest.raises(NotImplementedError):
                driver.inject_inbound(self.sender, payload)
            return
        driver.inject_inbound(self.sender, payload)
        context.wait_for(lambda: context.of_type("message_received"), "the injected message")
        received = context.of_type("message_received")[-1]
        assert received["from"] == self.sender and received["payload"] == payload
        assert isinstance(received["message_id"], str) and received["message_id"]
        assert isinstance(received["chat_id"], str) and received["chat_id"]

    def test_stop_is_idempotent_and_silences_the_driver(
        self, driver: WhatsAppDriver, context: RecordingContext
    ) -> None:
        self.start_ready(driver, context)
        self.send(driver, "text")
        driver.stop_session()
        assert driver.status() == "disconnected"
        assert context.session_statuses()[-1] == "disconnected"
        seen = len(context.events)
        driver.stop_session()
        time.sleep(self.quiet_seconds)
        assert driver.status() == "disconnected"
        assert context.events[seen:] == [], "events after stop_session"

    def test_stop_before_start_is_harmless(
        self, driver: WhatsAppDriver, context: RecordingContext
    ) -> None:
        driver.stop_session()
        assert driver.status() == "disconnected"

    def test_stop_while_connecting_cancels_the_lifecycle(
        self, driver: WhatsAppDriver, context: RecordingContext
    ) -> None:
        driver.start_session()
        driver.stop_session()
        seen = len(context.events)
        time.sleep(self.quiet_seconds)
        assert driver.status() == "disconnected" and context.events[seen:] == []

    def test_session_starts_again_after_stop(
        self, driver: WhatsAppDriver, context: RecordingContext
    ) -> None:
        self.start_ready(driver, context)
        driver.stop_session()
        self.start_ready(driver, context)

    def test_every_event_is_a_unique_v1_envelope(
        self, driver: WhatsAppDriver, context: RecordingContext
    ) -> None:
        self.start_ready(driver, context)
        self.send(driver, min(self.driver_class.capabilities.message_types))
        time.sleep(self.quiet_seconds)
        assert context.errors == []
        assert all(event["version"] == VERSION for event in context.events)
        assert len({event["id"] for event in context.events}) == len(context.events)
        assert all(s in SESSION_STATUSES for s in context.session_statuses())


class FailingSendConformance(DriverConformance):
    """The conformance suite plus the failure path, for drivers with a documented way to fail a send."""

    #: Sending to this recipient must end ``failed`` with an ``error``.
    failing_recipient: ClassVar[str]

    def test_a_send_to_the_failing_recipient_ends_failed_with_an_error(
        self, driver: WhatsAppDriver, context: RecordingContext
    ) -> None:
        self.start_ready(driver, context)
        message_id = self.send(driver, "text", to=self.failing_recipient)
        context.wait_for(
            lambda: "failed" in context.message_statuses(message_id),
            "the send to fail",
            self.timeout,
        )
        time.sleep(self.quiet_seconds)
        assert context.message_statuses(message_id)[-1] == "failed", "a status followed failed"
        failure = [e for e in context.of_type("message_status") if e["message_id"] == message_id][
            -1
        ]
        assert isinstance(failure.get("error"), str) and failure["error"], failure
