"""On a Connect platform the Customer and its invoices live on the case's connected
account: every call of the recovery carries its Stripe-Account, and only that account's
invoice events settle its payments."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from shared.db import get_engine, session_scope
from shared.models import FcAccount, RelinkCase
from shared.payments.recovery_models import PaymentRecovery
from sim.testing import SimServer
from tests.payments.conftest import configure
from worker.inbox.handlers import on_invoice_settled
from worker.recovery import service


def test_a_connected_accounts_invoices_are_paid_on_that_account_only(
    db: None, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, recover_failed_payments="true")
    acct = sim.client.create_connected_account("platform@example.com")["id"]
    on_acct = sim.client.on_account(acct)
    customer = on_acct.create_customer("ada@example.com")["id"]
    auth = on_acct.create_authorization({"type": "customer", "customer": customer}, n_accounts=1)
    [broken] = auth["accounts"]
    old = on_acct.create_payment_method(broken, customer)["id"]
    invoice = on_acct.create_invoice(customer, 3000, failed_on=old)["id"]
    with Session(get_engine()) as session:
        session.add(
            FcAccount(
                id=broken,
                stripe_account=acct,
                authorization_id=auth["id"],
                holder_type="customer",
                holder_id=customer,
                status="active",
            )
        )
        case = RelinkCase(authorization_id=auth["id"], account_id=broken, stripe_account=acct)
        session.add(case)
        session.commit()
        assert case.id is not None
        case_id = case.id
    sim.client.clear_requests()

    assert service.recover_payments(case_id) == 1

    made = sim.client.requests("/v1/")
    assert [r["route"] for r in made] == [
        "GET /v1/invoices",
        "GET /v1/invoices/{id}",
        "POST /v1/invoices/{id}/pay",
    ]
    assert {r["stripe_account"] for r in made} == {acct}
    settled = on_acct.settle_invoice(invoice)
    event = {"id": "evt_1", "type": "invoice.paid", "data": {"object": settled}}
    with session_scope() as session:
        on_invoice_settled(session, event)  # the platform's own invoice of that id: not ours
    assert status_of(invoice) == "processing"
    with session_scope() as session:
        on_invoice_settled(session, {**event, "account": acct})
    assert status_of(invoice) == "recovered"


def status_of(invoice: str) -> str:
    with Session(get_engine()) as session:
        [row] = session.exec(select(PaymentRecovery)).all()
    assert row.invoice_id == invoice
    return row.status
