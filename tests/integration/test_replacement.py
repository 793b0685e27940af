"""A new-account relink end to end (uvicorn, Celery, PostgreSQL, the simulator), under both
readings of what Stripe does to the old accounts: reactivate them, or leave them inactive.
Either way the case ends once and the customer is not asked about them again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from celery import Celery

from shared.events.catalog import RECONCILE_AUTHORIZATION
from sim.testing import SimServer
from tests.integration.stack import Stack, wait_until
from tests.integration.test_payment_switch import Http, world_in_postgres
from tests.payments.pages import save_new_payment_method

DEACTIVATED = "financial_connections.account.deactivated"
PENDING_EMAILS = "SELECT count(*) FROM email_outbox WHERE status = 'pending'"


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"PAGE_STRIPE_RATE_LIMIT": "1000", "QUIET_PERIOD_SECONDS": "0"}


def case_rows(pg: psycopg.Connection) -> list[tuple[Any, ...]]:
    query = "SELECT id, state, resolution, next_reminder_at FROM relink_case ORDER BY id"
    return [tuple(r) for r in pg.execute(query).fetchall()]


def processed(pg: psycopg.Connection, event_type: str) -> int:
    query = "SELECT count(*) FROM webhook_event WHERE type = %s AND status = 'processed'"
    row = pg.execute(query, (event_type,)).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("reactivates", [False, True])
def test_a_new_account_ends_the_case_and_the_replaced_accounts_ask_nothing_again(
    stack: Stack,
    sim: SimServer,
    pg: psycopg.Connection,
    pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    reactivates: bool,
) -> None:
    sim.client.set_behaviours(new_account_reactivates_old=reactivates)
    stack.start_worker()
    world = world_in_postgres(sim, stack, pg_database, monkeypatch)
    save_new_payment_method(Http(stack.base_url), world, sim)  # type: ignore[arg-type]

    ending = "reactivated" if reactivates else "replaced"
    wait_until(lambda: case_rows(pg) == [(world.case_id, "resolved", ending, None)], 60, "the case")
    old = pg.execute(
        "SELECT id, status, replaced_by FROM fc_account WHERE id = ANY(%s) ORDER BY id",
        (world.accounts,),
    ).fetchall()
    [new] = {r[2] for r in old}
    assert new is not None
    assert new not in world.accounts
    assert {r[1] for r in old} == {"active" if reactivates else "inactive"}
    assert pg.execute(PENDING_EMAILS).fetchone() == (0,)

    # Stripe says again that an old account is down, or it breaks again after its
    # reactivation, and a sweep reconciles the authorization: no case, no email
    if reactivates:
        before = processed(pg, DEACTIVATED)
        sim.client.deactivate_account(world.accounts[0])
        wait_until(lambda: processed(pg, DEACTIVATED) > before, 60, "the deactivation processed")
    worker_log = tmp_path / "worker0.log"
    reconciled = worker_log.read_text(errors="replace").count("authorization_reconciled")
    broker = Celery(broker=stack.env["CELERY_BROKER_URL"])
    broker.send_task(RECONCILE_AUTHORIZATION, args=[world.authorization, "sweep"], queue="relink")
    wait_until(
        lambda: (
            worker_log.read_text(errors="replace").count("authorization_reconciled") > reconciled
        ),
        60,
        "the sweep's reconciliation",
    )
    assert case_rows(pg) == [(world.case_id, "resolved", ending, None)]
    assert pg.execute(PENDING_EMAILS).fetchone() == (0,)
