# pyright: strict
"""Every case transition, over the authorization's state: store a snapshot if newer, open or
join a case, open a proactive one, resolve, review against the stored accounts, reconcile.

`Change` gathers the new state and the effects of one decision; `decide`
(worker/cases/core/decide.py) hands it out as an immutable `Decision`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from shared.cases.lifecycle import (
    OPEN_CASE_STATES,
    REPAIRED_RESOLUTIONS,
    CaseState,
    EmailKind,
    OutboxStatus,
    resolution_step,
)
from shared.platform_webhooks import payloads as events
from shared.stripe_objects import AccountSnapshot, AccountStatus, Action
from worker.cases.core import verdicts
from worker.cases.core.classification import Deactivation, classify_deactivation
from worker.cases.core.effects import (
    AssessMoneyAtStake,
    CancelEmails,
    CountStep,
    Decision,
    Effect,
    ReadAuthorization,
    RecordEvent,
    RequestRecovery,
    WriteEmail,
)
from worker.cases.core.standing import Standing, standing, warning_cause
from worker.cases.core.state import (
    OUTBOX,
    Account,
    AuthorizationState,
    Case,
    Email,
    Policy,
    Trigger,
    is_newer,
)


@dataclass
class Change:
    """The state as one decision leaves it, and what it asks of the shell."""

    state: AuthorizationState
    policy: Policy
    effects: list[Effect] = field(default_factory=lambda: [])

    def emit(self, *effects: Effect) -> None:
        self.effects.extend(effects)

    def put(self, case: Case) -> Case:
        self.state = self.state.with_case(case)
        return case

    def standing(self, now: int) -> Standing[Account]:
        horizon_end = self.policy.horizon_end(now)
        return standing(self.state.accounts, self.state.authorization, horizon_end)

    def decision(self) -> Decision:
        return Decision(self.state, tuple(self.effects))


def store_snapshot(
    change: Change, live: AccountSnapshot, created: int, event_id: str, *, replace_equal: bool
) -> Account | None:
    """Store the account as of Stripe time `created`; return it, or None if the stored state
    is newer. With `replace_equal` a snapshot of the same time and id replaces the stored one
    (a later API read of the same second)."""
    stored = change.state.account(live.id)
    if stored is not None and not is_newer(
        created, event_id, stored.state_at, stored.state_event_id
    ):
        same = (created, event_id) == (stored.state_at, stored.state_event_id)
        if not (replace_equal and same):
            return None
    account = Account.of(live, created, event_id, stored.replaced_by if stored else None)
    change.state = change.state.with_account(account)
    before = stored.standing if stored else None
    if account.standing != before and (before is not None or account.status != "active"):
        case = change.state.open_case
        number = case.number if case else None
        change.emit(RecordEvent(events.ACCOUNT_STATUS_CHANGED, number, account.id))
    return account


def add_email(change: Change, case: Case, kind: EmailKind, key: str, send_after: int) -> Case:
    """The case with its row for `key`, written unless it exists (one per purpose, ever)."""
    if case.email(key) is not None:
        return case
    change.emit(WriteEmail(case.number, kind, key, send_after))
    return change.put(case.with_email(Email(key, kind, OutboxStatus.PENDING, send_after)))


def open_or_join(change: Change, account_id: str, deactivation: Deactivation, now: int) -> Case:
    """Open the authorization's case for a deactivation or join the one there; opening writes
    its one email, due after the quiet period (siblings arriving meanwhile join it)."""
    state = change.state
    if deactivation.repairable:
        case, kind = state.open_case, EmailKind.RELINK
        new_state = CaseState.OPEN
    else:
        case, kind = state.unrepairable_case, EmailKind.UNREPAIRABLE
        new_state = CaseState.UNREPAIRABLE
    opened = broken_now = case is None
    if case is None:
        cause, action = deactivation.cause, deactivation.action
        case = Case(state.next_case_number(), new_state, cause, action, account_id, now, now)
    case = replace(case, last_heard_at=now)
    if case.state == CaseState.PROACTIVE and deactivation.repairable:
        # Warned ahead, now broken: the relink email goes out.
        case = replace(
            case, state=CaseState.OPEN, cause=deactivation.cause, action=deactivation.action
        )
        change.emit(CountStep("deactivated"))
        broken_now = True
    change.put(case)
    if broken_now and change.policy.money_at_stake:
        change.emit(AssessMoneyAtStake(case.number, change.policy.quiet_period))
    if case.state in (CaseState.OPEN, CaseState.UNREPAIRABLE):
        case = add_email(
            change, case, kind, kind.value, case.opened_at + change.policy.quiet_period
        )
    if opened:
        unrepairable = case.state == CaseState.UNREPAIRABLE
        opened_type = events.CASE_UNREPAIRABLE if unrepairable else events.CASE_OPENED
        change.emit(RecordEvent(opened_type, case.number), CountStep("deactivated"))
        if unrepairable:
            change.emit(CountStep("unrepairable"))
    return case


def open_proactive(change: Change, account: Account, now: int) -> Case:
    """A `proactive` case and its one first email ("reconnect before <date>"), due after the
    quiet period, under the relink email's key: if the account deactivates anyway, the case
    goes on as a normal one without a second first email."""
    cause = warning_cause(account, change.policy.horizon_end(now))
    number = change.state.next_case_number()
    case = Case(number, CaseState.PROACTIVE, cause, Action.RELINK_REQUIRED, account.id, now, now)
    change.put(case)
    case = add_email(change, case, EmailKind.PROACTIVE, "relink", now + change.policy.quiet_period)
    change.emit(RecordEvent(events.CASE_OPENED, number))
    return case


def cancel_pending(change: Change, case: Case) -> Case:
    cancelled = tuple(
        replace(e, status=OutboxStatus.CANCELLED) if e.status == OutboxStatus.PENDING else e
        for e in case.emails
    )
    change.emit(CancelEmails(case.number))
    return change.put(replace(case, emails=cancelled))


def resolve(change: Change, case: Case, resolution: str, resolved_by: str | None) -> Case:
    """Close the case and cancel its pending emails."""
    case = cancel_pending(change, case)
    case = change.put(
        replace(case, state=CaseState.RESOLVED, resolution=resolution, resolved_by=resolved_by)
    )
    change.emit(RecordEvent(events.CASE_RESOLVED, case.number))
    if (step := resolution_step(resolution, case.payment_method_id)) is not None:
        change.emit(CountStep(step))
    if resolution in REPAIRED_RESOLUTIONS:  # its accounts work again
        change.emit(RequestRecovery(case.number))
    return case


def review(
    change: Change, *, live: bool, resolution: str, resolved_by: str | None, now: int
) -> None:
    """Bring the open case in line with the stored accounts (worker/cases/core/verdicts.py)."""
    case = change.state.open_case
    seen = verdicts.OpenCase(case.state, case.account_id, case.emails_sent) if case else None
    verdict = verdicts.review(
        change.standing(now),
        seen,
        live=live,
        resolution=resolution,
        reconnected_email=change.policy.reconnected_email,
    )
    if verdict.step is verdicts.Step.OPEN and verdict.account is not None:
        account = verdict.account
        deactivation = classify_deactivation(account.inactive_cause, account.inactive_action)
        open_or_join(change, account.id, deactivation, now)
    elif verdict.step is verdicts.Step.OPEN_PROACTIVE and verdict.account is not None:
        open_proactive(change, verdict.account, now)
    elif verdict.step is verdicts.Step.RESOLVE and case is not None:
        case = resolve(change, case, verdict.resolution or resolution, resolved_by)
        if verdict.reconnected_email:
            add_email(change, case, EmailKind.RECONNECTED, "reconnected", now)


def make_unrepairable(change: Change, case: Case, now: int) -> None:
    """Nothing repairable is left: one "new payment method" email, due now."""
    case = cancel_pending(change, case)
    case = replace(
        case,
        state=CaseState.UNREPAIRABLE,
        cause=AccountStatus.DISCONNECTED,
        action=Action.NONE,
        last_heard_at=now,
    )
    case = add_email(change, change.put(case), EmailKind.UNREPAIRABLE, "unrepairable", now)
    change.emit(RecordEvent(events.CASE_UNREPAIRABLE, case.number))


def recently_reconciled(change: Change, trigger: Trigger, now: int) -> bool:
    """A reconciliation within the window that already saw the trigger's moment."""
    view = change.state.authorization
    if view.reconciled_at is None or now - view.reconciled_at >= change.policy.reconcile_window:
        return False
    return trigger.created is None or trigger.created <= view.reconciled_through


