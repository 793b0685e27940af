"""Reactivation end to end: the simulator's signed webhooks, the real api and Celery workers
(with beat), PostgreSQL, Redis and an SMTP sink."""

from __future__ import annotations

import re
import time
from typing import Any

import psycopg
import requests
from celery import Celery

from sim import scenarios
from sim.testing import SimServer
from tests.cases.world import call_counts
from tests.integration.smtp import SmtpSink
from tests.integration.stack import Stack, wait_until

LAST4S = ("1111", "2222", "3333")
REACTIVATED = "financial_connections.account.reactivated"
DEACTIVATED = "financial_connections.account.deactivated"


def start(stack: Stack, workers: int = 1, **env: str) -> None:
    stack.env.update(
        {"QUIET_PERIOD_SECONDS": "1", "EMAIL_SWEEP_EVERY_SECONDS": "1", **env},
    )
    for n in range(workers):
        stack.start_worker(beat=n == 0)


def authorization(sim: SimServer, n_accounts: int = 3) -> dict[str, Any]:
    customer = sim.client.create_customer("ada@example.com")["id"]
    return sim.client.create_authorization(
        {"type": "customer", "customer": customer},
        institution="First Platypus Bank",
        accounts=[{"last4": last4, "subcategory": "checking"} for last4 in LAST4S[:n_accounts]],
    )


def text_of(message: object) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]


def link_in(stack: Stack, message: object) -> str:
    found = re.search(re.escape(stack.base_url) + r"/relink/\S+", text_of(message))
    assert found, text_of(message)
    return found.group(0)


def cases(pg: psycopg.Connection) -> list[tuple[Any, ...]]:
    return pg.execute(
        "SELECT state, resolution, resolved_by FROM relink_case ORDER BY id"
    ).fetchall()


def emails(pg: psycopg.Connection) -> list[tuple[Any, ...]]:
    return pg.execute("SELECT kind, status FROM email_outbox ORDER BY id").fetchall()


def account_statuses(pg: psycopg.Connection) -> list[str]:
    return [row[0] for row in pg.execute("SELECT status FROM fc_account ORDER BY id")]


def relink_through_the_page(stack: Stack, sim: SimServer, link: str) -> str:
    assert requests.get(link, timeout=30).status_code == 200
    page = requests.post(f"{link}/session", timeout=30)  # the page's button
    assert page.status_code == 200, page.text
    found = re.search(r'name="session_id" value="([^"]+)"', page.text)
    assert found, page.text
    session_id = found.group(1)
    sim.client.clear_requests()  # count what the relink itself costs from here
    sim.client.complete_session(session_id, "success")
    done = requests.post(f"{link}/complete", data={"session_id": session_id}, timeout=30)
    assert done.status_code == 200
    assert "Your bank is reconnected" in done.text
    return session_id


def processed(pg: psycopg.Connection, event_type: str) -> int:
    return int(
        pg.execute(
            "SELECT count(*) FROM webhook_event WHERE type = %s AND status = 'processed'",
            (event_type,),
        ).fetchone()[0]  # type: ignore[index]
    )


