# pyright: strict
"""`decide(state, fact)`: what one fact means for an authorization's case and its emails.
The new state and the effects come back as values; the shell applies them."""

from __future__ import annotations

from dataclasses import replace

from shared.cases.lifecycle import CaseState, EmailKind, OutboxStatus
from shared.events.header import EventHeader
from shared.platform_webhooks import payloads as events
from shared.stripe_objects import AccountSnapshot, AccountStatus
from worker.cases.core import verdicts
from worker.cases.core.classification import EmailTemplate, classify_deactivation
from worker.cases.core.effects import (
    ConfirmAccount,
    CountStep,
    Decision,
    ListBlockedPaymentMethods,
    PublishReconcile,
    RecordEvent,
    RereadAccount,
    SendEmail,
)
from worker.cases.core.emails import accounts_to_name, family_of, still_needed
from worker.cases.core.facts import (
    ACCOUNT_WARNINGS,
    CREATED,
    DEACTIVATED,
    DISCONNECTED,
    NUMBERS_UPDATED,
    REACTIVATED,
    AccountEvent,
    AccountRead,
    AuthorizationEvent,
    AuthorizationRead,
    EmailConfirmed,
    EmailDue,
    Fact,
    LinkExpired,
    PaymentMethodSaved,
    PaymentMethodsBlocked,
    ReconcileDue,
    RelinkResult,
    StaleSweep,
)
from worker.cases.core.standing import WARNING_CLEARED, number_of
from worker.cases.core.state import (
    API_SNAPSHOT,
    OUTBOX,
    RELINK,
    SWEEP,
    Account,
    AuthorizationState,
    Case,
    Policy,
    Trigger,
)
from worker.cases.core.transitions import (
    Change,
    add_email,
    after_reconcile,
    make_unrepairable,
    open_or_join,
    reconcile,
    resolve,
    review,
    store_snapshot,
)

FIRST_EMAILS = (EmailKind.RELINK, EmailKind.UNREPAIRABLE, EmailKind.PROACTIVE)
RELINKED = ("account", "authorization")


def decide(state: AuthorizationState, fact: Fact, policy: Policy | None = None) -> Decision:
    change = Change(state, policy or Policy())
    match fact:
        case AccountEvent(header, account, now):
            stored = store_snapshot(change, account, header.created, header.id, replace_equal=False)
            if stored is None and header.type != CREATED and _tied(change.state, header, account):
                change.emit(RereadAccount(header, account.id))
            else:
                _on_account_event(change, header, stored, now)
        case AccountRead(header, account, now):
            stored = store_snapshot(
                change, account, header.created, API_SNAPSHOT, replace_equal=True
            )
            _on_account_event(change, header, stored, now)
        case AuthorizationEvent(header, authorization, now):
            view = change.state.authorization
            if header.created >= view.state_at:
                applied = view.applied(authorization, header.created)
                change.state = replace(change.state, authorization=applied)
                reconcile(change, Trigger(header.id, header.created), now)
        case AuthorizationRead():
            _on_read(change, fact)
        case RelinkResult():
            _on_relink(change, fact)
        case PaymentMethodSaved(payment_method_id, now):
            case = _latest_going_on(change.state)
            if case is not None:
                if case.payment_method_id is None:
                    change.emit(CountStep("new_account_saved"))
                case = change.put(replace(case, payment_method_id=payment_method_id))
                change.emit(RecordEvent(events.PAYMENT_METHOD_CREATED, case.number))
                change.emit(PublishReconcile(Trigger(RELINK)))
        case PaymentMethodsBlocked(number, ids, _):
            case = change.state.case(number)
            new = [
                i for i in sorted(ids) if case is not None and i not in case.blocked_payment_methods
            ]
            if case is not None and new:
                change.put(
                    replace(case, blocked_payment_methods=(*case.blocked_payment_methods, *new))
                )
                change.emit(RecordEvent(events.PAYMENT_METHOD_BLOCKED, number))
        case EmailDue(key, now):
            for case in change.state.cases:
                email = case.email(key)
                if email and email.status == OutboxStatus.PENDING and email.send_after <= now:
                    _plan(change, case.number, key, now)
        case EmailConfirmed():
            _on_confirmed(change, fact)
        case StaleSweep(now):
            case = change.state.open_case
            if case is not None and case.last_heard_at < now - change.policy.stale_after:
                change.put(replace(case, last_heard_at=now))
                change.emit(PublishReconcile(Trigger(SWEEP)))
        case ReconcileDue(trigger, now):
            reconcile(change, trigger, now)
        case LinkExpired():
            pass  # the page shows "expired" and offers a fresh link; the case goes on
    return change.decision()


