"""Metrics read from the database at scrape time: shared state, right across processes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from dxconnect.extensions import db
from dxconnect.models.events import DeadLetter
from dxconnect.models.whatsapp import WhatsAppMessage, WhatsAppSession
from dxconnect.whatsapp.driver import SESSION_STATUSES

log = logging.getLogger("dxconnect.metrics")


class DatabaseCollector(Collector):
    """Messages by status, the WhatsApp session status and stored dead letters per sink.

    Must be collected inside an app context. When the database cannot be read,
    these metrics are left out of the scrape (and a warning is logged).
    """

    def collect(self) -> Iterator[Metric]:
        """Yield the database metrics (nothing when the database is unreachable)."""
        try:
            metrics = [self._messages(), self._session(), self._dead_letters()]
        except SQLAlchemyError:
            db.session.rollback()
            log.warning("metrics: database unreachable, its metrics are left out", exc_info=True)
            return
        yield from metrics

    @staticmethod
    def _messages() -> Metric:
        return _counted_by(
            "dxconnect_whatsapp_messages", "Stored WhatsApp messages by status.",
            "status", WhatsAppMessage.status,
        )  # fmt: skip

    @staticmethod
    def _session() -> Metric:
        family = GaugeMetricFamily(
            "dxconnect_whatsapp_session_status",
            "1 for the WhatsApp session's current status, 0 for the others.",
            labels=["status"],
        )
        current = db.session.scalar(sa.select(WhatsAppSession.status)) or "disconnected"
        for status in SESSION_STATUSES:
            family.add_metric([status], 1 if status == current else 0)
        return family

    @staticmethod
    def _dead_letters() -> Metric:
        return _counted_by(
            "dxconnect_sink_dead_letters", "Dead letters stored, by sink.", "sink", DeadLetter.sink
        )


def _counted_by(name: str, documentation: str, label: str, column: Any) -> Metric:
    """A gauge of row counts per value of ``column`` (``SELECT column, count(*) ... GROUP BY``)."""
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in db.session.execute(sa.select(column, sa.func.count()).group_by(column)):
        family.add_metric([value], count)
    return family
