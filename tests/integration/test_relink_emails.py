"""Deactivation to email end to end: the simulator's signed webhooks, the real api and Celery
worker (with beat), PostgreSQL, Redis and an SMTP sink."""

from __future__ import annotations

import time

import psycopg
import pytest

from sim import scenarios
from sim.testing import SimServer
from tests.conftest import WEBHOOK_SECRET
from tests.integration.smtp import SmtpSink
from tests.integration.stack import Stack, wait_until

LAST4S = ("1111", "2222", "3333")


def start(stack: Stack, quiet_period: float = 2.0) -> None:
    stack.env["QUIET_PERIOD_SECONDS"] = str(quiet_period)
    stack.env["EMAIL_SWEEP_EVERY_SECONDS"] = "1"
    stack.start_worker()


def authorization(sim: SimServer, email: str | None = "ada@example.com") -> dict[str, object]:
    customer = sim.client.create_customer(email)["id"]
    return sim.client.create_authorization(
        {"type": "customer", "customer": customer},
        institution="First Platypus Bank",
        accounts=[{"last4": last4, "subcategory": "checking"} for last4 in LAST4S],
    )


def text_of(message: object) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]


def case_rows(pg: psycopg.Connection) -> list[tuple[object, ...]]:
    return pg.execute("SELECT state, resolution, emails_sent FROM relink_case").fetchall()


def test_three_shuffled_siblings_one_duplicated_make_exactly_one_email_with_one_link(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    start(stack)
    sim.client.configure_delivery(shuffle=True, duplicates=1, seed=7)
    auth = authorization(sim)
    sim.client.deactivate_authorization(str(auth["id"]))
    [message] = smtp.wait_for(1, timeout=60)
    time.sleep(3)  # anything else would have arrived by now
    assert len(smtp.received()) == 1
    text = text_of(message)
    assert all(last4 in text for last4 in LAST4S), text
    assert "First Platypus Bank" in text
    assert text.count(f"{stack.base_url}/relink/") == 1
    assert message["To"] == "ada@example.com"
    assert message["Message-ID"].startswith("<relink-outbox-")
    assert len(sim.client.deliveries()) >= 4  # three events, one delivered twice
    wait_until(lambda: case_rows(pg) == [("open", None, 1)], 10, "the case to count the email")


def test_action_none_sends_one_new_payment_method_email_without_a_link(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    start(stack)
    auth = authorization(sim)
    sim.client.deactivate_authorization(str(auth["id"]), cause="account_closed", action="none")
    [message] = smtp.wait_for(1, timeout=60)
    time.sleep(3)
    assert len(smtp.received()) == 1
    text = text_of(message)
    assert "set up a new payment method" in text
    assert "/relink/" not in text
    assert case_rows(pg) == [("unrepairable", None, 1)]


def test_ga_version_payload_is_refetched_at_the_preview_version_and_handled(
    stack: Stack, sim: SimServer, smtp: SmtpSink
) -> None:
    sim.client.configure_webhooks(
        f"{stack.base_url}/webhooks/stripe", WEBHOOK_SECRET, api_version="2026-10-28.endive"
    )
    start(stack)
    auth = authorization(sim)
    sim.client.deactivate_authorization(str(auth["id"]))
    [message] = smtp.wait_for(1, timeout=60)
    refetches = {
        r["path"].rsplit("/", 1)[1]
        for r in sim.client.requests("/v1/financial_connections/accounts/")
        if r["stripe_version"] == "2026-09-30.preview"
    }
    assert set(auth["accounts"]) <= refetches  # type: ignore[arg-type]
    assert all(last4 in text_of(message) for last4 in LAST4S)


@pytest.mark.parametrize("quiet_period", [4.0])
def test_reactivation_within_the_quiet_period_sends_nothing_and_closes_the_case(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection, quiet_period: float
) -> None:
    start(stack, quiet_period=quiet_period)
    auth = authorization(sim)
    sim.client.deactivate_authorization(str(auth["id"]))
    wait_until(lambda: [r[0] for r in case_rows(pg)] == ["open"], 20, "the case to open")
    with sim.state.lock:
        scenarios.reactivate_authorization(sim.state, sim.state.authorizations[str(auth["id"])])
    wait_until(lambda: case_rows(pg) == [("resolved", "reactivated", 0)], 30, "the case to close")
    time.sleep(2)
    assert smtp.received() == []
    assert pg.execute("SELECT DISTINCT status FROM email_outbox").fetchall() == [("cancelled",)]
