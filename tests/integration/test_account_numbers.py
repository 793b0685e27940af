"""A tokenized account number about to expire, end to end: the simulator's signed webhooks,
the real api and Celery worker, PostgreSQL, Redis and an SMTP sink. Its email's link opens a
relink on the page, and the fresh number Stripe sends after it closes the case."""

from __future__ import annotations

import re

import psycopg
import requests

from sim.testing import SimServer
from tests.integration.smtp import SmtpSink
from tests.integration.stack import Stack, wait_until
from tests.integration.test_relink_emails import authorization, start, text_of

NEW_YEAR = 1798761600  # 1 January 2027
UPDATED = "financial_connections.account.account_numbers_updated"


def case_rows(pg: psycopg.Connection) -> list[tuple[object, ...]]:
    return pg.execute("SELECT state, cause, resolution FROM relink_case").fetchall()


def test_an_expiring_number_is_emailed_relinked_from_the_link_and_closed_by_the_fresh_one(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    start(stack, quiet_period=0.5)
    auth = authorization(sim)
    first = str(auth["accounts"][0])  # type: ignore[index]
    sim.client.mark_account_number_expiry(first, expected_expiry_date=NEW_YEAR)

    [message] = smtp.wait_for(1, timeout=60)
    assert message["Subject"] == "Reconnect your First Platypus Bank account before January 1, 2027"
    text = " ".join(text_of(message).split())
    assert (
        "The number we use for payments from your account at First Platypus Bank expires on" in text
    )
    assert "January 1, 2027; reconnect before then" in text
    assert case_rows(pg) == [("proactive", "upcoming_account_number_expiry", None)]

    found = re.search(rf"{re.escape(stack.base_url)}/relink/([A-Za-z0-9._-]+)", text)
    assert found
    token = found.group(1)
    page = requests.post(f"{stack.base_url}/relink/{token}/session", timeout=30)
    session = re.search(r'name="session_id" value="([^"]+)"', page.text)
    assert session, page.text  # a working account whose number expires still gets a session
    sim.client.complete_session(session.group(1), "success")
    done = requests.post(
        f"{stack.base_url}/relink/{token}/complete",
        data={"session_id": session.group(1)},
        timeout=30,
    )
    assert "Your bank is reconnected" in done.text

    wait_until(
        lambda: (
            case_rows(pg) == [("resolved", "upcoming_account_number_expiry", "warning_cleared")]
        ),
        60,
        "the fresh number to close the case",
    )
    assert UPDATED in {e["type"] for e in sim.client.events()}
    number = pg.execute(
        "SELECT account_number_status, account_number_expiry FROM fc_account WHERE id = %s",
        (first,),
    ).fetchone()
    assert number == ("transactable", None)
    pending = pg.execute("SELECT count(*) FROM email_outbox WHERE status = 'pending'").fetchone()
    assert pending == (0,)
