"""The simulator's in-memory world: records, configuration and logs behind one lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sim.versions import GA_DEFAULT


@dataclass
class Customer:
    id: str
    email: str | None
    created: int
    default_payment_method: str | None = None
    """`invoice_settings.default_payment_method`."""
    preferred_locales: list[str] = field(default_factory=list)
    """The customer's languages, most preferred first (Stripe's IETF tags)."""


@dataclass
class ConnectedAccount:
    id: str
    email: str | None
    created: int


@dataclass
class Holder:
    type: str  # "customer" | "account"
    id: str

    def render(self) -> dict[str, Any]:
        return {"type": self.type, self.type: self.id}


@dataclass
class Authorization:
    id: str
    holder: Holder
    institution_name: str
    institution: str
    created: int
    status: str = "active"  # active | inactive | disconnected
    inactive_action: str | None = None
    active_action: str | None = None
    expected_deactivation_date: int | None = None


@dataclass
class Account:
    id: str
    authorization: str
    holder: Holder
    institution_name: str
    institution: str
    created: int
    last4: str
    subcategory: str
    category: str
    display_name: str
    permissions: list[str]
    session: str | None = None
    status: str = "active"  # active | inactive | disconnected
    inactive_action: str | None = None
    inactive_cause: str | None = None
    active_action: str | None = None
    active_cause: str | None = None
    expected_deactivation_date: int | None = None
    account_number_status: str | None = None
    """The tokenized account number's own status (sim/account_numbers.py); None: it follows
    the account's."""
    account_number_expiry: int | None = None
    """The tokenized account number's `expected_expiry_date`."""


@dataclass
class Session:
    id: str
    client_secret: str
    created: int
    holder: Holder | None
    permissions: list[str]
    account_subcategories: list[str] | None
    limit_accounts: int | None
    country: str | None
    relink_authorization: str | None
    relink_account: str | None
    return_url: str | None
    ui_mode: str = "modal"  # modal | hosted
    hosted_delivery_method: str | None = None
    url: str | None = None
    """Where a hosted session's page is (`/_sim/hosted/{id}` on the simulator's origin)."""
    accounts: list[str] = field(default_factory=list)
    status: str = "pending"  # pending | succeeded | failed | cancelled
    result_account: str | None = None
    result_authorization: str | None = None
    failure_reason: str | None = None
    cancelled_reason: str | None = None
    scenario: dict[str, Any] = field(default_factory=lambda: {"outcome": "success"})
    """What the fake Stripe.js does when this session is collected in a browser."""


@dataclass
class SetupIntent:
    id: str
    client_secret: str
    created: int
    customer: str | None
    payment_method: str | None
    financial_connections_account: str | None
    billing_name: str | None
    allowed_payment_method_types: list[str]
    usage: str
    status: str
    mandate: str | None = None
    customer_acceptance: dict[str, Any] | None = None
    """`mandate_data[customer_acceptance]` as confirmed with the API (none from Stripe.js)."""


@dataclass
class PaymentMethod:
    """A `us_bank_account` PaymentMethod on a Financial Connections account."""

    id: str
    created: int
    financial_connections_account: str
    last4: str
    billing_name: str | None
    customer: str | None = None
    blocked_reason: str | None = None
    """`us_bank_account.status_details.blocked.reason` (a deactivated tokenized number)."""


@dataclass
class SubscriptionItem:
    """One item of a subscription: a recurring per-unit price (its own, not a catalog's)."""

    id: str
    created: int
    price: str
    currency: str
    unit_amount: int
    interval: str  # day | week | month | year
    interval_count: int
    quantity: int
    usage_type: str = "licensed"


@dataclass
class Subscription:
    """What relink reads and writes: its customer, status, default payment method and
    items."""

    id: str
    created: int
    customer: str
    status: str  # active | trialing | past_due | canceled | unpaid | incomplete | paused | ...
    default_payment_method: str | None
    items: list[SubscriptionItem] = field(default_factory=list)


@dataclass
class PaymentIntent:
    """One payment attempt of an invoice: on `payment_method`, `processing` while an ACH
    debit settles, then `succeeded`, or `requires_payment_method` with `last_payment_error`."""

    id: str
    created: int
    amount: int
    currency: str
    customer: str
    invoice: str
    payment_method: str
    status: str
    last_payment_error: dict[str, Any] | None = None


