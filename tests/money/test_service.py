"""Reading the money at stake of a case from the simulator: what the broken account bills and
what failed on it, per currency, stored and refreshed; the figures /ops and the API read."""

from __future__ import annotations

from collections import Counter

from sqlmodel import Session, select

from shared.db import get_engine, session_scope
from shared.metrics import export_registry
from shared.models import FcAccount, RelinkCase
from shared.payments import money
from shared.payments.money_models import CaseMoney
from shared.payments.recovery_models import PaymentRecovery
from shared.stripe_client import make_stripe_client
from sim.testing import SimServer
from tests.relink_page.world import World
from worker import stripe_payments
from worker.cases.service import resolve_case
from worker.money import service


def seeded(sim: SimServer, world: World) -> dict[str, str]:
    broken = sim.client.create_payment_method(world.accounts[0], world.customer)["id"]
    other_auth = sim.client.create_authorization(
        {"type": "customer", "customer": world.customer}, n_accounts=1
    )
    other = sim.client.create_payment_method(other_auth["accounts"][0], world.customer)["id"]
    stripe_payments.set_default_payment_method(
        make_stripe_client(), world.customer, broken, idempotency_key="seed"
    )
    subscribe = sim.client.create_subscription
    month = {"unit_amount": 2500, "interval": "month", "quantity": 2}
    subscribe(world.customer, None, items=[month])  # bills the customer's default: broken
    subscribe(
        world.customer,
        broken,
        items=[{"unit_amount": 90000, "currency": "eur", "interval": "year"}],
    )
    subscribe(world.customer, other, items=[{"unit_amount": 1000}])  # another bank
    subscribe(world.customer, broken, "trialing", items=[{"unit_amount": 4000}])
    subscribe(world.customer, broken, "canceled", items=[{"unit_amount": 8000}])
    failed = sim.client.create_invoice(world.customer, 1500, failed_on=broken)["id"]
    sim.client.create_invoice(world.customer, 900, failed_on=other)
    return {"broken": broken, "failed": failed}


def stored(case_id: int) -> dict[str, tuple[int, int, int, int]]:
    with Session(get_engine()) as db:
        rows = db.exec(select(CaseMoney).where(CaseMoney.case_id == case_id))
        return {
            r.currency: (r.monthly_at_risk, r.subscriptions, r.failed_due, r.failed_invoices)
            for r in rows
        }


def test_a_case_stores_its_money_at_stake_per_currency(world: World, sim: SimServer) -> None:
    found = seeded(sim, world)
    sim.client.clear_requests()
    service.assess(world.case_id)
    assert stored(world.case_id) == {"usd": (5000, 1, 1500, 1), "eur": (7500, 1, 0, 0)}
    calls = Counter(r["route"] for r in sim.client.requests("/v1/"))
    print("stripe calls of one assessment:", dict(calls))
    assert calls == {
        "GET /v1/payment_methods": 1,
        "GET /v1/customers/{id}": 1,
        "GET /v1/subscriptions": 1,
        "GET /v1/invoices": 1,
        "GET /v1/invoices/{id}": 2,
    }
    with Session(get_engine()) as db:
        figures = money.revenue(db)
    assert [(r.currency, r.monthly, r.failed_due, r.cases) for r in figures.at_risk] == [
        ("eur", 7500, 0, 1),
        ("usd", 5000, 1500, 1),
    ]

    sim.client.close_invoice(found["failed"], "void")  # the stale sweep reads it again
    service.assess(world.case_id)
    assert stored(world.case_id) == {"usd": (5000, 1, 0, 0), "eur": (7500, 1, 0, 0)}

    with session_scope() as db:
        case = db.get(RelinkCase, world.case_id)
        assert case is not None
        resolve_case(db, case, "reactivated")
    assert service.assess(world.case_id) is None  # repaired: not read again, figures kept
    assert stored(world.case_id) == {"usd": (5000, 1, 0, 0), "eur": (7500, 1, 0, 0)}
    with Session(get_engine()) as db:
        figures = money.revenue(db)
    assert figures.at_risk == []
    seven = figures.rates[0]
    assert (seven.days, seven.eligible, seven.repaired) == (7, 1, 1)
    assert seven.at_risk == {"usd": 5000, "eur": 7500}


def test_a_holderless_case_reads_nothing(world: World, sim: SimServer) -> None:
    with session_scope() as db:
        case = db.get(RelinkCase, world.case_id)
        assert case is not None
        case.authorization_id = "fcauth_unknown"
        case.account_id = None
    sim.client.clear_requests()
    assert service.assess(world.case_id) is None
    assert sim.client.requests("/v1/") == []


def test_a_connected_accounts_money_is_read_and_shown_on_that_account(
    db: None, sim: SimServer
) -> None:
    acct = sim.client.create_connected_account("platform@example.com")["id"]
    on_acct = sim.client.on_account(acct)
    customer = on_acct.create_customer("ada@example.com")["id"]
    auth = on_acct.create_authorization({"type": "customer", "customer": customer}, n_accounts=1)
    [broken] = auth["accounts"]
    pm = on_acct.create_payment_method(broken, customer)["id"]
    on_acct.create_subscription(customer, pm, items=[{"unit_amount": 1200, "interval": "week"}])
    with session_scope() as session:
        session.add(
            FcAccount(
                id=broken,
                stripe_account=acct,
                authorization_id=auth["id"],
                holder_type="customer",
                holder_id=customer,
                status="inactive",
            )
        )
        case = RelinkCase(authorization_id=auth["id"], account_id=broken, stripe_account=acct)
        session.add(case)
        session.flush()
        assert case.id is not None
        case_id = case.id
    sim.client.clear_requests()
    service.assess(case_id)
    assert {r["stripe_account"] for r in sim.client.requests("/v1/")} == {acct}
    assert stored(case_id) == {"usd": (5200, 1, 0, 0)}  # 12.00 a week: x 52 / 12
    with Session(get_engine()) as db_session:
        on_it = money.revenue(db_session, stripe_account=acct).at_risk
        platform = money.revenue(db_session, stripe_account="").at_risk
    assert [(r.currency, r.monthly) for r in on_it] == [("usd", 5200)]
    assert platform == []


def test_the_api_registry_reads_the_money_at_each_scrape(db: None) -> None:
    registry = export_registry(money_at_stake=True)
    with session_scope() as session:
        broken = RelinkCase(authorization_id="fcauth_m")
        repaired = RelinkCase(authorization_id="fcauth_r", state="resolved", resolution="sweep")
        session.add_all([broken, repaired])
        session.flush()
        assert broken.id is not None
        assert repaired.id is not None
        session.add(CaseMoney(case_id=broken.id, currency="jpy", monthly_at_risk=1200))
        session.add(CaseMoney(case_id=repaired.id, currency="usd", monthly_at_risk=999))
        session.add(
            PaymentRecovery(
                case_id=repaired.id,
                invoice_id="in_1",
                customer_id="cus_1",
                payment_method_id="pm_1",
                failed_payment_method_id="pm_1",
                amount_due=4200,
                currency="usd",
                status="recovered",
            )
        )

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("relink_revenue_at_risk_minor_units", currency="jpy", kind="monthly") == 1200
    assert sample("relink_revenue_at_risk_minor_units", currency="usd", kind="monthly") is None
    assert sample("relink_revenue_recovered_minor_units_total", currency="usd") == 4200
    assert export_registry() is registry  # the worker's: the same process registry here