def _tied(state: AuthorizationState, header: EventHeader, account: AccountSnapshot) -> bool:
    """An event of the same second as the stored API read, saying something else: time
    cannot order them, so Stripe is asked (`account.created` is only stored, never asked)."""
    current = state.account(account.id)
    return (
        current is not None
        and current.state_at == header.created
        and current.state_event_id == API_SNAPSHOT
        and (current.status, current.inactive_action, current.active_action)
        != (account.status, account.inactive_action, account.active.action)
    )


def _on_account_event(
    change: Change, header: EventHeader, stored: Account | None, now: int
) -> None:
    if header.type == REACTIVATED:  # reconciled whether or not its snapshot was newer
        reconcile(change, Trigger(header.id, header.created), now)
    elif stored is None:
        return  # an older snapshot: what is stored already says more
    elif header.type == DEACTIVATED:
        if stored.status == AccountStatus.INACTIVE and stored.replaced_by is None:
            deactivation = classify_deactivation(stored.inactive_cause, stored.inactive_action)
            open_or_join(change, stored.id, deactivation, now)
    elif header.type == DISCONNECTED:
        _on_disconnected(change, header, stored, now)
    elif header.type in (*ACCOUNT_WARNINGS, NUMBERS_UPDATED):
        review(change, live=False, resolution=WARNING_CLEARED, resolved_by=header.id, now=now)
        case = change.state.open_case
        current = change.state.account(stored.id)
        if (
            header.type == NUMBERS_UPDATED
            and case is not None
            and current is not None
            and number_of(current).stopped
            and current.holder_type == "customer"
        ):
            change.emit(ListBlockedPaymentMethods(case.number, current.id))


def _on_disconnected(change: Change, header: EventHeader, stored: Account, now: int) -> None:
    case = change.state.open_case
    if stored.status != AccountStatus.DISCONNECTED or case is None:
        return
    seen = verdicts.OpenCase(case.state, case.account_id, case.emails_sent)
    verdict = verdicts.disconnection(change.standing(now), seen, stored.id)
    if verdict.step is verdicts.Step.RETARGET and verdict.account is not None:
        change.put(replace(case, account_id=verdict.account.id))
    elif verdict.step is verdicts.Step.RESOLVE:
        resolve(change, case, verdicts.DISCONNECTED, header.id)
    elif verdict.step is verdicts.Step.UNREPAIRABLE:
        make_unrepairable(change, case, now)


def _on_read(change: Change, read: AuthorizationRead) -> None:
    """The API's answer: the authorization and its accounts stored as of `at`, then the
    review (live)."""
    at = max(read.now, read.trigger.created or 0)
    view = change.state.authorization
    if read.authorization is not None and at >= view.state_at:
        view = view.applied(read.authorization, at)
    for account in sorted(read.accounts, key=lambda a: a.id):
        store_snapshot(change, account, at, API_SNAPSHOT, replace_equal=True)
    view = replace(
        view, reconciled_at=read.now, reconciled_through=max(view.reconciled_through, at)
    )
    change.state = replace(change.state, authorization=view)
    after_reconcile(change, read.trigger, read.now)


def _latest_going_on(state: AuthorizationState) -> Case | None:
    """The case a link's page may still act for: the latest, while open or resolved (its own
    relink is usually what resolved it)."""
    latest = state.cases[-1] if state.cases else None
    if latest is None or latest.state == CaseState.UNREPAIRABLE:
        return None
    return latest