def test_three_shuffled_reactivations_one_duplicated_after_a_relink_close_the_case_once(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    start(stack)
    sim.client.configure_delivery(shuffle=True, duplicates=1, seed=11)
    auth = authorization(sim)
    sim.client.deactivate_authorization(str(auth["id"]))
    [message] = smtp.wait_for(1, timeout=60)
    wait_until(lambda: ("reminder", "pending") in emails(pg), 20, "the reminders")

    relink_through_the_page(stack, sim, link_in(stack, message))

    wait_until(lambda: processed(pg, REACTIVATED) == 3, 30, "three reactivations processed")
    wait_until(lambda: cases(pg) == [("resolved", "reactivated", cases(pg)[0][2])], 10, "closed")
    time.sleep(2)  # a duplicate or the page's task, late, changes nothing
    [(state, resolution, resolved_by)] = cases(pg)
    assert (state, resolution) == ("resolved", "reactivated")
    assert resolved_by.startswith("evt_") or resolved_by == "relink"
    assert emails(pg) == [("relink", "sent"), ("reminder", "cancelled"), ("reminder", "cancelled")]
    assert account_statuses(pg) == ["active"] * 3
    reactivations = [d for d in sim.client.deliveries() if d["event_type"] == REACTIVATED]
    assert len(reactivations) >= 4  # three events, one delivered twice
    counts = call_counts(sim)
    print("stripe calls for one relink and its three reactivations:", counts)
    assert counts["authorization"] <= 1, counts
    assert counts["list"] <= 1, counts
    assert counts["account"] <= 3, counts
    assert len(smtp.received()) == 1


def test_a_reactivation_never_delivered_is_caught_by_the_stale_case_sweep(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    start(stack, STALE_CASE_AFTER_SECONDS="3", STALE_CASE_SWEEP_EVERY_SECONDS="1")
    auth = authorization(sim, n_accounts=2)
    sim.client.deactivate_authorization(str(auth["id"]))
    smtp.wait_for(1, timeout=60)
    sim.client.pause()  # from here on no webhook is delivered
    with sim.state.lock:
        scenarios.reactivate_authorization(sim.state, sim.state.authorizations[str(auth["id"])])

    wait_until(lambda: cases(pg) == [("resolved", "sweep", "sweep")], 30, "the sweep to close it")
    assert processed(pg, REACTIVATED) == 0
    assert account_statuses(pg) == ["active"] * 2
    assert ("reminder", "pending") not in emails(pg)


def test_the_events_backfill_records_a_missed_deactivation_and_the_email_follows(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    start(stack, EVENTS_BACKFILL_EVERY_SECONDS="1")
    auth = authorization(sim)
    created = "financial_connections.account.created"
    wait_until(lambda: processed(pg, created) == 3, 30, "the accounts to be recorded")
    sim.client.pause()  # the deactivations are never delivered
    sim.client.deactivate_authorization(str(auth["id"]))

    [message] = smtp.wait_for(1, timeout=60)
    assert all(last4 in text_of(message) for last4 in LAST4S)
    assert processed(pg, DEACTIVATED) == 3
    assert not [d for d in sim.client.deliveries() if d["event_type"] == DEACTIVATED]
    listed = sim.client.requests("/v1/events")
    assert listed
    assert listed[0]["params"]["type"] == "financial_connections.*"
    assert [row[0] for row in cases(pg)] == ["open"]


def test_two_workers_reconciling_one_authorization_at_once_neither_deadlock_nor_double_resolve(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    start(stack, workers=2, RECONCILE_WINDOW_SECONDS="0")  # every task reads from Stripe
    auth = authorization(sim)
    sim.client.deactivate_authorization(str(auth["id"]))
    smtp.wait_for(1, timeout=60)
    wait_until(lambda: [c[0] for c in cases(pg)] == ["open"], 10, "the case")
    sim.client.pause()
    with sim.state.lock:
        scenarios.reactivate_authorization(sim.state, sim.state.authorizations[str(auth["id"])])
    sim.client.clear_requests()

    tasks = 8
    celery = Celery("relink-test", broker=stack.env["CELERY_BROKER_URL"])
    celery.conf.task_default_queue = "relink"
    for _ in range(tasks):
        celery.send_task("relink.reconcile_authorization", args=[str(auth["id"]), "sweep"])

    wait_until(lambda: call_counts(sim)["authorization"] == tasks, 60, "every reconciliation")
    wait_until(lambda: [c[0] for c in cases(pg)] == ["resolved"], 10, "the case to resolve")
    time.sleep(1)
    resolved = pg.execute("SELECT count(*), min(resolved_at), max(resolved_at) FROM relink_case")
    count, first, last = resolved.fetchone()  # type: ignore[misc]
    assert (count, first) == (1, last)
    assert cases(pg) == [("resolved", "sweep", "sweep")]
    logs = stack.logs()
    assert "deadlock" not in logs.lower()
    assert "reconcile_given_up" not in logs


def test_proactive_relink_end_to_end(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    start(stack)
    auth = authorization(sim, n_accounts=2)
    expected = int(time.time()) + 20 * 86400
    sim.client.mark_authorization_upcoming_deactivation(
        str(auth["id"]), expected_deactivation_date=expected
    )
    [message] = smtp.wait_for(1, timeout=60)
    assert message["Subject"].startswith("Reconnect your First Platypus Bank account before ")
    assert all(last4 in text_of(message) for last4 in LAST4S[:2])
    wait_until(lambda: ("reminder", "pending") in emails(pg), 20, "the reminders")
    assert [c[0] for c in cases(pg)] == ["proactive"]

    relink_through_the_page(stack, sim, link_in(stack, message))

    wait_until(lambda: [c[:2] for c in cases(pg)] == [("resolved", "warning_cleared")], 30, "it")
    assert emails(pg) == [
        ("proactive", "sent"),
        ("reminder", "cancelled"),
        ("reminder", "cancelled"),
    ]
    assert len(smtp.received()) == 1


def test_a_warned_authorization_that_breaks_anyway_gets_no_second_first_email(
    stack: Stack, sim: SimServer, smtp: SmtpSink, pg: psycopg.Connection
) -> None:
    start(stack)
    auth = authorization(sim, n_accounts=2)
    for account in auth["accounts"]:
        sim.client.mark_upcoming_deactivation(account)
    smtp.wait_for(1, timeout=60)
    wait_until(lambda: ("reminder", "pending") in emails(pg), 20, "the reminders")

    sim.client.deactivate_authorization(str(auth["id"]))

    wait_until(lambda: processed(pg, DEACTIVATED) == 2, 30, "the deactivations")
    time.sleep(3)  # past the quiet period: a second first email would have gone
    assert [c[0] for c in cases(pg)] == ["open"]
    assert len(smtp.received()) == 1
    assert [kind for kind, _ in emails(pg)] == ["proactive", "reminder", "reminder"]
