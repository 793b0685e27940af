"""Invoices and their PaymentIntents, as the simulator serves them in every status relink
meets (open after a failed attempt, processing, paid, failed again, void, uncollectible), are
valid against Stripe's spec; so are `invoice.paid` / `invoice.payment_failed` and the errors
of paying an invoice that cannot be paid."""

from __future__ import annotations

from typing import Any

import requests

from sim.testing import SimServer
from tests.conformance.conftest import GA, Read
from tests.conformance.schemas import assert_valid, errors_against, list_of
from tests.conformance.test_responses import world

EXPAND = "payments.data.payment.payment_intent"


def failed_invoices(sim: SimServer) -> dict[str, Any]:
    found = world(sim)
    customer = found["customer"]
    pm = sim.client.create_payment_method(found["accounts"][0], customer)["id"]
    paid = sim.client.create_invoice(customer, 1200, failed_on=pm)["id"]
    failing = sim.client.create_invoice(customer, 900, failed_on=pm, ach_outcome="failed")["id"]
    void = sim.client.create_invoice(customer, 500, failed_on=pm)["id"]
    sim.client.close_invoice(void, "void")
    uncollectible = sim.client.create_invoice(customer, 300, failed_on=pm)["id"]
    sim.client.close_invoice(uncollectible, "uncollectible")
    return {"customer": customer, "pm": pm, "paid": paid, "failing": failing, "void": void}


def pay(sim: SimServer, invoice: str, pm: str, key: str = "k") -> requests.Response:
    return requests.post(
        f"{sim.base_url}/v1/invoices/{invoice}/pay",
        headers={"Authorization": f"Bearer {sim.api_key}", "Idempotency-Key": key},
        data={"payment_method": pm},
        timeout=10,
    )


def test_invoices_in_every_status_with_their_payment_intents(sim: SimServer, read: Read) -> None:
    found = failed_invoices(sim)
    for invoice in (found["paid"], found["failing"]):
        paying = pay(sim, invoice, found["pm"], key=f"pay-{invoice}")
        assert paying.status_code == 200, paying.text
        assert_valid("invoice", paying.json())
        assert paying.json()["status"] == "open"  # ACH: processing, not yet paid
        processing = read("GET", f"/v1/invoices/{invoice}", **{"expand[]": EXPAND})
        assert_valid("invoice", processing)
        intent = processing["payments"]["data"][0]["payment"]["payment_intent"]
        assert intent["status"] == "processing"
        sim.client.settle_invoice(invoice)
    paid = read("GET", f"/v1/invoices/{found['paid']}", **{"expand[]": EXPAND})
    assert paid["status"] == "paid"
    assert paid["payments"]["data"][0]["status"] == "paid"
    failed = read("GET", f"/v1/invoices/{found['failing']}", **{"expand[]": EXPAND})
    assert failed["status"] == "open"
    error = failed["payments"]["data"][0]["payment"]["payment_intent"]["last_payment_error"]
    assert error["payment_method"]["id"] == found["pm"]
    assert error["code"] == "insufficient_funds"  # the retried debit: a plain return
    first = failed["payments"]["data"][1]["payment"]["payment_intent"]["last_payment_error"]
    blocked = first["payment_method"]["us_bank_account"]["status_details"]["blocked"]
    assert blocked["reason"] == "tokenized_account_number_deactivated"
    for version in (GA, "2026-09-30.preview"):
        page = read(
            "GET",
            "/v1/invoices",
            version,
            customer=found["customer"],
            **{"expand[]": "data.payments"},
        )
        assert len(page["data"]) == 4
        assert errors_against(list_of("invoice"), page) == []
        for invoice in page["data"]:
            assert_valid("invoice", read("GET", f"/v1/invoices/{invoice['id']}", version))
    opened = read("GET", "/v1/invoices", customer=found["customer"], status="open")
    assert {i["id"] for i in opened["data"]} == {found["failing"]}


def test_paying_a_paid_or_void_invoice_is_stripes_400(sim: SimServer) -> None:
    found = failed_invoices(sim)
    assert pay(sim, found["paid"], found["pm"], key="first").status_code == 200
    sim.client.settle_invoice(found["paid"])
    for invoice, message in ((found["paid"], "already paid"), (found["void"], "voided")):
        refused = pay(sim, invoice, found["pm"], key=f"again-{invoice}")
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert message in error["message"]
        assert errors_against({"$ref": "#/components/schemas/api_errors"}, error) == []
    assert pay(sim, "in_missing", found["pm"], key="missing").status_code == 404


def test_a_replayed_pay_starts_no_second_attempt(sim: SimServer, read: Read) -> None:
    found = failed_invoices(sim)
    first = pay(sim, found["failing"], found["pm"], key="same")
    again = pay(sim, found["failing"], found["pm"], key="same")
    assert again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    invoice = read("GET", f"/v1/invoices/{found['failing']}", **{"expand[]": "payments"})
    assert invoice["attempt_count"] == 2  # the failed attempt and this one, not three


def test_settling_emits_the_invoice_events(sim: SimServer, read: Read) -> None:
    found = failed_invoices(sim)
    for invoice in (found["paid"], found["failing"]):
        assert pay(sim, invoice, found["pm"], key=f"pay-{invoice}").status_code == 200
        sim.client.settle_invoice(invoice)
    page = read("GET", "/v1/events", type="invoice.*")
    assert {e["type"] for e in page["data"]} == {"invoice.paid", "invoice.payment_failed"}
    for event in page["data"]:
        assert_valid("event", event)
        assert_valid("invoice", event["data"]["object"])
