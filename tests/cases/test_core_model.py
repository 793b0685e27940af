"""The cases core checked over every ordering and duplication of small worlds' facts
(tests/cases/model.py): at least 10,000 distinct orderings, each step's invariants and the
end's (Stripe's final state stored, one open case exactly when a relink is needed, none for
an authorization that works, one first email per case, every sent email about its case's
accounts). A larger bound under RELINK_MODEL_FACTS (8: 1.5 million orderings more)."""

from __future__ import annotations

import os

import pytest

from tests.cases.model import (
    AUTHORIZATION,
    POLICY,
    START,
    InvariantBroken,
    Walk,
    World,
    check_end,
    explore,
    run,
    worlds,
)
from worker.cases.core.decide import decide
from worker.cases.core.facts import LinkExpired
from worker.cases.core.state import Account, AuthorizationState

MODEL_FACTS = int(os.environ.get("RELINK_MODEL_FACTS", "6"))


def test_every_ordering_of_the_small_worlds_keeps_the_invariants() -> None:
    orderings, steps, seconds = run(MODEL_FACTS, duplicates=1)
    assert orderings >= 10_000
    assert steps > orderings
    assert seconds < 60


def test_the_worlds_cover_every_kind_of_fact() -> None:
    kinds = {
        getattr(header, "type", None) or type(template).__name__
        for world in worlds(MODEL_FACTS)
        for header, template in world.facts
    }
    assert {
        "financial_connections.account.deactivated",
        "financial_connections.account.reactivated",
        "financial_connections.account.disconnected",
        "financial_connections.account.upcoming_deactivation",
        "financial_connections.account.upcoming_account_number_expiry",
        "Relinked",
        "Timer",
    } <= kinds


def test_the_model_sends_emails_and_catches_a_broken_rule() -> None:
    """The checker is not vacuous: its worlds send first emails and reminders, and an end
    state that lost its case is reported."""
    rr = "relink_required"
    world = World(1).step("deactivate", arg=rr).timer("due", "relink").timer("due", "reminder-1")
    walk = explore(world, duplicates=1)
    assert walk.sent["relink"] > 0
    assert walk.sent["reminder"] > 0
    stored = tuple(Account.of(s, START, "evt_000") for s in world.live())
    lost = AuthorizationState(AUTHORIZATION, stored)  # Stripe's accounts, but no case
    with pytest.raises(InvariantBroken, match="no case is open"):
        check_end(Walk(world, {s.id: s for s in world.live()}), lost)


def test_a_link_expiring_changes_nothing() -> None:
    state = World(1).initial()
    decision = decide(state, LinkExpired(now=5), POLICY)
    assert decision.state == state
    assert decision.effects == ()