@dataclass
class Invoice:
    """A charge_automatically invoice: `open` (its attempts failed, or one is processing),
    `paid`, `void` or `uncollectible`; `payment_intents` are its attempts, oldest first."""

    id: str
    created: int
    customer: str
    amount_due: int
    currency: str
    status: str
    subscription: str | None = None
    payment_intents: list[str] = field(default_factory=list)
    paid_at: int | None = None
    voided_at: int | None = None
    marked_uncollectible_at: int | None = None
    ach_outcome: str = "succeeded"
    """What a processing ACH debit of this invoice ends as (`succeeded` or `failed`)."""


@dataclass
class Event:
    id: str
    type: str
    created: int
    api_version: str
    body: dict[str, Any]
    """The payload frozen at creation, rendered at `api_version` (Stripe never re-renders)."""
    object_id: str
    account: str | None = None
    """The connected account the object lives on (None: the platform's own)."""
    pending_webhooks: int = 0
    failed: bool = False
    payload: str | None = None
    """The exact webhook body, fixed on first delivery so every attempt is byte-identical."""
    thin_id: str | None = None
    """The id of its thin twin (`v2.core.event`, `snapshot_event` naming this one), for the
    types Stripe also publishes as thin events (`v1.financial_connections.account.*`)."""
    thin_payload: str | None = None
    """The exact thin webhook body, fixed like `payload`."""


FC_EVENT_TYPES = (
    "financial_connections.account.created",
    "financial_connections.account.deactivated",
    "financial_connections.account.reactivated",
    "financial_connections.account.disconnected",
    "financial_connections.account.upcoming_deactivation",
    "financial_connections.account.expected_deactivation_date_updated",
    "financial_connections.account.upcoming_account_number_expiry",
    "financial_connections.account.account_numbers_updated",
    "financial_connections.authorization.upcoming_deactivation",
    "financial_connections.authorization.expected_deactivation_date_updated",
)


@dataclass
class WebhookEndpoint:
    url: str
    secret: str
    api_version: str
    id: str = ""
    enabled_events: list[str] = field(default_factory=lambda: list(FC_EVENT_TYPES))
    created: int = 0
    connect: bool = False
    """A Connect endpoint: events of connected accounts only (Stripe's `connect=true`)."""
    event_payload: str = "snapshot"
    """An event destination's `event_payload`: `snapshot` (the v1 event) or `thin` (a
    `v2.core.event` notification naming the related object; types without one are skipped)."""


@dataclass
class DeliveryConfig:
    duplicates: int = 0
    """Extra copies of each event to deliver (Stripe may deliver an event more than once)."""
    shuffle: bool = False
    delay_s: float = 0.0
    paused: bool = False
    retry_delays_s: list[float] = field(default_factory=lambda: [0.2, 0.5, 1.0])
    """Delay before each retry; attempts = 1 + len(retry_delays_s)."""
    timeout_s: float = 5.0
    seed: int | None = None
    concurrency: int = 1
    """Deliveries in flight at once (Stripe sends many); 1 sends them one by one, in order."""


@dataclass
class Behaviours:
    """What Stripe does not document, so a test can run relink against either reading."""

    detach_clears_defaults: bool = True
    """Detaching a PaymentMethod clears the Customer's and Subscriptions' defaults naming it
    (False: they keep naming the detached one, as dj-stripe#1836 and #1155 report)."""
    new_account_reactivates_old: bool = True
    """A relink that links a new account also reactivates the authorization's old accounts
    (False: they stay inactive)."""


@dataclass
class Faults:
    error_rate: float = 0.0
    slow_s: float = 0.0
    drop_rate: float = 0.0
    path_prefix: str = "/v1/"


@dataclass
class LoggedRequest:
    id: str
    method: str
    path: str
    route: str
    params: dict[str, Any]
    stripe_version: str | None
    idempotency_key: str | None
    status: int
    at: float
    stripe_account: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "route": self.route,
            "params": self.params,
            "stripe_version": self.stripe_version,
            "idempotency_key": self.idempotency_key,
            "status": self.status,
            "at": self.at,
            "stripe_account": self.stripe_account,
        }


