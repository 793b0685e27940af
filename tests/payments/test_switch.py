"""PAYMENT_METHOD_SWITCH: the customer's default and the broken account's subscriptions move
to the PaymentMethod saved on the relink page, once, by the worker; never by the page."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.platform_api.service import get_case
from cli.cases import case_timeline
from shared.db import get_engine
from shared.delivery import DeliveryStatus
from shared.events.catalog import SWITCH_PAYMENT_METHOD
from shared.models import FcAccount
from shared.payments.switch_models import PaymentMethodSwitch
from shared.platform_webhooks.models import PlatformEvent
from sim.testing import SimServer
from tests.payments.conftest import PLATFORM_SECRET, configure
from tests.payments.pages import billing_world, save_new_payment_method
from tests.relink_page.world import World
from worker.payments import service

WRITES = ("/v1/customers/", "/v1/subscriptions/", "/v1/payment_methods/")


def switch_row(case_id: int) -> PaymentMethodSwitch:
    with Session(get_engine()) as db:
        return db.exec(
            select(PaymentMethodSwitch).where(PaymentMethodSwitch.case_id == case_id)
        ).one()


def switch_id(case_id: int) -> int:
    found = switch_row(case_id).id
    assert found is not None
    return found


def writes(sim: SimServer) -> list[dict[str, Any]]:
    """The POSTs relink sent to the customer, subscription and payment method endpoints."""
    return [
        r
        for r in sim.client.requests("/v1/")
        if r["method"] == "POST" and r["path"].startswith(WRITES)
    ]


def test_a_saved_payment_method_switches_the_default_and_matching_subscriptions_once(
    client: TestClient,
    world: World,
    sim: SimServer,
    published: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(monkeypatch, payment_method_switch="customer_default,subscriptions")
    billing = billing_world(sim, world)
    new = save_new_payment_method(client, world, sim)
    assert writes(sim) == []  # the page only asks: the worker writes
    row = switch_row(world.case_id)
    assert (SWITCH_PAYMENT_METHOD, [row.id]) in published
    assert (row.customer_id, row.old_account_id) == (world.customer, world.accounts[0])

    sim.client.clear_requests()
    assert service.switch_payment_method(switch_id(world.case_id)) == DeliveryStatus.SWITCHED
    calls = [(r["method"], r["route"]) for r in sim.client.requests("/v1/")]
    assert (
        service.switch_payment_method(switch_id(world.case_id)) == DeliveryStatus.SWITCHED
    )  # the task again
    assert [(r["method"], r["route"]) for r in sim.client.requests("/v1/")] == calls

    assert sim.client.customer(world.customer)["invoice_settings"]["default_payment_method"] == new
    for status in ("active", "trialing", "past_due"):
        assert sim.client.subscription(billing[status])["default_payment_method"] == new
    assert sim.client.subscription(billing["canceled"])["default_payment_method"] == billing["old"]
    other = sim.client.subscription(billing["other_sub"])["default_payment_method"]
    assert other == billing["other_pm"]
    assert sim.client.payment_method(billing["old"])["customer"] == world.customer  # not detached
    print("stripe calls:", calls)
    assert sorted(calls) == sorted(
        [
            ("POST", "POST /v1/customers/{id}"),
            ("GET", "GET /v1/payment_methods"),
            ("GET", "GET /v1/subscriptions"),
            *[("POST", "POST /v1/subscriptions/{id}")] * 3,
        ]
    )
    keys = {r["path"]: r["idempotency_key"] for r in writes(sim)}
    case = f"relink-case-{world.case_id}"
    assert keys[f"/v1/customers/{world.customer}"] == f"{case}-default-{new}"
    assert keys[f"/v1/subscriptions/{billing['trialing']}"] == (
        f"{case}-sub-{billing['trialing']}-{new}"
    )
    done = switch_row(world.case_id)
    assert [s["step"] for s in done.steps] == ["default", *["subscription"] * 3]
    assert done.attempts == 1


def test_customer_default_alone_touches_no_subscription_and_detach_is_opt_in(
    client: TestClient,
    world: World,
    sim: SimServer,
    published: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(monkeypatch, payment_method_switch="customer_default")
    billing = billing_world(sim, world)
    new = save_new_payment_method(client, world, sim)
    sim.client.clear_requests()
    assert service.switch_payment_method(switch_id(world.case_id)) == DeliveryStatus.SWITCHED
    assert [r["route"] for r in sim.client.requests("/v1/")] == ["POST /v1/customers/{id}"]
    assert sim.client.customer(world.customer)["invoice_settings"]["default_payment_method"] == new
    assert sim.client.subscription(billing["active"])["default_payment_method"] == billing["old"]


def test_detach_old_payment_method_detaches_only_the_broken_accounts(
    client: TestClient,
    world: World,
    sim: SimServer,
    published: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(
        monkeypatch,
        payment_method_switch="customer_default,subscriptions",
        detach_old_payment_method="true",
    )
    billing = billing_world(sim, world)
    new = save_new_payment_method(client, world, sim)
    sim.client.clear_requests()
    assert service.switch_payment_method(switch_id(world.case_id)) == DeliveryStatus.SWITCHED
    assert Counter(r["route"] for r in sim.client.requests("/v1/")) == {
        "POST /v1/customers/{id}": 1,
        "GET /v1/payment_methods": 1,
        "GET /v1/subscriptions": 1,
        "POST /v1/subscriptions/{id}": 3,
        "POST /v1/payment_methods/{id}/detach": 1,
    }
    detached = [r for r in writes(sim) if r["path"].endswith("/detach")]
    assert [r["path"] for r in detached] == [f"/v1/payment_methods/{billing['old']}/detach"]
    assert detached[0]["idempotency_key"] == (
        f"relink-case-{world.case_id}-detach-{billing['old']}"
    )
    assert sim.client.payment_method(billing["old"])["customer"] is None
    assert sim.client.payment_method(billing["other_pm"])["customer"] == world.customer
    assert sim.client.payment_method(new)["customer"] == world.customer
    assert sim.client.subscription(billing["active"])["default_payment_method"] == new


def test_a_failed_write_is_retried_with_the_same_key_and_nothing_else_is_sent_again(
    client: TestClient,
    world: World,
    sim: SimServer,
    published: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(monkeypatch, payment_method_switch="customer_default,subscriptions")
    billing = billing_world(sim, world)
    new = save_new_payment_method(client, world, sim)
    sim.client.clear_requests()
    broken = f"/v1/subscriptions/{billing['past_due']}"
    sim.client.set_faults(error_rate=1.0, path_prefix=broken)  # Stripe answers 500 there

    with pytest.raises(service.SwitchInterrupted):
        service.switch_payment_method(switch_id(world.case_id))
    interrupted = switch_row(world.case_id)
    assert interrupted.status == DeliveryStatus.PENDING
    assert interrupted.last_error == "APIError 500"
    made = {(s["step"], s["target"]) for s in interrupted.steps}
    assert ("default", world.customer) in made
    assert ("subscription", billing["past_due"]) not in made

    sim.client.set_faults()  # Stripe recovers; the task's retry runs
    assert service.switch_payment_method(switch_id(world.case_id)) == DeliveryStatus.SWITCHED
    assert sim.client.subscription(billing["past_due"])["default_payment_method"] == new
    to_broken = [r for r in writes(sim) if r["path"] == broken]
    assert [r["status"] for r in to_broken][-1] == 200
    assert len(to_broken) >= 2
    assert {r["idempotency_key"] for r in to_broken} == {
        f"relink-case-{world.case_id}-sub-{billing['past_due']}-{new}"
    }
    per_path: dict[str, int] = {}
    for request in writes(sim):
        if request["status"] == 200:
            per_path[request["path"]] = per_path.get(request["path"], 0) + 1
    assert set(per_path.values()) == {1}  # every write succeeded exactly once
    assert switch_row(world.case_id).last_error is None


def test_a_holder_less_account_has_nothing_to_switch_and_the_timeline_says_so(
    client: TestClient,
    world: World,
    sim: SimServer,
    published: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(monkeypatch, payment_method_switch="customer_default,subscriptions")
    with Session(get_engine()) as db:
        for account in db.exec(select(FcAccount)):
            account.holder_type = account.holder_id = None
            db.add(account)
        db.commit()
    save_new_payment_method(client, world, sim)
    sim.client.clear_requests()
    row = switch_row(world.case_id)
    assert row.customer_id is None
    assert (
        service.switch_payment_method(switch_id(world.case_id)) == DeliveryStatus.NOTHING_TO_SWITCH
    )
    assert sim.client.requests("/v1/") == []
    timeline = case_timeline(world.case_id)
    assert timeline is not None
    [entry] = [e for e in timeline["timeline"] if e["kind"] == "payment_method"]
    assert entry["what"] == "payment method switch nothing_to_switch"
    assert "nothing to switch" in entry["detail"]


def test_the_switch_is_on_the_timeline_and_announced_to_the_platform(
    client: TestClient,
    world: World,
    sim: SimServer,
    published: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(
        monkeypatch,
        payment_method_switch="customer_default,subscriptions",
        platform_webhook_url="http://127.0.0.1:9/hooks",
        platform_webhook_secrets=PLATFORM_SECRET,
    )
    billing = billing_world(sim, world)
    new = save_new_payment_method(client, world, sim)
    service.switch_payment_method(switch_id(world.case_id))
    with Session(get_engine()) as db:
        [event] = db.exec(
            select(PlatformEvent).where(PlatformEvent.type == "relink.payment_method.switched")
        )
    data = json.loads(event.payload)["data"]
    assert data["payment_method"] == new
    assert data["customer"] == world.customer
    assert data["customer_default"] is True
    moved = sorted(billing[s] for s in ("active", "trialing", "past_due"))
    assert sorted(data["subscriptions"]) == moved
    assert data["replaces"] == {"account": world.accounts[0], "case": world.case_id}
    assert data["case"]["id"] == world.case_id
    timeline = case_timeline(world.case_id)
    assert timeline is not None
    entries = [e for e in timeline["timeline"] if e["kind"] == "payment_method"]
    assert [e["what"] for e in entries][-1] == "payment method switch switched"
    assert {e["id"] for e in entries} >= {world.customer, billing["active"], billing["past_due"]}
    with Session(get_engine()) as db:  # the platform API reads the same timeline
        detail = get_case(db, world.case_id, "", sees_pii=False)
    assert detail is not None
    from_api = [(e.id, e.what) for e in detail.timeline if e.kind == "payment_method"]
    assert from_api == [(e["id"], e["what"]) for e in entries]


def test_a_write_stripe_refuses_fails_the_switch_without_retry_or_announcement(
    client: TestClient,
    world: World,
    sim: SimServer,
    published: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(
        monkeypatch,
        payment_method_switch="customer_default",
        platform_webhook_url="http://127.0.0.1:9/hooks",
        platform_webhook_secrets=PLATFORM_SECRET,
    )
    new = save_new_payment_method(client, world, sim)
    sim.state.payment_methods[new].customer = None  # detached meanwhile, say by the platform
    sim.client.clear_requests()
    assert service.switch_payment_method(switch_id(world.case_id)) == DeliveryStatus.FAILED
    assert len(sim.client.requests("/v1/")) == 1  # a 400 is not retried
    row = switch_row(world.case_id)
    assert (row.last_error, row.steps) == ("InvalidRequestError 400 resource_missing", [])
    with Session(get_engine()) as db:
        types = [e.type for e in db.exec(select(PlatformEvent))]
    assert "relink.payment_method.switched" not in types
    timeline = case_timeline(world.case_id)
    assert timeline is not None
    [entry] = [e for e in timeline["timeline"] if e["kind"] == "payment_method"]
    assert (entry["what"], entry["detail"]) == (
        "payment method switch failed",
        "InvalidRequestError 400 resource_missing",
    )


@pytest.mark.parametrize("detach_clears_defaults", [True, False])
@pytest.mark.parametrize("switch", ["customer_default", "customer_default,subscriptions"])
def test_no_default_names_a_detached_payment_method_whatever_stripe_does_on_detach(
    client: TestClient,
    world: World,
    sim: SimServer,
    published: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    detach_clears_defaults: bool,
    switch: str,
) -> None:
    """Stripe does not document whether a detach clears the defaults naming the
    PaymentMethod: under either simulator reading, relink leaves none naming it."""
    sim.client.set_behaviours(detach_clears_defaults=detach_clears_defaults)
    configure(monkeypatch, payment_method_switch=switch, detach_old_payment_method="true")
    billing = billing_world(sim, world)
    unpaid = sim.client.create_subscription(world.customer, billing["old"], "unpaid")["id"]
    new = save_new_payment_method(client, world, sim)
    assert service.switch_payment_method(switch_id(world.case_id)) == DeliveryStatus.SWITCHED

    assert sim.client.payment_method(billing["old"])["customer"] is None  # detached
    assert sim.client.customer(world.customer)["invoice_settings"]["default_payment_method"] == new
    moving = "subscriptions" in switch
    for status in ("active", "trialing", "past_due"):
        expected = new if moving else None  # moved, else cleared: it bills the new default
        assert sim.client.subscription(billing[status])["default_payment_method"] == expected
    assert sim.client.subscription(unpaid)["default_payment_method"] is None  # cleared
    other = sim.client.subscription(billing["other_sub"])["default_payment_method"]
    assert other == billing["other_pm"]
    steps = [s["step"] for s in switch_row(world.case_id).steps]
    cleared = 1 if moving else 4
    assert steps.count("subscription_cleared") == cleared
    assert steps.index("detach") > max(i for i, s in enumerate(steps) if s != "detach")
