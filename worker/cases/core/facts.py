# pyright: strict
"""The facts the core decides on: what relink learns about one authorization. Each carries
`now`, relink's clock (unix seconds) when the fact is handled."""

from __future__ import annotations

from dataclasses import dataclass

from shared.events.header import EventHeader
from shared.stripe_objects import AccountSnapshot, AuthorizationSnapshot
from worker.cases.core.state import Trigger

DEACTIVATED = "financial_connections.account.deactivated"
REACTIVATED = "financial_connections.account.reactivated"
DISCONNECTED = "financial_connections.account.disconnected"
CREATED = "financial_connections.account.created"
NUMBERS_UPDATED = "financial_connections.account.account_numbers_updated"
ACCOUNT_WARNINGS = (
    "financial_connections.account.upcoming_deactivation",
    "financial_connections.account.expected_deactivation_date_updated",
    "financial_connections.account.upcoming_account_number_expiry",
)
AUTHORIZATION_WARNINGS = (
    "financial_connections.authorization.upcoming_deactivation",
    "financial_connections.authorization.expected_deactivation_date_updated",
)


@dataclass(frozen=True)
class AccountEvent:
    """A `financial_connections.account.*` event and the account it carries."""

    header: EventHeader
    account: AccountSnapshot
    now: int


@dataclass(frozen=True)
class AuthorizationEvent:
    """A `financial_connections.authorization.*` warning."""

    header: EventHeader
    authorization: AuthorizationSnapshot
    now: int


@dataclass(frozen=True)
class AuthorizationRead:
    """The answer to `ReadAuthorization`: the authorization and every account on it, as the
    API gave them."""

    trigger: Trigger
    authorization: AuthorizationSnapshot | None
    accounts: tuple[AccountSnapshot, ...]
    now: int


@dataclass(frozen=True)
class AccountRead:
    """The answer to `RereadAccount`: the live account, for an event of the same second as
    the stored API read whose status differs; the event is then handled with it."""

    header: EventHeader
    account: AccountSnapshot
    now: int


@dataclass(frozen=True)
class ReconcileDue:
    """The reconcile task ran (`relink.reconcile_authorization`, asked for by
    `PublishReconcile`: after a relink, a saved payment method, or by the stale sweep)."""

    trigger: Trigger
    now: int


@dataclass(frozen=True)
class RelinkResult:
    """What the relink page read back from a finished session of the latest case's link:
    `account` or `authorization` (relinked), `new_account` (another account linked in the
    place of `asked_about`), or a failure reason."""

    result: str
    now: int
    asked_about: str | None = None
    new_account_id: str | None = None


@dataclass(frozen=True)
class PaymentMethodSaved:
    """The page saved a payment method from a newly linked account on the latest case."""

    payment_method_id: str
    now: int


@dataclass(frozen=True)
class PaymentMethodsBlocked:
    """The answer to `ListBlockedPaymentMethods`: the ids Stripe reports blocked."""

    case: int
    payment_method_ids: tuple[str, ...]
    now: int


@dataclass(frozen=True)
class EmailDue:
    """A timer: the pending rows with this key whose time came (the quiet period over, a
    reminder due) are claimed and planned."""

    key: str
    now: int


@dataclass(frozen=True)
class EmailConfirmed:
    """The answer to `ConfirmAccount`: the live account the claimed email is about, and
    whether an address was found for it."""

    case: int
    key: str
    live: AccountSnapshot
    now: int
    contact: bool = True


@dataclass(frozen=True)
class LinkExpired:
    """A timer: the case's signed link is past LINK_MAX_AGE. The page shows "expired" and
    offers a fresh link; the case itself does not change."""

    now: int


@dataclass(frozen=True)
class StaleSweep:
    """A timer: the stale-case sweep ran."""

    now: int


Fact = (
    AccountEvent
    | AuthorizationEvent
    | AuthorizationRead
    | AccountRead
    | ReconcileDue
    | RelinkResult
    | PaymentMethodSaved
    | PaymentMethodsBlocked
    | EmailDue
    | EmailConfirmed
    | LinkExpired
    | StaleSweep
)