@dataclass
class StoredResponse:
    fingerprint: str
    status: int
    body: bytes


@dataclass
class Scope:
    """The objects of one Stripe account: the platform's own ('') or a connected account's.
    The same id may live in two scopes, as two unrelated objects."""

    customers: dict[str, Customer] = field(default_factory=dict)
    authorizations: dict[str, Authorization] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    authorization_accounts: dict[str, list[str]] = field(default_factory=dict)
    """Authorization id → its account ids, oldest first (so a bank-wide outage of 100,000
    accounts is not a scan of every account per authorization)."""
    sessions: dict[str, Session] = field(default_factory=dict)
    setup_intents: dict[str, SetupIntent] = field(default_factory=dict)
    payment_methods: dict[str, PaymentMethod] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    payment_intents: dict[str, PaymentIntent] = field(default_factory=dict)


class SimState:
    """Everything the simulator knows. Hold `lock` while reading or changing it."""

    def __init__(self, rate_limit_per_second: float = 25.0) -> None:
        self.lock = threading.RLock()
        self.default_rate_limit = rate_limit_per_second
        self.on_events: list[Any] = []
        """Callbacks `fn(list[Event])` run (under the lock) when events are created."""
        self.reset()

    def reset(self) -> None:
        """Forget every object, event, log and setting (webhook endpoint included)."""
        with self.lock:
            self.connected_accounts: dict[str, ConnectedAccount] = {}
            self.scopes: dict[str, Scope] = {}
            self.stripe_account = ""
            """The account acting now (`Stripe-Account`); '' is the platform."""
            self.events: dict[str, Event] = {}
            self.thin_events: dict[str, str] = {}
            """Thin event id → the id of the snapshot event it twins."""
            self.webhook: WebhookEndpoint | None = None
            self.connect_webhook: WebhookEndpoint | None = None
            self.default_api_version = GA_DEFAULT
            self.delivery = DeliveryConfig()
            self.faults = Faults()
            self.behaviours = Behaviours()
            self.rate_limit_per_second = self.default_rate_limit
            self.requests: list[LoggedRequest] = []
            self.request_counts: dict[str, int] = {}
            self.idempotency: dict[str, StoredResponse] = {}
            self.deliveries: list[dict[str, Any]] = []
            self.generation = getattr(self, "generation", 0) + 1
            """Bumped on reset so the delivery thread drops work queued before it."""

    @contextmanager
    def acting_as(self, stripe_account: str | None) -> Iterator[Scope]:
        """Hold the lock and read and write `stripe_account`'s objects (None or '': the
        platform's) through `customers`, `authorizations`, `accounts`, `sessions`,
        `setup_intents` until the block ends."""
        with self.lock:
            before, self.stripe_account = self.stripe_account, stripe_account or ""
            try:
                yield self.scope
            finally:
                self.stripe_account = before

    @property
    def scope(self) -> Scope:
        return self.scopes.setdefault(self.stripe_account, Scope())

    @property
    def customers(self) -> dict[str, Customer]:
        return self.scope.customers

    @property
    def authorizations(self) -> dict[str, Authorization]:
        return self.scope.authorizations

    @property
    def accounts(self) -> dict[str, Account]:
        return self.scope.accounts

    @property
    def sessions(self) -> dict[str, Session]:
        return self.scope.sessions

    @property
    def setup_intents(self) -> dict[str, SetupIntent]:
        return self.scope.setup_intents

    @property
    def payment_methods(self) -> dict[str, PaymentMethod]:
        return self.scope.payment_methods

    @property
    def subscriptions(self) -> dict[str, Subscription]:
        return self.scope.subscriptions

    @property
    def invoices(self) -> dict[str, Invoice]:
        return self.scope.invoices

    @property
    def payment_intents(self) -> dict[str, PaymentIntent]:
        return self.scope.payment_intents

    def endpoint_for(self, event: Event) -> WebhookEndpoint | None:
        """Events of connected accounts go to the Connect endpoint, the platform's to the
        other; a thin endpoint gets only the events that have a thin twin."""
        endpoint = self.connect_webhook if event.account else self.webhook
        if endpoint is not None and endpoint.event_payload == "thin" and event.thin_id is None:
            return None
        return endpoint