def _on_relink(change: Change, result: RelinkResult) -> None:
    case = _latest_going_on(change.state)
    if case is None:
        return
    if result.result == "new_account" and result.new_account_id:
        asked_about = result.asked_about or case.account_id
        for account in change.state.accounts:
            if (
                account.id != result.new_account_id
                and account.replaced_by is None
                and (account.id == asked_about or account.status == AccountStatus.INACTIVE)
            ):
                replaced = replace(account, replaced_by=result.new_account_id)
                change.state = change.state.with_account(replaced)
    elif result.result not in RELINKED:
        return  # a failed relink: the case goes on
    change.emit(PublishReconcile(Trigger(RELINK)))


def _plan(change: Change, number: int, key: str, now: int) -> None:
    """A claimed email: cancelled when its case no longer calls for it, the case resolved
    when nothing is left to name, else confirmed with Stripe first (`ConfirmAccount`)."""
    case = change.state.case(number)
    email = case.email(key) if case else None
    if case is None or email is None:
        return
    reconnected = email.kind == EmailKind.RECONNECTED
    if (case.state == CaseState.RESOLVED) != reconnected:
        change.put(case.with_email(replace(email, status=OutboxStatus.CANCELLED)))
        return
    family = family_of(case.state, case.cause, case.action, reconnected)
    named = _named(change, case, family, now)
    if not named:  # nothing left to name by our own records
        if family not in (EmailTemplate.UNREPAIRABLE, EmailTemplate.RECONNECTED):
            ending = WARNING_CLEARED if family is EmailTemplate.PROACTIVE else "reactivated"
            case = resolve(change, case, ending, OUTBOX)
        change.put(case.with_email(replace(email, status=OutboxStatus.CANCELLED)))
        return
    primary = next((a for a in named if a.id == case.account_id), named[0])
    change.put(case.with_email(replace(email, status=OutboxStatus.SENDING)))
    change.emit(ConfirmAccount(number, key, primary.id))


def _named(change: Change, case: Case, family: EmailTemplate, now: int) -> list[Account]:
    horizon_end = change.policy.horizon_end(now)
    return accounts_to_name(change.state.accounts, family, change.state.authorization, horizon_end)


def _on_confirmed(change: Change, confirmed: EmailConfirmed) -> None:
    """The live account says whether the claimed email still goes out."""
    now, case = confirmed.now, change.state.case(confirmed.case)
    email = case.email(confirmed.key) if case else None
    if case is None or email is None or email.status != OutboxStatus.SENDING:
        return
    reconnected = email.kind == EmailKind.RECONNECTED
    family = family_of(case.state, case.cause, case.action, reconnected)
    if not still_needed(family, confirmed.live, change.policy.horizon_end(now)):
        if family is EmailTemplate.RECONNECTED:
            change.put(case.with_email(replace(email, status=OutboxStatus.CANCELLED)))
            return
        store_snapshot(change, confirmed.live, now, API_SNAPSHOT, replace_equal=True)
        reconcile(change, Trigger(OUTBOX), now)
        return
    if not confirmed.contact:
        state = CaseState.NO_CONTACT if case.state == CaseState.OPEN else case.state
        email = replace(email, status=OutboxStatus.NO_CONTACT)
        change.put(replace(case.with_email(email), state=state))
        return
    kind = email.kind
    if kind == EmailKind.PROACTIVE and family is not EmailTemplate.PROACTIVE:
        kind = EmailKind.RELINK  # warned, then broken before the email left: say so
    named = tuple(a.id for a in _named(change, case, family, now))
    change.emit(SendEmail(case.number, email.key, kind, named))
    case = case.with_email(replace(email, status=OutboxStatus.SENT, named=named))
    state = CaseState.OPEN if case.state == CaseState.NO_CONTACT else case.state
    case = change.put(replace(case, emails_sent=case.emails_sent + 1, state=state))
    if kind in FIRST_EMAILS:
        change.emit(CountStep("emailed"))
    if kind in (EmailKind.REMINDER, EmailKind.FRESH_LINK):
        change.emit(RecordEvent(events.CASE_REMINDER_DUE, case.number))
    if kind in (EmailKind.RELINK, EmailKind.PROACTIVE):
        for number, delay in enumerate(change.policy.reminder_delays, start=1):
            case = add_email(change, case, EmailKind.REMINDER, f"reminder-{number}", now + delay)
