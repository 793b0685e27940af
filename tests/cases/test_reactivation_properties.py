"""Property: whatever order, duplication and delay the events of one authorization arrive in,
relink ends in Stripe's state with at most one first email per case.

Each example builds an authorization of 1-5 accounts in the simulator and moves it through
random steps (deactivations, relinks with random outcomes, disconnections); after each step
a random part of the pending events is delivered, shuffled and partly duplicated, the rest
held back for later, and due emails are sometimes sent. The events run through the real
process_event on SQLite, in-process. Bounded and derandomized for CI; more examples under
RELINK_PROPERTY_EXAMPLES.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlmodel import select

from shared.db import session_scope, utcnow
from shared.models import (
    OPEN_CASE_STATES,
    EmailOutbox,
    FcAccount,
    FcAuthorization,
    OutboxStatus,
    RelinkAttempt,
    RelinkCase,
    WebhookEvent,
)
from sim.testing import SimServer
from tests.cases.world import (
    Authorization,
    events_of,
    feed,
    new_authorization,
    relink,
)
from worker.cases import reconcile
from worker.emails import send

PROPERTY_EXAMPLES = int(os.environ.get("RELINK_PROPERTY_EXAMPLES", "50"))
RELINK_OUTCOMES = ("success", "no_account", "no_authorization", "other")
FIRST_EMAILS = ("relink", "proactive")

PROPERTY = settings(
    max_examples=PROPERTY_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

step = st.one_of(
    st.tuples(st.just("deactivate_authorization"), st.sampled_from(["relink_required", "none"])),
    st.tuples(st.just("deactivate_account"), st.integers(0, 4)),
    st.tuples(st.just("relink"), st.sampled_from(RELINK_OUTCOMES)),
    st.tuples(st.just("disconnect"), st.integers(0, 4)),
)


@pytest.fixture
def sim_env() -> dict[str, str]:
    return {"REMINDER_DELAYS_DAYS": "3,7"}


def empty_database() -> None:
    with session_scope() as session:
        for table in (RelinkAttempt, EmailOutbox, RelinkCase, FcAccount, FcAuthorization):
            session.execute(delete(table))
        session.execute(delete(WebhookEvent))


def act(sim: SimServer, auth: Authorization, action: tuple[str, Any]) -> bool:
    """Apply one step in the simulator; True when it was a successful relink (after which the
    relink page publishes a reconciliation)."""
    verb, arg = action
    if verb == "deactivate_authorization":
        if all(_sim_account(sim, a)["status"] != "active" for a in auth.accounts):
            return False
        sim.client.deactivate_authorization(auth.id, action=arg)
    elif verb == "deactivate_account":
        sim.client.deactivate_account(auth.accounts[arg % len(auth.accounts)])
    elif verb == "disconnect":
        sim.client.disconnect_account(auth.accounts[arg % len(auth.accounts)])
    elif verb == "relink":
        if all(_sim_account(sim, a)["status"] == "disconnected" for a in auth.accounts):
            return False
        relink(sim, auth, arg)
        return arg == "success"
    return False


def _sim_account(sim: SimServer, account_id: str) -> dict[str, Any]:
    with sim.state.lock:
        record = sim.state.accounts[account_id]
        return {
            "status": record.status,
            "inactive_action": record.inactive_action if record.status == "inactive" else None,
        }


def send_due_emails() -> None:
    with session_scope() as session:
        due = session.exec(
            select(EmailOutbox.id).where(
                EmailOutbox.status == OutboxStatus.PENDING, EmailOutbox.send_after <= utcnow()
            )
        ).all()
    for outbox_id in due:
        assert outbox_id is not None
        send.send_outbox(outbox_id)


@PROPERTY
@given(
    n_accounts=st.integers(1, 5),
    steps=st.lists(step, min_size=1, max_size=5),
    data=st.data(),
)
def test_any_interleaving_of_an_authorizations_events_ends_in_stripes_state(
    sim: SimServer, n_accounts: int, steps: list[tuple[str, Any]], data: st.DataObject
) -> None:
    empty_database()
    auth = new_authorization(sim, n_accounts=n_accounts)
    delivered: set[str] = set()
    pending: list[dict[str, Any] | str] = []  # events, or "reconcile" for the page's task

    def deliver(items: list[dict[str, Any] | str]) -> None:
        for item in items:
            if item == "reconcile":
                reconcile.run_reconciliation(auth.id, reconcile.RELINK)
            else:
                assert isinstance(item, dict)
                assert feed(item) in ("processed", "ignored")

    for action in [("deactivate_authorization", "relink_required"), *steps]:
        relinked = act(sim, auth, action)
        fresh = [e for e in events_of(sim, auth) if e["id"] not in delivered]
        delivered.update(e["id"] for e in fresh)
        pending += fresh + (["reconcile"] if relinked else [])
        now = (
            data.draw(st.lists(st.sampled_from(pending), unique_by=id), label="now")
            if pending
            else []
        )
        duplicates = (
            data.draw(st.lists(st.sampled_from(now), max_size=2), label="dup") if now else []
        )
        deliver(data.draw(st.permutations(now + duplicates), label="order"))
        pending = [p for p in pending if not any(p is n for n in now)]
        if data.draw(st.booleans(), label="send emails"):
            send_due_emails()
    deliver(data.draw(st.permutations(pending), label="the rest"))
    send_due_emails()

    # the stored state is Stripe's
    with session_scope() as session:
        stored = {a.id: a for a in session.exec(select(FcAccount)).all()}
        all_cases = list(session.exec(select(RelinkCase)).all())
        emails = list(session.exec(select(EmailOutbox)).all())
    for account_id in auth.accounts:
        truth = _sim_account(sim, account_id)
        mine = stored[account_id]
        seen = {"status": mine.status, "inactive_action": mine.inactive_action}
        assert seen == truth, account_id

    # at most one first email per case (reminders apart), and one of each purpose
    for case in all_cases:
        mine = [e for e in emails if e.case_id == case.id]
        assert len([e for e in mine if e.kind in FIRST_EMAILS]) <= 1
        assert len({e.message_id for e in mine}) == len(mine)
        assert case.emails_sent <= len([e for e in mine if e.status == OutboxStatus.SENT])

    # an open case exactly when an account still needs a relink
    needs_relink = any(
        _sim_account(sim, a) == {"status": "inactive", "inactive_action": "relink_required"}
        for a in auth.accounts
    )
    open_cases = [c for c in all_cases if c.state in OPEN_CASE_STATES]
    assert len(open_cases) == (1 if needs_relink else 0), [
        (c.state, c.resolution) for c in all_cases
    ]
