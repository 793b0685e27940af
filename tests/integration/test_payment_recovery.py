"""Recovering the payments that failed while the bank link was broken, end to end: the
simulator's signed webhooks, the real api and Celery worker (with beat), PostgreSQL, Redis;
the platform told with verified Standard Webhooks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
from celery import Celery

from shared.events.catalog import RECOVER_PAYMENTS
from sim.testing import SimServer
from tests.integration.smtp import SmtpSink
from tests.integration.stack import Stack, wait_until
from tests.integration.test_reactivation import authorization, link_in, relink_through_the_page
from tests.platform_webhooks.receiver import OLD_SECRET, SECRET, Receiver
from worker.recovery.service import idempotency_key

PAY = "POST /v1/invoices/{id}/pay"
INVOICE_ROUTES = ("GET /v1/invoices", "GET /v1/invoices/{id}", PAY)


@pytest.fixture
def stack_env(receiver: Receiver) -> dict[str, str]:
    return {
        "RECOVER_FAILED_PAYMENTS": "true",
        "RECOVERY_SWEEP_EVERY_SECONDS": "3600",  # the outcome comes from the invoice events
        "QUIET_PERIOD_SECONDS": "1",
        "EMAIL_SWEEP_EVERY_SECONDS": "1",
        "PLATFORM_WEBHOOK_URL": receiver.url,
        "PLATFORM_WEBHOOK_SECRETS": f"{SECRET},{OLD_SECRET}",
        "PLATFORM_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
        "PLATFORM_WEBHOOK_SWEEP_EVERY_SECONDS": "1",
    }


def recoveries(pg: psycopg.Connection) -> dict[str, str]:
    rows = pg.execute("SELECT invoice_id, status FROM payment_recovery ORDER BY id").fetchall()
    return {str(invoice): str(status) for invoice, status in rows}


def pays(sim: SimServer) -> list[dict[str, Any]]:
    return [r for r in sim.client.requests("/v1/") if r["route"] == PAY]


def test_a_relinked_customer_s_two_failed_invoices_are_paid_once_each(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    receiver: Receiver,
    pg: psycopg.Connection,
    tmp_path: Path,
) -> None:
    stack.start_worker(beat=True)
    auth = authorization(sim, n_accounts=1)
    customer = str(auth["account_holder"]["customer"])
    old = sim.client.create_payment_method(auth["accounts"][0], customer)["id"]
    # the debits on the deactivated account failed; one invoice is voided before the repair
    paid = sim.client.create_invoice(customer, 4900, failed_on=old, age_days=2)["id"]
    failing = sim.client.create_invoice(customer, 1900, failed_on=old, ach_outcome="failed")["id"]
    voided = sim.client.create_invoice(customer, 900, failed_on=old)["id"]
    sim.client.close_invoice(voided, "void")
    sim.client.deactivate_authorization(str(auth["id"]))
    [message] = smtp.wait_for(1, timeout=60)

    relink_through_the_page(stack, sim, link_in(stack, message))  # clears the request log
    wait_until(
        lambda: recoveries(pg) == {paid: "processing", failing: "processing"}, 60, "two payments"
    )
    [case_id] = [row[0] for row in pg.execute("SELECT id FROM relink_case")]
    sent = pays(sim)
    assert sorted(r["path"] for r in sent) == sorted(
        [f"/v1/invoices/{paid}/pay", f"/v1/invoices/{failing}/pay"]
    )
    assert {r["params"]["payment_method"] for r in sent} == {old}  # the repaired account's
    assert sorted(r["idempotency_key"] for r in sent) == sorted(
        idempotency_key(case_id, invoice) for invoice in (paid, failing)
    )
    calls = Counter(r["route"] for r in sim.client.requests("/v1/") if r["route"] in INVOICE_ROUTES)
    print("stripe calls of one recovery (two failed invoices, one voided):", dict(calls))
    assert calls == {"GET /v1/invoices": 1, "GET /v1/invoices/{id}": 2, PAY: 2}

    # the task again (a redelivered message): no pay call (it lists the open invoices only)
    broker = Celery(broker=stack.env["CELERY_BROKER_URL"])
    broker.send_task(RECOVER_PAYMENTS, args=[case_id, None], queue="relink")
    worker_log = tmp_path / "worker0.log"
    wait_until(
        lambda: worker_log.read_text(errors="replace").count("payment_recovery ") >= 2,
        30,
        "the second run",
    )
    assert len(pays(sim)) == 2

    # the ACH debits settle: one paid, one returned (reported, never retried)
    sim.client.settle_invoice(paid)
    sim.client.settle_invoice(failing)
    wait_until(
        lambda: recoveries(pg) == {paid: "recovered", failing: "failed"}, 60, "both outcomes"
    )

    def invoice_events() -> list[dict[str, Any]]:
        return [p for p in receiver.payloads() if p["type"].startswith("relink.invoice.")]

    wait_until(lambda: len(invoice_events()) == 4, 60, "four relink.invoice.* webhooks")
    told = Counter((p["type"], p["data"]["invoice"]["id"]) for p in invoice_events())
    assert told == {
        ("relink.invoice.retried", paid): 1,
        ("relink.invoice.retried", failing): 1,
        ("relink.invoice.recovered", paid): 1,
        ("relink.invoice.retry_failed", failing): 1,
    }
    assert len(pays(sim)) == 2
    assert not [r for r in sim.client.requests("/v1/") if voided in r["path"]]
    assert sim.client.invoice(voided)["status"] == "void"
    assert sim.client.invoice(paid)["status"] == "paid"
    assert sim.client.invoice(failing)["status"] == "open"
