"""Thin events end to end: the simulator's event destination delivers `v2.core.event`
notifications, the receiver records them, the worker fetches the related account at
STRIPE_API_VERSION and runs the snapshot type's handler."""

from __future__ import annotations

import time

import psycopg
import pytest

from sim.testing import SimServer
from tests.conftest import WEBHOOK_SECRET
from tests.integration.smtp import SmtpSink
from tests.integration.stack import Stack, wait_until
from tests.integration.test_reactivation import link_in, relink_through_the_page
from tests.integration.test_relink_emails import authorization, start

CONNECT_SECRET = "whsec_test_connect"
THIN_DEACTIVATED = "v1.financial_connections.account.deactivated"
THIN_REACTIVATED = "v1.financial_connections.account.reactivated"


def cases(pg: psycopg.Connection) -> list[tuple[object, ...]]:
    query = "SELECT stripe_account, state, resolution FROM relink_case ORDER BY id"
    return pg.execute(query).fetchall()


def processed(pg: psycopg.Connection, event_type: str) -> int:
    query = "SELECT count(*) FROM webhook_event WHERE type = %s AND status = 'processed'"
    return int(pg.execute(query, (event_type,)).fetchone()[0])  # type: ignore[index]


def account_fetches(sim: SimServer) -> list[dict[str, object]]:
    return [
        r
        for r in sim.client.requests("/v1/financial_connections/accounts/")
        if r["route"] == "GET /v1/financial_connections/accounts/{id}"
    ]


def test_thin_and_snapshot_siblings_make_one_case_and_one_email_and_a_thin_reactivation_closes_it(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    url = f"{stack.base_url}/webhooks/stripe"
    start(stack)
    auth = authorization(sim)
    first, second, third = (str(a) for a in auth["accounts"])  # type: ignore[union-attr]
    sim.client.configure_webhooks(url, WEBHOOK_SECRET, event_payload="thin")
    sim.client.clear_requests()
    sim.client.deactivate_account(first)
    wait_until(lambda: processed(pg, THIN_DEACTIVATED) == 1, 30, "the thin deactivation")
    fetched = [
        r["stripe_version"]
        for r in account_fetches(sim)
        if r["path"] == f"/v1/financial_connections/accounts/{first}"
    ]
    assert fetched
    assert set(fetched) == {"2026-09-30.preview"}  # STRIPE_API_VERSION
    sim.client.configure_webhooks(url, WEBHOOK_SECRET)  # the snapshot endpoint again
    sim.client.deactivate_account(second)
    sim.client.deactivate_account(third)
    [message] = smtp.wait_for(1, timeout=60)
    wait_until(lambda: processed(pg, "financial_connections.account.deactivated") == 2, 30, "")
    assert cases(pg) == [("", "open", None)]
    time.sleep(3)  # the quiet period is over: a second email would be out by now
    assert len(smtp.received()) == 1

    sim.client.configure_webhooks(url, WEBHOOK_SECRET, event_payload="thin")
    relink_through_the_page(stack, sim, link_in(stack, message))
    wait_until(lambda: processed(pg, THIN_REACTIVATED) == 3, 30, "three thin reactivations")
    wait_until(lambda: cases(pg) == [("", "resolved", "reactivated")], 10, "the case closed")
    statuses = pg.execute("SELECT status FROM fc_account ORDER BY id").fetchall()
    assert statuses == [("active",)] * 3


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"STRIPE_CONNECT": "true", "STRIPE_CONNECT_WEBHOOK_SECRETS": CONNECT_SECRET}


def test_a_connect_thin_event_acts_on_its_context_account(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    sim.client.configure_webhooks(
        f"{stack.base_url}/webhooks/stripe/connect",
        CONNECT_SECRET,
        connect=True,
        event_payload="thin",
    )
    start(stack)
    connected = sim.client.create_connected_account("platform@example.com")["id"]
    on_account = sim.client.on_account(connected)
    customer = on_account.create_customer("ada@example.com")["id"]
    auth = on_account.create_authorization(
        {"type": "customer", "customer": customer}, institution="First Platypus Bank"
    )
    sim.client.clear_requests()
    on_account.deactivate_account(str(auth["accounts"][0]))
    [message] = smtp.wait_for(1, timeout=60)
    assert message["To"] == "ada@example.com"
    assert cases(pg) == [(connected, "open", None)]
    fetches = account_fetches(sim)
    assert fetches
    assert {r["stripe_account"] for r in fetches} == {connected}
