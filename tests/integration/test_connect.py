"""Connect end to end: a connected account's deactivation arrives on the Connect endpoint,
opens a case on that account, emails its customer, and the relink page repairs it; every
Stripe call of the flow carries that account's `Stripe-Account`, and objects with the same
ids on the platform and on another connected account are untouched and keep their own case."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import psycopg
import pytest

from sim.client import SimClient
from sim.testing import SimServer
from tests.browser import chromium
from tests.conftest import WEBHOOK_SECRET
from tests.integration.smtp import SmtpSink
from tests.integration.stack import Stack, wait_until
from tests.integration.test_relink_emails import start, text_of

CONNECT_SECRET = "whsec_test_connect"
AUTHORIZATION, ACCOUNT = "fcauth_Collide", "fca_Collide"


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"STRIPE_CONNECT": "true", "STRIPE_CONNECT_WEBHOOK_SECRETS": CONNECT_SECRET}


def bank(sim: SimClient, email: str) -> None:
    """A customer with one bank account, its ids the same on every Stripe account."""
    customer = sim.create_customer(email)["id"]
    sim.create_authorization(
        {"type": "customer", "customer": customer},
        institution="First Platypus Bank",
        accounts=[{"id": ACCOUNT, "last4": "4242"}],
        id=AUTHORIZATION,
    )


def calls(sim: SimServer) -> list[dict[str, Any]]:
    return sim.client.requests("/v1/")


def route_counts(requests: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str(r["route"]) for r in requests)


def accounts(pg: psycopg.Connection) -> dict[object, object]:
    """The status of each same-id account, by Stripe account ('' the platform's)."""
    query = "SELECT stripe_account, status FROM fc_account WHERE id = %s"
    return dict(pg.execute(query, (ACCOUNT,)).fetchall())


def cases(pg: psycopg.Connection) -> list[tuple[object, ...]]:
    query = "SELECT stripe_account, authorization_id, state FROM relink_case ORDER BY id"
    return pg.execute(query).fetchall()


def test_a_connect_deactivation_is_emailed_and_relinked_on_its_connected_account_only(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    sim.client.configure_webhooks(
        f"{stack.base_url}/webhooks/stripe/connect", CONNECT_SECRET, connect=True
    )
    start(stack)
    first = sim.client.create_connected_account("platform-a@example.com")["id"]
    other = sim.client.create_connected_account("platform-b@example.com")["id"]
    on_first, on_other = sim.client.on_account(first), sim.client.on_account(other)
    bank(sim.client, "platform@example.com")
    bank(on_first, "ada@example.com")
    bank(on_other, "bob@example.com")
    wait_until(lambda: len(accounts(pg)) == 3, 30, "the three same-id accounts to be stored")
    sim.client.clear_requests()

    on_first.deactivate_account(ACCOUNT)
    [message] = smtp.wait_for(1, timeout=60)

    assert message["To"] == "ada@example.com"
    assert accounts(pg) == {"": "active", first: "inactive", other: "active"}
    assert cases(pg) == [(first, AUTHORIZATION, "open")]
    link = re.search(rf"{re.escape(stack.base_url)}/relink/\S+", text_of(message))
    assert link
    # Chromium opens the emailed link; the page starts Stripe.js with `stripeAccount` (the
    # simulator's Stripe.js finds a connected account's session only with it)
    with chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(15_000)
        page.goto(link.group(0))
        page.get_by_role("button", name="Reconnect First Platypus Bank").click()
        page.get_by_role("heading", name="Your bank is reconnected").wait_for()
    wait_until(
        lambda: cases(pg) == [(first, AUTHORIZATION, "resolved")], 30, "the case to be closed"
    )
    assert accounts(pg) == {"": "active", first: "active", other: "active"}

    flow = calls(sim)
    print("stripe calls of the connect flow:", dict(route_counts(flow)))
    assert route_counts(flow) == {  # docs/connect.md's count: as for the platform's own accounts
        "GET /v1/financial_connections/accounts/{id}": 2,  # the email's check, the button's
        "GET /v1/customers/{id}": 1,  # the email's address
        "POST /v1/financial_connections/sessions": 1,
        "GET /v1/financial_connections/sessions/{id}": 1,  # the result, read back
        "GET /v1/financial_connections/authorizations/{id}": 1,  # the reconciliation
        "GET /v1/financial_connections/accounts": 1,  # the reconciliation
    }
    assert flow, "the flow made Stripe calls"
    assert {r["stripe_account"] for r in flow} == {first}
    session_posts = [r for r in flow if r["route"] == "POST /v1/financial_connections/sessions"]
    assert session_posts[0]["params"]["relink_options"] == {
        "authorization": AUTHORIZATION,
        "account": ACCOUNT,
    }

    # the other connected account's same-id account breaks later: its own case and email
    sim.client.clear_requests()
    on_other.deactivate_account(ACCOUNT)
    smtp.wait_for(2, timeout=60)
    assert smtp.received()[1]["To"] == "bob@example.com"
    assert cases(pg) == [(first, AUTHORIZATION, "resolved"), (other, AUTHORIZATION, "open")]
    assert accounts(pg) == {"": "active", first: "active", other: "inactive"}
    second = calls(sim)
    print("stripe calls of the other account's deactivation:", dict(route_counts(second)))
    assert {r["stripe_account"] for r in second} == {other}
    on_first.close()
    on_other.close()


def test_a_connect_event_on_the_accounts_endpoint_is_refused(
    stack: Stack, sim: SimServer, pg: psycopg.Connection
) -> None:
    """Connect deliveries sent to /webhooks/stripe, even signed with its own secret: 400."""
    sim.client.configure_webhooks(
        f"{stack.base_url}/webhooks/stripe", WEBHOOK_SECRET, connect=True, retry=[]
    )
    connected = sim.client.create_connected_account("platform-a@example.com")["id"]
    on_connected = sim.client.on_account(connected)
    bank(on_connected, "ada@example.com")
    wait_until(lambda: len(sim.client.deliveries()) >= 2, 30, "the deliveries")
    assert {d["status_code"] for d in sim.client.deliveries()} == {400}
    assert pg.execute("SELECT count(*) FROM webhook_event").fetchone() == (0,)
    on_connected.close()
