"""The cases core's facts the model's worlds do not tell: a new account linked in place of a
broken one, a saved payment method, blocked PaymentMethods, an email with no address, an
authorization-level warning."""

from __future__ import annotations

from shared.cases.lifecycle import CaseState, EmailKind, OutboxStatus
from shared.events.header import EventHeader
from shared.platform_webhooks.payloads import PAYMENT_METHOD_BLOCKED
from shared.stripe_objects import AccountSnapshot, ActiveDetails, AuthorizationSnapshot
from tests.cases.model import AUTHORIZATION, HOLDER, POLICY, World
from worker.cases.core import facts as f
from worker.cases.core.decide import decide
from worker.cases.core.effects import (
    ConfirmAccount,
    CountStep,
    PublishReconcile,
    ReadAuthorization,
    RecordEvent,
    SendEmail,
)
from worker.cases.core.state import AuthorizationState


def broken(n_accounts: int = 1) -> tuple[World, AuthorizationState]:
    """A world whose accounts all deactivated (relink required), relink told so."""
    world = World(n_accounts).step("deactivate", arg="relink_required")
    state = world.initial()
    for header, snapshot in world.facts:
        assert header is not None
        assert isinstance(snapshot, AccountSnapshot)
        state = decide(state, f.AccountEvent(header, snapshot, 2_000_000), POLICY).state
    return world, state


def test_a_new_account_replaces_the_broken_ones_and_the_read_ends_the_case_replaced() -> None:
    world, state = broken(2)
    asked = f.RelinkResult("new_account", 2_000_010, asked_about="fca_1", new_account_id="fca_9")
    decision = decide(state, asked, POLICY)
    assert {a.id: a.replaced_by for a in decision.state.accounts} == {
        "fca_1": "fca_9",
        "fca_2": "fca_9",
    }
    (publish,) = [e for e in decision.effects if isinstance(e, PublishReconcile)]
    due = decide(decision.state, f.ReconcileDue(publish.trigger, 2_000_011), POLICY)
    (read,) = [e for e in due.effects if isinstance(e, ReadAuthorization)]
    answer = f.AuthorizationRead(read.trigger, None, world.live(), 2_000_012)
    case = decide(due.state, answer, POLICY).state.cases[0]
    assert (case.state, case.resolution) == (CaseState.RESOLVED, "replaced")


def test_a_saved_payment_method_is_counted_once_and_reconciles() -> None:
    _, state = broken()
    first = decide(state, f.PaymentMethodSaved("pm_1", 2_000_010), POLICY)
    again = decide(first.state, f.PaymentMethodSaved("pm_1", 2_000_011), POLICY)
    assert CountStep("new_account_saved") in first.effects
    assert CountStep("new_account_saved") not in again.effects
    assert first.state.cases[0].payment_method_id == "pm_1"
    assert any(isinstance(e, PublishReconcile) for e in first.effects)


def test_blocked_payment_methods_are_kept_once_each() -> None:
    _, state = broken()
    first = decide(state, f.PaymentMethodsBlocked(1, ("pm_2", "pm_1"), 2_000_010), POLICY)
    again = decide(first.state, f.PaymentMethodsBlocked(1, ("pm_1",), 2_000_011), POLICY)
    assert first.state.cases[0].blocked_payment_methods == ("pm_1", "pm_2")
    assert RecordEvent(PAYMENT_METHOD_BLOCKED, 1) in first.effects
    assert again.effects == ()


def test_an_email_without_an_address_leaves_the_case_without_contact_until_one_is_sent() -> None:
    world, state = broken()
    due = decide(state, f.EmailDue("relink", 2_001_000), POLICY)
    assert ConfirmAccount(1, "relink", "fca_1") in due.effects
    live = world.live()[0]
    lost = decide(due.state, f.EmailConfirmed(1, "relink", live, 2_001_001, contact=False), POLICY)
    case = lost.state.cases[0]
    assert case.state == CaseState.NO_CONTACT
    email = case.email("relink")
    assert email is not None
    assert email.status == OutboxStatus.NO_CONTACT


def test_a_sent_relink_email_schedules_its_reminders() -> None:
    world, state = broken()
    due = decide(state, f.EmailDue("relink", 2_001_000), POLICY)
    sent = decide(due.state, f.EmailConfirmed(1, "relink", world.live()[0], 2_001_001), POLICY)
    assert SendEmail(1, "relink", EmailKind.RELINK, ("fca_1",)) in sent.effects
    case = sent.state.cases[0]
    assert case.emails_sent == 1
    assert [e.key for e in case.emails] == ["relink", "reminder-1"]


def test_an_authorization_warning_is_stored_and_reconciled_unless_older() -> None:
    state = World(1).initial()
    warning = AuthorizationSnapshot(
        AUTHORIZATION, "active", HOLDER, active=ActiveDetails("relink_required", 2_100_000)
    )
    kind = f.AUTHORIZATION_WARNINGS[0]
    newer = EventHeader("evt_2", kind, 2_000_000, False, None, None)
    older = EventHeader("evt_1", kind, 1_999_000, False, None, None)
    decision = decide(state, f.AuthorizationEvent(newer, warning, 2_000_001), POLICY)
    assert decision.state.authorization.active_action == "relink_required"
    assert any(isinstance(e, ReadAuthorization) for e in decision.effects)
    stale = decide(decision.state, f.AuthorizationEvent(older, warning, 2_000_002), POLICY)
    assert stale.effects == ()
