"""What a relink step can end in: the errors the routes map to an HTTP status, and the
outcomes they render as pages. None of them carries a secret except `Collect` and
`ConfirmSetup`, whose `client_secret` goes into the page body of a POST answer only."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import InvalidRequestError, NotFoundError, RateLimitError, UnavailableError

# errors (the routes render each as its page, never as JSON)


class UnknownCase(NotFoundError):
    """The link is validly signed but its case is gone."""

    code = "unknown_case"


class UnknownSession(InvalidRequestError):
    """A session (or SetupIntent) id that no attempt of this link's case recorded."""

    code = "unknown_session"


class StripeUnavailable(UnavailableError):
    """Stripe refused or could not be reached; the customer should retry later."""

    code = "stripe_unavailable"


class Busy(RateLimitError):
    """This case's request limit, or the api's Stripe budget, is spent for now."""

    code = "busy"


# outcomes (the routes render them)


@dataclass(frozen=True)
class Bank:
    """What the page says about the bank link: never an id or a secret. `institution` None:
    neither Stripe nor our records name the bank (the page says "your bank", in its language)."""

    institution: str | None
    display_name: str | None = None
    last4: str | None = None


@dataclass(frozen=True)
class Reconnected:
    bank: Bank


@dataclass(frozen=True)
class Unrepairable:
    bank: Bank


@dataclass(frozen=True)
class Start:
    """The link's page: a button that opens the session (POST …/session). Mode `account`
    relinks the account; `authorization` (after `no_account`) links any checking or savings
    account at the institution."""

    bank: Bank
    mode: str


@dataclass(frozen=True)
class Collect:
    """Run `collectFinancialConnectionsAccounts` on this session (mode as in Start)."""

    bank: Bank
    session_id: str
    client_secret: str
    mode: str
    stripe_account: str = ""  # Stripe.js's `stripeAccount` (a connected account's case)


@dataclass(frozen=True)
class Redirect:
    """RELINK_UI=stripe_hosted: send the browser to the session's hosted `url` (303)."""

    url: str


@dataclass(frozen=True)
class Failed:
    bank: Bank
    reason: str  # no_authorization, other, cancelled, pending


@dataclass(frozen=True)
class NewAccount:
    """A newly linked account: ask for the account holder's name before the mandate."""

    bank: Bank
    session_id: str
    name: str | None


@dataclass(frozen=True)
class ConfirmSetup:
    bank: Bank
    setup_intent_id: str
    client_secret: str
    name: str | None  # None: an earlier request's SetupIntent, with the name given then
    stripe_account: str = ""  # Stripe.js's `stripeAccount` (a connected account's case)


@dataclass(frozen=True)
class PaymentMethodSaved:
    bank: Bank


@dataclass(frozen=True)
class FreshLink:
    sent: bool  # False: one was asked for moments ago, or
    daily_cap: bool = False  # FRESH_LINK_DAILY_CAP were sent today


Outcome = (
    Reconnected
    | Unrepairable
    | Start
    | Collect
    | Redirect
    | Failed
    | NewAccount
    | ConfirmSetup
    | PaymentMethodSaved
    | FreshLink
)
