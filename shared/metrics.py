"""Prometheus metrics the api and the worker share: the repair funnel's steps, webhook →
processed and webhook → email-sent latencies.

Each is counted after the commit that made it true (a rolled-back transaction counts
nothing, a retried one counts once). With PROMETHEUS_MULTIPROC_DIR set (prefork workers,
several api processes) every process writes its own files there and `export_registry()` sums
them; the api's /metrics/ and the worker's WORKER_METRICS_PORT serve that sum.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from shared.cases.lifecycle import REPAIRED_RESOLUTIONS as REPAIRED_RESOLUTIONS
from shared.cases.lifecycle import resolution_step as resolution_step
from shared.db import session_scope
from shared.payments import money

FUNNEL_STEPS = (
    "deactivated", "emailed", "link_opened", "session_started",
    "relinked", "new_account_saved", "gave_up", "unrepairable",
)  # fmt: skip
FUNNEL = Counter("relink_funnel", "Cases reaching a step of the repair funnel", ["step"])
WEBHOOK_TO_PROCESSED = Histogram(
    "relink_webhook_to_processed_seconds",
    "From a webhook's receipt to its event processed",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
WEBHOOK_TO_EMAIL_SENT = Histogram(
    "relink_webhook_to_email_sent_seconds",
    "From the deactivation webhook's receipt to the case's first email sent",
    buckets=(1, 5, 15, 30, 60, 90, 120, 300, 600, 1800, 3600, 4 * 3600, 86400),
)
SMTP_LOGINS_REFUSED = Counter(
    "relink_smtp_logins_refused",
    "SMTP logins the server refused (5xx to AUTH); sending then pauses EMAIL_LOGIN_PAUSE_SECONDS",
)
INVOICE_RECOVERIES = Counter(
    "relink_invoice_recoveries",
    "Invoices relink paid again after a repair (retried), and how they ended",
    ["outcome"],
)
RECOVERY_OUTCOMES = ("retried", "recovered", "failed", "closed")
_PENDING = "relink_metrics_pending"


def after_commit(session: Session, record: Callable[[], None]) -> None:
    """Run `record` when `session` commits; forget it if the session rolls back."""
    session.info.setdefault(_PENDING, []).append(record)


def count_step(session: Session, step: str) -> None:
    assert step in FUNNEL_STEPS, step
    after_commit(session, FUNNEL.labels(step=step).inc)


def count_recovery(session: Session, outcome: str) -> None:
    assert outcome in RECOVERY_OUTCOMES, outcome
    after_commit(session, INVOICE_RECOVERIES.labels(outcome=outcome).inc)


def observe_since(session: Session, histogram: Histogram, start: datetime, end: datetime) -> None:
    seconds = max(0.0, (end - start).total_seconds())
    after_commit(session, lambda: histogram.observe(seconds))


def _record_pending(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the commit is still to come
        return
    for record in session.info.pop(_PENDING, []):
        record()


def _discard_pending(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint rolled back: see shared.queue.savepoint
        return
    session.info.pop(_PENDING, None)


# Registered once, at import: a listener added lazily while another thread commits mutates
# the deque SQLAlchemy is iterating ("deque mutated during iteration" in the receiver).
event.listen(Session, "after_commit", _record_pending)
event.listen(Session, "after_rollback", _discard_pending)


class MoneyCollector(Collector):
    """The money at stake, read from the database at each scrape (shared/payments/money.py): a level
    no process holds, so not a per-process gauge. Per currency, in minor units:
    `relink_revenue_at_risk_minor_units{currency, kind="monthly"|"failed_invoices"}` over
    the broken cases, and `relink_revenue_recovered_minor_units_total{currency}`. Nothing
    while the database is unreachable."""

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        at_risk, recovered = self._families()
        try:
            with session_scope() as db:
                figures = money.revenue(db)
        except SQLAlchemyError:
            return
        for row in figures.at_risk:
            at_risk.add_metric([row.currency, "monthly"], row.monthly)
            at_risk.add_metric([row.currency, "failed_invoices"], row.failed_due)
        for currency, amount in figures.recovered.items():
            recovered.add_metric([currency], amount)
        yield at_risk
        yield recovered

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, CounterMetricFamily]:
        return (
            GaugeMetricFamily(
                "relink_revenue_at_risk_minor_units",
                "Money at stake on the broken bank accounts, per currency (minor units): "
                "monthly subscription revenue, and due on the invoices that failed there",
                labels=["currency", "kind"],
            ),
            CounterMetricFamily(
                "relink_revenue_recovered_minor_units",
                "Paid invoices relink paid again after a repair, per currency (minor units)",
                labels=["currency"],
            ),
        )


MONEY = MoneyCollector()


def export_registry(*, money_at_stake: bool = False) -> CollectorRegistry:
    """What /metrics/ serves: this process's registry, or every process's files summed; with
    `money_at_stake` (the api's, so one process serves it) the money read from the database."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        if money_at_stake:
            with contextlib.suppress(ValueError):  # already registered by an earlier app
                REGISTRY.register(MONEY)
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    if money_at_stake:
        registry.register(MONEY)
    return registry
