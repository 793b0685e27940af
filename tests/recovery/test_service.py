"""RECOVER_FAILED_PAYMENTS against the simulator: the invoices that failed on the broken
account are paid once each with the working PaymentMethod; the outcome comes from the
invoice events or the sweep; each step is on the timeline and is a platform event."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlmodel import Session, select

from api.platform_api.service import get_case
from cli.cases import case_timeline
from shared.db import get_engine, session_scope
from shared.delivery import DeliveryStatus
from shared.events.catalog import RECOVER_PAYMENTS
from shared.models import FcAccount, RelinkCase
from shared.payments.recovery_models import PaymentRecovery
from shared.payments.switch_models import PaymentMethodSwitch
from shared.platform_webhooks.models import PlatformEvent
from sim.testing import SimServer
from tests.payments.conftest import PLATFORM_SECRET, configure
from tests.payments.pages import save_new_payment_method
from tests.relink_page.world import World
from worker.cases.service import resolve_case
from worker.inbox.handlers import on_invoice_settled
from worker.payments.service import switch_payment_method
from worker.recovery import service

PAY = "POST /v1/invoices/{id}/pay"


def enable(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    configure(
        monkeypatch,
        recover_failed_payments="true",
        platform_webhook_url="https://platform.example/hooks",
        platform_webhook_secrets=PLATFORM_SECRET,
        **env,
    )


def failed_world(sim: SimServer, world: World) -> dict[str, str]:
    """Two invoices failed on the broken account's PaymentMethod (one will fail again), one
    voided since, one failed on an account of another bank, one too old, one paid."""
    old = sim.client.create_payment_method(world.accounts[0], world.customer)["id"]
    other_auth = sim.client.create_authorization(
        {"type": "customer", "customer": world.customer}, n_accounts=1
    )
    other = sim.client.create_payment_method(other_auth["accounts"][0], world.customer)["id"]
    make = sim.client.create_invoice
    found = {
        "old": old,
        "first": make(world.customer, 1500, failed_on=old, age_days=3)["id"],
        "second": make(world.customer, 2500, failed_on=old, age_days=1, ach_outcome="failed")["id"],
        "void": make(world.customer, 700, failed_on=old)["id"],
        "elsewhere": make(world.customer, 900, failed_on=other)["id"],
        "too_old": make(world.customer, 400, failed_on=old, age_days=45)["id"],
    }
    sim.client.close_invoice(found["void"], "void")
    return found


def pays(sim: SimServer) -> list[dict[str, Any]]:
    return [r for r in sim.client.requests("/v1/") if r["route"] == PAY]


def rows(case_id: int) -> dict[str, PaymentRecovery]:
    with Session(get_engine()) as db:
        found = db.exec(select(PaymentRecovery).where(PaymentRecovery.case_id == case_id))
        return {row.invoice_id: row for row in found}


def counted(outcome: str) -> float:
    value = REGISTRY.get_sample_value("relink_invoice_recoveries_total", {"outcome": outcome})
    return value or 0.0


def platform_types() -> list[str]:
    with Session(get_engine()) as db:
        return [
            e.type for e in db.exec(select(PlatformEvent)) if e.type.startswith("relink.invoice.")
        ]


def test_each_failed_invoice_is_paid_once_and_its_outcome_recorded(
    world: World, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    enable(monkeypatch)
    found = failed_world(sim, world)
    sim.client.clear_requests()
    before = {outcome: counted(outcome) for outcome in ("retried", "recovered", "failed")}
    assert service.recover_payments(world.case_id) == 2
    sent = pays(sim)
    assert sorted(r["path"] for r in sent) == sorted(
        f"/v1/invoices/{found[k]}/pay" for k in ("first", "second")
    )
    assert {r["params"]["payment_method"] for r in sent} == {found["old"]}  # repaired: works
    assert {r["idempotency_key"] for r in sent} == {
        service.idempotency_key(world.case_id, found[k]) for k in ("first", "second")
    }
    calls = Counter(r["route"] for r in sim.client.requests("/v1/"))
    print("stripe calls of one recovery:", dict(calls))
    # one list, one read per open invoice young enough (the one failed elsewhere too), a pay each
    assert calls == {"GET /v1/invoices": 1, "GET /v1/invoices/{id}": 3, PAY: 2}

    assert service.recover_payments(world.case_id) == 0  # the task again: nothing sent
    assert len(pays(sim)) == 2
    assert {k: r.status for k, r in rows(world.case_id).items()} == {
        found["first"]: "processing",
        found["second"]: "processing",
    }
    for key in ("first", "second"):
        settled = sim.client.settle_invoice(found[key])
        kind = "invoice.paid" if settled["status"] == "paid" else "invoice.payment_failed"
        with session_scope() as db:
            on_invoice_settled(db, {"id": "evt_1", "type": kind, "data": {"object": settled}})
    recorded = rows(world.case_id)
    assert recorded[found["first"]].status == "recovered"
    assert recorded[found["second"]].status == "failed"  # ACH failure: reported
    assert service.recover_payments(world.case_id) == 0  # ... and not retried
    assert len(pays(sim)) == 2
    assert {o: counted(o) - n for o, n in before.items()} == {
        "retried": 2,
        "recovered": 1,
        "failed": 1,
    }
    assert sorted(platform_types()) == sorted(
        ["relink.invoice.retried"] * 2 + ["relink.invoice.recovered", "relink.invoice.retry_failed"]
    )
    timeline = case_timeline(world.case_id)  # `relink cases show`
    assert timeline is not None
    entries = [e for e in timeline["timeline"] if e["kind"] == "invoice"]
    whats = [e["what"] for e in entries]
    with Session(get_engine()) as db:  # the platform API reads the same timeline
        detail = get_case(db, world.case_id, "", sees_pii=False)
        retry_failed = [
            e for e in db.exec(select(PlatformEvent)) if e.type.endswith("retry_failed")
        ]
    assert detail is not None
    from_api = [(e.id, e.what) for e in detail.timeline if e.kind == "invoice"]
    assert from_api == [(e["id"], e["what"]) for e in entries]
    assert Counter(whats) == {
        "invoice retried": 2,
        "invoice recovered": 1,
        "invoice retry failed": 1,
    }
    data = json.loads(retry_failed[0].payload)["data"]
    assert data["invoice"] == {
        "id": found["second"],
        "customer": world.customer,
        "amount_due": 2500,
        "currency": "usd",
    }
    assert data["reason"] == "payment_failed"
    assert data["failed_payment_method"] == found["old"]


def test_the_sweep_reads_back_a_payment_the_events_did_not_report(
    world: World, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    enable(monkeypatch)
    found = failed_world(sim, world)
    service.recover_payments(world.case_id)
    assert service.sweep(older_than_seconds=0) == 0  # still processing
    sim.client.settle_invoice(found["first"])
    sim.client.settle_invoice(found["second"])
    time.sleep(0.01)
    assert service.sweep(older_than_seconds=0) == 2
    assert {r.status for r in rows(world.case_id).values()} == {"recovered", "failed"}


def test_at_most_max_invoices_per_case_and_an_invoice_voided_meanwhile_is_left_alone(
    world: World, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    enable(monkeypatch, recovery_max_invoices="1")
    found = failed_world(sim, world)
    assert service.recover_payments(world.case_id) == 1
    assert list(rows(world.case_id)) == [found["first"]]  # the oldest
    assert service.recover_payments(world.case_id) == 0
    assert [r["path"] for r in pays(sim)] == [f"/v1/invoices/{found['first']}/pay"]


def test_a_switch_pays_with_the_new_payment_method(
    world: World, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    enable(monkeypatch)
    found = failed_world(sim, world)
    new = sim.client.create_payment_method(world.accounts[1], world.customer)["id"]
    assert service.recover_payments(world.case_id, new) == 2
    assert {r["params"]["payment_method"] for r in pays(sim)} == {new}
    assert {r.failed_payment_method_id for r in rows(world.case_id).values()} == {found["old"]}


def test_a_holder_less_account_has_nothing_to_recover(
    world: World, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    enable(monkeypatch)
    failed_world(sim, world)
    with session_scope() as db:
        for account in db.exec(select(FcAccount)):
            account.holder_type, account.holder_id = None, None
    assert service.recover_payments(world.case_id) == 0
    assert pays(sim) == []


def test_off_by_default_and_a_repair_queues_it_when_on(
    world: World, sim: SimServer, published: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    failed_world(sim, world)
    assert service.recover_payments(world.case_id) == 0
    with session_scope() as db:
        case = db.get(RelinkCase, world.case_id)
        assert case is not None
        resolve_case(db, case, "reactivated")
    assert not [t for t, _ in published if t == RECOVER_PAYMENTS]
    enable(monkeypatch)
    with session_scope() as db:
        case = db.get(RelinkCase, world.case_id)
        assert case is not None
        resolve_case(db, case, "reactivated")
    assert (RECOVER_PAYMENTS, [world.case_id, None]) in published
    assert pays(sim) == []


def test_a_successful_switch_queues_the_recovery_with_the_new_payment_method(
    client: TestClient,
    world: World,
    sim: SimServer,
    published: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enable(monkeypatch, payment_method_switch="customer_default")
    new = save_new_payment_method(client, world, sim)
    assert not [t for t, _ in published if t == RECOVER_PAYMENTS]  # the page only asks
    with Session(get_engine()) as db:
        switch = db.exec(select(PaymentMethodSwitch)).one()
    assert switch.id is not None
    assert switch_payment_method(switch.id) == DeliveryStatus.SWITCHED
    assert (RECOVER_PAYMENTS, [world.case_id, new]) in published
