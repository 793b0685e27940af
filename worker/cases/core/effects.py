# pyright: strict
"""What a decision asks the shell to do, as values: emails to write or cancel, platform
events to record, Stripe reads to make (answered by a fact), metrics to count."""

from __future__ import annotations

from dataclasses import dataclass

from shared.cases.lifecycle import EmailKind
from shared.events.header import EventHeader
from worker.cases.core.state import AuthorizationState, Trigger


@dataclass(frozen=True)
class WriteEmail:
    case: int
    kind: EmailKind
    key: str
    send_after: int


@dataclass(frozen=True)
class CancelEmails:
    """Cancel the case's pending emails."""

    case: int


@dataclass(frozen=True)
class SendEmail:
    """Deliver the claimed email (it was confirmed with Stripe) naming these accounts."""

    case: int
    key: str
    kind: EmailKind
    named: tuple[str, ...]


@dataclass(frozen=True)
class RecordEvent:
    """A platform event (shared/platform_webhooks/payloads.py) about a case or an account."""

    type: str
    case: int | None = None
    account: str | None = None


@dataclass(frozen=True)
class ReadAuthorization:
    """Read the authorization and all its accounts from the API (`AuthorizationRead`)."""

    trigger: Trigger


@dataclass(frozen=True)
class PublishReconcile:
    """Queue a reconciliation of the authorization after the commit (`ReconcileDue`)."""

    trigger: Trigger


@dataclass(frozen=True)
class RereadAccount:
    """Read the event's account from the API to settle a tie (`AccountRead`)."""

    header: EventHeader
    account: str


@dataclass(frozen=True)
class ConfirmAccount:
    """Read the account a claimed email is about, live (`EmailConfirmed`)."""

    case: int
    key: str
    account: str


@dataclass(frozen=True)
class ListBlockedPaymentMethods:
    """List the holder's PaymentMethods Stripe blocked on this account."""

    case: int
    account: str


@dataclass(frozen=True)
class CountStep:
    """A funnel step (shared/metrics.FUNNEL_STEPS)."""

    step: str


@dataclass(frozen=True)
class RequestRecovery:
    """The case's accounts work again: retry its failed payments (RECOVER_FAILED_PAYMENTS)."""

    case: int


@dataclass(frozen=True)
class AssessMoneyAtStake:
    case: int
    delay: int


Effect = (
    WriteEmail
    | CancelEmails
    | SendEmail
    | RecordEvent
    | ReadAuthorization
    | PublishReconcile
    | RereadAccount
    | ConfirmAccount
    | ListBlockedPaymentMethods
    | CountStep
    | RequestRecovery
    | AssessMoneyAtStake
)


@dataclass(frozen=True)
class Decision:
    state: AuthorizationState
    effects: tuple[Effect, ...] = ()
