"""A relink where the customer links a new account in place of the broken ones: Stripe may
reactivate the old accounts or leave them inactive (the simulator's
`new_account_reactivates_old`); either way the case ends and nothing asks about them again."""

from __future__ import annotations

import pytest
from sqlmodel import select

from api.relink_page.repository import mark_replaced, replaced_by_new
from shared.db import session_scope
from shared.models import FcAccount, OutboxStatus, RelinkCase
from sim.testing import SimServer
from tests.cases.world import cases, events_of, feed, new_authorization, outbox_rows, relink
from worker.cases import reconcile
from worker.cases.core.standing import REPLACED, Standing, ending_of

DEACTIVATED = "financial_connections.account.deactivated"


def account(id_: str, status: str = "inactive", replaced_by: str | None = None) -> FcAccount:
    return FcAccount(id=id_, status=status, replaced_by=replaced_by)


def test_a_new_account_replaces_the_asked_about_account_and_every_one_still_down() -> None:
    accounts = [
        account("fca_asked", status="active"),  # reactivated meanwhile: still the one replaced
        account("fca_down"),
        account("fca_working", status="active"),
        account("fca_before", replaced_by="fca_older"),
        account("fca_new", status="active"),
    ]
    replaced = replaced_by_new(accounts, "fca_asked", "fca_new")
    assert [a.id for a in replaced] == ["fca_asked", "fca_down"]


def test_a_case_ends_replaced_only_when_its_own_account_was_replaced() -> None:
    gone = account("fca_old", replaced_by="fca_new")
    standing = Standing(broken=[], warned=[], active=[], replaced=[gone])
    own = RelinkCase(authorization_id="fca_auth", account_id="fca_old")
    later = RelinkCase(authorization_id="fca_auth", account_id="fca_new")
    assert ending_of(own.account_id, standing, "reactivated") == REPLACED
    assert ending_of(later.account_id, standing, "reactivated") == "reactivated"


@pytest.mark.parametrize("reactivates", [False, True])
def test_a_new_account_relink_ends_the_case_and_the_old_accounts_ask_nothing_again(
    sim: SimServer, reactivates: bool
) -> None:
    # given two accounts deactivated, one case with its email and reminders pending
    sim.client.set_behaviours(new_account_reactivates_old=reactivates)
    auth = new_authorization(sim, n_accounts=2)
    sim.client.deactivate_authorization(auth.id)
    deactivations = events_of(sim, auth, DEACTIVATED)
    for event in deactivations:
        feed(event)
    [case] = cases()
    assert case.id is not None

    # when the customer links a new account, the page records the replacement
    session_id = relink(sim, auth, "new_account")
    [linked] = sim.client.session(session_id)["accounts"]["data"]
    new_id = str(linked["id"])
    with session_scope() as db:
        stored = db.get(RelinkCase, case.id)
        assert stored is not None
        replaced = mark_replaced(db, stored, auth.accounts[0], new_id)
    assert replaced == sorted(auth.accounts)
    reconcile.run_reconciliation(auth.id)

    # then the case is resolved, as replaced where Stripe left the old accounts inactive
    [case] = cases()
    assert case.state == "resolved"
    assert case.resolution == ("reactivated" if reactivates else REPLACED)
    assert {r.status for r in outbox_rows()} == {OutboxStatus.CANCELLED}
    with session_scope() as db:
        old = {a.id: a for a in db.exec(select(FcAccount)) if a.id in auth.accounts}
    assert {a.replaced_by for a in old.values()} == {new_id}
    assert {a.status for a in old.values()} == {"active" if reactivates else "inactive"}

    # and a late deactivation, a later break, a reconciliation or a sweep open nothing new
    for event in deactivations:
        feed(event)
    if reactivates:
        sim.client.deactivate_account(auth.accounts[0])
        for event in events_of(sim, auth, DEACTIVATED)[len(deactivations) :]:
            feed(event)
    reconcile.run_reconciliation(auth.id, reconcile.SWEEP)
    assert [(c.id, c.state) for c in cases()] == [(case.id, "resolved")]
    assert {r.status for r in outbox_rows()} == {OutboxStatus.CANCELLED}
