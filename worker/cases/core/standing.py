# pyright: strict
"""What an authorization's stored accounts mean: which are broken (a relink repairs them),
which are warned (they will need one soon), which work, which a new account replaced.

The rules read any account-like value (the stored `FcAccount` row or the core's `Account`)
through the `AccountFacts` protocol, and take the horizon as unix seconds: no clock here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from shared.stripe_objects import AccountNumber, AccountStatus, Action

PROACTIVE_CAUSE = "upcoming_deactivation"
NUMBER_EXPIRY_CAUSE = "upcoming_account_number_expiry"
WARNING_CLEARED = "warning_cleared"
REPLACED = "replaced"


class AccountFacts(Protocol):
    """What the rules read of an account."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def inactive_action(self) -> str | None: ...
    @property
    def active_action(self) -> str | None: ...
    @property
    def expected_deactivation_date(self) -> int | None: ...
    @property
    def account_number_status(self) -> str | None: ...
    @property
    def account_number_expiry(self) -> int | None: ...
    @property
    def replaced_by(self) -> str | None: ...


class AuthorizationFacts(Protocol):
    """What the rules read of an authorization object (its own warning)."""

    @property
    def status(self) -> str | None: ...
    @property
    def active_action(self) -> str | None: ...
    @property
    def expected_deactivation_date(self) -> int | None: ...


A = TypeVar("A", bound=AccountFacts)


def is_broken(account: AccountFacts) -> bool:
    """Inactive and repairable by a relink, and not replaced by a newly linked account."""
    return (
        account.status == AccountStatus.INACTIVE
        and account.inactive_action == Action.RELINK_REQUIRED
        and account.replaced_by is None
    )


def due_soon(action: str | None, expected: int | None, horizon_end: int) -> bool:
    if action != Action.RELINK_REQUIRED:
        return False
    return expected is None or expected <= horizon_end


def number_of(account: AccountFacts) -> AccountNumber:
    return AccountNumber(account.account_number_status, account.account_number_expiry)


def number_due(account: AccountFacts, horizon_end: int) -> bool:
    """Its tokenized account number has stopped working or expires within the horizon."""
    return number_of(account).needs_refresh(horizon_end)


def is_warned(account: AccountFacts, horizon_end: int) -> bool:
    """Still working, but Stripe expects it to need a relink within the horizon, or its
    tokenized number does (unless the customer already linked another account in its
    place)."""
    return (
        account.replaced_by is None
        and account.status == AccountStatus.ACTIVE
        and (
            due_soon(account.active_action, account.expected_deactivation_date, horizon_end)
            or number_due(account, horizon_end)
        )
    )


def warning_cause(account: AccountFacts, horizon_end: int) -> str:
    """Why a working account is warned: its tokenized number alone, or the link itself."""
    if due_soon(account.active_action, account.expected_deactivation_date, horizon_end):
        return PROACTIVE_CAUSE
    return NUMBER_EXPIRY_CAUSE if number_due(account, horizon_end) else PROACTIVE_CAUSE


@dataclass(frozen=True)
class Standing(Generic[A]):
    """The authorization's accounts that need a relink now, and those that will soon."""

    broken: list[A]
    warned: list[A]
    active: list[A]
    replaced: list[A]
    """Not working, but a new-account relink linked another in their place."""

    @property
    def accounts_to_relink(self) -> list[A]:
        """What a relink is for: the broken accounts, else the warned ones (empty: none)."""
        return self.broken or self.warned


def standing(
    accounts: Sequence[A], authorization: AuthorizationFacts | None, horizon_end: int
) -> Standing[A]:
    """The standing of an authorization's accounts (in the order emails name them); an
    authorization-level warning warns every working account."""
    active = [a for a in accounts if a.status == AccountStatus.ACTIVE]
    warned = [a for a in active if is_warned(a, horizon_end)]
    if (
        not warned
        and authorization is not None
        and authorization.status == AccountStatus.ACTIVE
        and due_soon(
            authorization.active_action, authorization.expected_deactivation_date, horizon_end
        )
    ):
        warned = [a for a in active if a.replaced_by is None]  # every working account
    replaced = [a for a in accounts if a.replaced_by and a.status != AccountStatus.ACTIVE]
    return Standing([a for a in accounts if is_broken(a)], warned, active, replaced)


def ending_of(case_account_id: str | None, standing: Standing[A], resolution: str) -> str:
    """How a case with nothing left to repair ends: `replaced` when the account it opened for
    is still not working but the customer linked another in its place (Stripe may leave it
    inactive after a new-account relink), else `resolution`."""
    replaced = any(a.id == case_account_id for a in standing.replaced)
    return REPLACED if replaced else resolution
