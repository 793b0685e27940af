# pyright: strict
"""What relink knows of one authorization, as immutable values: its accounts' latest
snapshots and their Stripe times, the authorization object's own warning, its cases and
their emails; and the settings the rules read (`Policy`). Times are unix seconds."""

from __future__ import annotations

from dataclasses import dataclass, replace

from shared.cases.lifecycle import OPEN_CASE_STATES, CaseState, EmailKind, OutboxStatus
from shared.stripe_objects import AccountSnapshot, AccountStatus, AuthorizationSnapshot

DAY = 86400
# The "event id" of a snapshot read from the API rather than from an event. It sorts after
# every `evt_` id, so an API read wins the tie with the events of its own second.
API_SNAPSHOT = "~api"

RELINK = "relink"
SWEEP = "sweep"
OUTBOX = "outbox"


@dataclass(frozen=True)
class Policy:
    """The settings the lifecycle reads (shared/settings), in seconds."""

    quiet_period: int = 60
    reminder_delays: tuple[int, ...] = (3 * DAY, 7 * DAY)
    horizon: int = 45 * DAY
    reconcile_window: int = 30
    stale_after: int = 6 * 3600
    reconnected_email: bool = False
    money_at_stake: bool = False

    def horizon_end(self, now: int) -> int:
        return now + self.horizon


@dataclass(frozen=True)
class Trigger:
    """What asked for a reconciliation: an event (its id and Stripe time), a successful
    relink, an email that found its account working, or a sweep."""

    name: str
    created: int | None = None

    @property
    def resolution(self) -> str:
        return SWEEP if self.name == SWEEP else "reactivated"

    @property
    def expects_repair(self) -> bool:
        """A successful relink, or an email that found its account working again: if what is
        stored still says a relink is needed, it predates the repair."""
        return self.name in (RELINK, OUTBOX)


def is_newer(created: int, event_id: str, state_at: int, state_event_id: str | None) -> bool:
    """Stripe's clock orders snapshots; the event id breaks ties so replays agree."""
    return (created, event_id) > (state_at, state_event_id or "")


@dataclass(frozen=True)
class Account:
    """An account as relink stored it (the `fc_account` row's lifecycle fields)."""

    id: str
    status: str
    inactive_cause: str | None = None
    inactive_action: str | None = None
    active_action: str | None = None
    expected_deactivation_date: int | None = None
    account_number_status: str | None = None
    account_number_expiry: int | None = None
    replaced_by: str | None = None
    last4: str | None = None
    holder_type: str | None = None
    state_at: int = 0
    state_event_id: str | None = None

    @classmethod
    def of(
        cls, snapshot: AccountSnapshot, at: int, event_id: str, replaced_by: str | None = None
    ) -> Account:
        return cls(
            id=snapshot.id,
            status=snapshot.status,
            inactive_cause=snapshot.inactive_cause,
            inactive_action=snapshot.inactive_action,
            active_action=snapshot.active.action,
            expected_deactivation_date=snapshot.active.expected_deactivation_date,
            account_number_status=snapshot.number.status,
            account_number_expiry=snapshot.number.expected_expiry_date,
            replaced_by=replaced_by,
            last4=snapshot.last4,
            holder_type=snapshot.holder.type if snapshot.holder else None,
            state_at=at,
            state_event_id=event_id,
        )

    @property
    def standing(self) -> tuple[str, str | None, str | None]:
        """Its status, and why and what to do when inactive (a change of it is a
        `relink.account.status_changed`)."""
        if self.status != AccountStatus.INACTIVE:
            return self.status, None, None
        return self.status, self.inactive_cause, self.inactive_action


@dataclass(frozen=True)
class AuthorizationView:
    """The authorization object's own state (its warning) and its last reconciliation."""

    status: str | None = None
    active_action: str | None = None
    expected_deactivation_date: int | None = None
    state_at: int = 0
    reconciled_at: int | None = None
    reconciled_through: int = 0

    def applied(self, live: AuthorizationSnapshot, at: int) -> AuthorizationView:
        return replace(
            self,
            status=live.status or self.status,
            active_action=live.active.action,
            expected_deactivation_date=live.active.expected_deactivation_date,
            state_at=at,
        )


@dataclass(frozen=True)
class Email:
    """An outbox row of a case: one per purpose (`key`), ever."""

    key: str
    kind: EmailKind
    status: OutboxStatus
    send_after: int
    named: tuple[str, ...] = ()  # the accounts a sent email named


@dataclass(frozen=True)
class Case:
    number: int  # the case's place in the authorization's history: its episode
    state: CaseState
    cause: str | None
    action: str | None
    account_id: str | None
    opened_at: int
    last_heard_at: int
    emails: tuple[Email, ...] = ()
    emails_sent: int = 0
    resolution: str | None = None
    resolved_by: str | None = None
    payment_method_id: str | None = None
    blocked_payment_methods: tuple[str, ...] = ()

    def email(self, key: str) -> Email | None:
        return next((e for e in self.emails if e.key == key), None)

    def with_email(self, email: Email) -> Case:
        if self.email(email.key) is None:
            return replace(self, emails=(*self.emails, email))
        return replace(self, emails=tuple(email if e.key == email.key else e for e in self.emails))


@dataclass(frozen=True)
class AuthorizationState:
    id: str
    accounts: tuple[Account, ...] = ()  # by last4 then id: the order emails name them
    authorization: AuthorizationView = AuthorizationView()
    cases: tuple[Case, ...] = ()

    def account(self, account_id: str) -> Account | None:
        return next((a for a in self.accounts if a.id == account_id), None)

    def case(self, number: int) -> Case | None:
        return next((c for c in self.cases if c.number == number), None)

    @property
    def open_case(self) -> Case | None:
        return next((c for c in self.cases if c.state in OPEN_CASE_STATES), None)

    @property
    def unrepairable_case(self) -> Case | None:
        return next((c for c in self.cases if c.state == CaseState.UNREPAIRABLE), None)

    def with_account(self, account: Account) -> AuthorizationState:
        others = [a for a in self.accounts if a.id != account.id]
        ordered = sorted([*others, account], key=lambda a: (a.last4 or "", a.id))
        return replace(self, accounts=tuple(ordered))

    def with_case(self, case: Case) -> AuthorizationState:
        if self.case(case.number) is None:
            return replace(self, cases=(*self.cases, case))
        cases = tuple(case if c.number == case.number else c for c in self.cases)
        return replace(self, cases=cases)

    def next_case_number(self) -> int:
        return len(self.cases) + 1
