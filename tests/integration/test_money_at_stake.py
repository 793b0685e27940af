"""The money at stake, end to end: the simulator's subscriptions and failed invoices, the real
api and Celery worker, PostgreSQL. Two customers: Ada (USD, a monthly subscription of two
items billed to her deactivated account's PaymentMethod, one failed invoice) relinks and her
invoice is paid again; Grace (EUR, a yearly subscription billed through her Customer's
default, one failed invoice) stays broken. /ops and `GET /api/v1/revenue` show exactly that."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import stripe

from shared.api_keys import key_hash
from sim.testing import SimServer
from tests.integration.conftest import OPS_TOKEN
from tests.integration.smtp import SmtpSink
from tests.integration.stack import Stack, wait_until
from tests.integration.test_reactivation import link_in, relink_through_the_page


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    return {
        "METRICS_ENABLED": "true",
        "METRICS_TOKEN": "m-token",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "RECOVER_FAILED_PAYMENTS": "true",
        "MONEY_AT_STAKE": "true",
        "RECOVERY_SWEEP_EVERY_SECONDS": "1",  # reads the settled invoice back
        "QUIET_PERIOD_SECONDS": "1",
        "EMAIL_SWEEP_EVERY_SECONDS": "1",
    }


def customer_with_account(sim: SimServer, email: str) -> tuple[str, str, str]:
    """A customer, its authorization of one account, and a PaymentMethod on that account."""
    customer = sim.client.create_customer(email)["id"]
    auth = sim.client.create_authorization(
        {"type": "customer", "customer": customer},
        institution="First Platypus Bank",
        accounts=[{"last4": "6789", "subcategory": "checking"}],
    )
    pm = sim.client.create_payment_method(auth["accounts"][0], customer)["id"]
    return customer, str(auth["id"]), pm


def read_key(pg: psycopg.Connection) -> str:
    prefix = f"rlk_{secrets.token_hex(6)}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    pg.execute(
        "INSERT INTO api_key (prefix, key_hash, name, scopes, created_at)"
        " VALUES (%s, %s, 'money', '[\"read\"]', now())",
        (prefix, key_hash(key)),
    )
    return key


def revenue(stack: Stack, key: str) -> dict[str, Any]:
    got = requests.get(
        f"{stack.base_url}/api/v1/revenue", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert got.status_code == 200, got.text
    return got.json()


def ops_cells(stack: Stack) -> dict[str, list[str]]:
    """The money section's rows of /ops: each row's cells, by its data attribute."""
    page = requests.get(
        f"{stack.base_url}/ops", headers={"Authorization": f"Bearer {OPS_TOKEN}"}, timeout=30
    )
    assert page.status_code == 200, page.text
    section = page.text.split('<section id="money">', 1)[1].split("</section>", 1)[0]
    rows = {
        key: [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
        ]
        for key, row in re.findall(r'<tr data-(?:currency|days)="([^"]+)">(.*?)</tr>', section)
    }
    recovered = re.search(r'<span id="recovered">([^<]*)</span>', section)
    assert recovered is not None
    rows["recovered"] = [recovered.group(1)]
    chart = re.search(r'<script type="application/json" id="money-data">(.*?)</script>', section)
    assert chart is not None
    rows["chart"] = [chart.group(1)]
    return rows


def test_revenue_at_risk_and_recovered_for_a_seeded_scenario(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    stack.start_worker(beat=True)
    ada, ada_auth, ada_pm = customer_with_account(sim, "ada@example.com")
    grace, grace_auth, grace_pm = customer_with_account(sim, "grace@example.com")
    # Ada: 2 x 25.00 + 10.00 a month on her account's PaymentMethod; 60.00 failed there
    monthly = {"unit_amount": 2500, "interval": "month", "quantity": 2}
    sim.client.create_subscription(ada, ada_pm, items=[monthly, {"unit_amount": 1000}])
    ada_invoice = sim.client.create_invoice(ada, 6000, failed_on=ada_pm, age_days=1)["id"]
    # Grace: 1,200.00 EUR a year through her Customer's default (100.00 a month); 100.00 failed
    stripe.StripeClient(sim.api_key, base_addresses={"api": sim.base_url}).v1.customers.update(
        grace, params={"invoice_settings": {"default_payment_method": grace_pm}}
    )
    yearly = {"unit_amount": 120000, "currency": "eur", "interval": "year"}
    sim.client.create_subscription(grace, None, items=[yearly])
    sim.client.create_invoice(grace, 10000, failed_on=grace_pm, currency="eur")
    # not at stake: a trial and a canceled subscription on Ada's account
    sim.client.create_subscription(ada, ada_pm, "trialing", items=[{"unit_amount": 700}])
    sim.client.create_subscription(ada, ada_pm, "canceled", items=[{"unit_amount": 900}])

    sim.client.deactivate_authorization(ada_auth)
    sim.client.deactivate_authorization(grace_auth)
    key = read_key(pg)

    def money_rows() -> list[tuple[Any, ...]]:
        return pg.execute(
            "SELECT currency, monthly_at_risk, failed_due, subscriptions, failed_invoices"
            " FROM case_money ORDER BY currency"
        ).fetchall()

    wait_until(lambda: len(money_rows()) == 2, 60, "both cases' money at stake")
    assert money_rows() == [("eur", 10000, 10000, 1, 1), ("usd", 6000, 6000, 1, 1)]
    before = revenue(stack, key)
    assert before["at_risk"] == [
        {"currency": "eur", "monthly": 10000, "failed_invoices_due": 10000, "cases": 1},
        {"currency": "usd", "monthly": 6000, "failed_invoices_due": 6000, "cases": 1},
    ]
    assert before["recovered"] == []

    messages = smtp.wait_for(2, timeout=60)
    [to_ada] = [m for m in messages if "ada@example.com" in str(m["To"])]
    relink_through_the_page(stack, sim, link_in(stack, to_ada))

    def recovery() -> list[tuple[Any, ...]]:
        return pg.execute("SELECT invoice_id, status FROM payment_recovery").fetchall()

    wait_until(lambda: recovery() == [(ada_invoice, "processing")], 60, "Ada's invoice paid again")
    sim.client.settle_invoice(ada_invoice)
    wait_until(lambda: recovery() == [(ada_invoice, "recovered")], 60, "Ada's invoice recovered")

    after = revenue(stack, key)
    assert after == {
        "object": "revenue",
        "at_risk": [
            {"currency": "eur", "monthly": 10000, "failed_invoices_due": 10000, "cases": 1}
        ],
        "recovered": [{"currency": "usd", "amount": 6000}],
        "recovered_invoices": 1,
        "recovery_rates": [
            {
                "days": days,
                "eligible_cases": 1,  # Ada, repaired; Grace's first days are not over
                "repaired_cases": 1,
                "rate": 100.0,
                "at_risk": [{"currency": "usd", "amount": 6000}],
                "recovered": [{"currency": "usd", "amount": 6000}],
            }
            for days in (7, 30)
        ],
    }
    cells = ops_cells(stack)
    assert cells["eur"] == ["EUR", "100.00 EUR", "100.00 EUR", "1"]
    assert "usd" not in cells  # repaired: no longer at risk
    assert cells["recovered"] == ["60.00 USD"]
    for days in ("7", "30"):
        assert cells[days] == [f"{days} days", "1 of 1", "100.0%", "60.00 USD", "60.00 USD"]
    chart = json.loads(cells["chart"][0])
    assert chart["decimals"] == {"eur": 2, "usd": 2}
    assert sum(chart["series"]["usd"]["recovered"]) == 6000
    assert sum(chart["series"]["eur"]["at_risk"]) == 10000

    metrics = requests.get(
        f"{stack.base_url}/metrics/", headers={"Authorization": "Bearer m-token"}, timeout=30
    ).text
    assert 'relink_revenue_at_risk_minor_units{currency="eur",kind="monthly"} 10000.0' in metrics
    assert (
        'relink_revenue_at_risk_minor_units{currency="eur",kind="failed_invoices"} 10000.0'
        in metrics
    )
    assert 'relink_revenue_recovered_minor_units_total{currency="usd"} 6000.0' in metrics
