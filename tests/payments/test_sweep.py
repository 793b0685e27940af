"""A switch whose task was lost is queued again by the sweep; one that keeps failing ends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from shared.db import get_engine, utcnow
from shared.delivery import DeliveryStatus
from shared.events.catalog import SWITCH_PAYMENT_METHOD
from shared.models import RelinkCase
from shared.payments.switch_models import PaymentMethodSwitch
from sim.testing import SimServer
from worker.payments import service, tasks


def add_switch(age_seconds: float, status: str = DeliveryStatus.PENDING, **fields: Any) -> int:
    with Session(get_engine()) as db:
        case = RelinkCase(authorization_id=f"fcauth_{age_seconds}_{status}")
        db.add(case)
        db.flush()
        assert case.id is not None
        row = PaymentMethodSwitch(
            case_id=case.id,
            payment_method_id="pm_new",
            old_account_id="fca_old",
            status=status,
            created_at=utcnow() - timedelta(seconds=age_seconds),
            **fields,
        )
        db.add(row)
        db.commit()
        assert row.id is not None
        return row.id


def test_the_sweep_queues_only_switches_pending_longer_than_its_interval(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[tuple[str, list[Any]]] = []
    monkeypatch.setattr(tasks, "publish", lambda name, args: published.append((name, args)))
    lost = add_switch(age_seconds=600)
    add_switch(age_seconds=10)  # its task is still on its way
    add_switch(age_seconds=600, status=DeliveryStatus.SWITCHED)
    add_switch(age_seconds=600, status=DeliveryStatus.NOTHING_TO_SWITCH)
    assert tasks.sweep_payment_switches() == 1
    assert published == [(SWITCH_PAYMENT_METHOD, [lost])]


def test_a_switch_failing_run_after_run_ends_failed_at_the_last_run(
    db: None, sim: SimServer
) -> None:
    customer = sim.client.create_customer("ada@example.com")["id"]
    switch_id = add_switch(0, customer_id=customer, attempts=service.MAX_RUNS - 1)
    sim.client.set_faults(error_rate=1.0, path_prefix="/v1/customers/")
    assert service.switch_payment_method(switch_id) == DeliveryStatus.FAILED
    with Session(get_engine()) as db_session:
        row = db_session.get(PaymentMethodSwitch, switch_id)
        assert row is not None
        assert (row.attempts, row.last_error, row.steps) == (service.MAX_RUNS, "APIError 500", [])
        assert row.finished_at is not None