def reconcile(change: Change, trigger: Trigger, now: int) -> None:
    """Review the case against a fresh read of the authorization (`ReadAuthorization`,
    answered by `AuthorizationRead`), or against what is stored when a recent read already
    covered the trigger (coalesced)."""
    stale = trigger.expects_repair and bool(change.standing(now).accounts_to_relink)
    if recently_reconciled(change, trigger, now) and not stale:
        after_reconcile(change, trigger, now)
    else:
        change.emit(ReadAuthorization(trigger))


def after_reconcile(change: Change, trigger: Trigger, now: int) -> None:
    review(change, live=True, resolution=trigger.resolution, resolved_by=trigger.name, now=now)
    if trigger.name == OUTBOX:
        settle_unsent(change, now)


def settle_unsent(change: Change, now: int) -> None:
    """An email whose account turned out working, after the reconciliation: given back to be
    planned again while its case is open or unrepairable (a sibling still needs it), else
    cancelled."""
    for case in change.state.cases:
        going_on = case.state in (*OPEN_CASE_STATES, CaseState.UNREPAIRABLE)
        settled = tuple(
            e
            if e.status != OutboxStatus.SENDING
            else replace(e, status=OutboxStatus.PENDING, send_after=now)
            if going_on
            else replace(e, status=OutboxStatus.CANCELLED)
            for e in case.emails
        )
        if settled != case.emails:
            change.put(replace(case, emails=settled))
