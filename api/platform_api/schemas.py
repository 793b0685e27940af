"""The API's response and request bodies (pydantic models, in the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.cases.contacts import EMAIL, LOCALE
from shared.platform_webhooks.payloads import BlockedPaymentMethod, Holder


class Case(BaseModel):
    object: Literal["relink_case"] = "relink_case"
    id: int
    state: str = Field(description="open, proactive, no_contact, unrepairable or resolved")
    authorization_id: str
    account_id: str | None = Field(description="the account whose deactivation opened it")
    stripe_account: str | None = Field(
        default=None, description="the connected account its objects live on (Connect); null: yours"
    )
    holder: Holder | None
    institution: str | None
    cause: str | None
    action: str | None
    opened_at: datetime
    last_heard_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    emails_sent: int
    next_reminder_at: datetime | None
    payment_method_id: str | None = Field(description="saved from a newly linked account")
    blocked_payment_methods: list[BlockedPaymentMethod] = Field(
        default_factory=list,
        description="its accounts' PaymentMethods Stripe blocked (a tokenized number stopped)",
    )


class CaseList(BaseModel):
    object: Literal["list"] = "list"
    url: str
    data: list[Case]
    has_more: bool


class Account(BaseModel):
    """A Financial Connections account as relink last saw it, and what it means."""

    object: Literal["fc_account"] = "fc_account"
    id: str
    authorization_id: str | None
    holder: Holder | None
    institution: str | None
    display_name: str | None
    last4: str | None
    subcategory: str | None
    status: str = Field(description="Stripe's: active, inactive or disconnected")
    standing: str = Field(description="relink's view: active, warned, inactive or disconnected")
    inactive_cause: str | None
    inactive_action: str | None
    active_action: str | None
    expected_deactivation_at: datetime | None
    needs_relink: bool
    open_case_id: int | None
    updated_at: datetime


class TimelineEntry(BaseModel):
    at: datetime
    kind: str = Field(description="case, event, email, attempt, payment_method or invoice")
    id: str
    what: str
    detail: str
    recipient: str | None = Field(
        default=None, description="an email's address: masked unless the key has read:pii"
    )


class CaseDetail(Case):
    accounts: list[Account]
    timeline: list[TimelineEntry]


class Link(BaseModel):
    object: Literal["relink_link"] = "relink_link"
    case_id: int
    account_id: str
    url: str = Field(description="the signed relink page link; treat it as a credential")
    expires_at: datetime


class Resend(BaseModel):
    object: Literal["relink_resend"] = "relink_resend"
    case_id: int
    outcome: Literal["queued"]


class ContactIn(BaseModel):
    email: str = Field(max_length=320, pattern=f"^{EMAIL.pattern}$")
    name: str | None = Field(default=None, max_length=255, pattern=r"^[^\x00-\x1f\x7f]*$")
    locale: str | None = Field(default=None, max_length=35, pattern=f"^{LOCALE.pattern}$")


class ContactOut(BaseModel):
    object: Literal["contact"] = "contact"
    subject_type: str
    subject_id: str
    email: str = Field(description="masked unless the key has read:pii")
    name: str | None
    locale: str | None
    updated_at: datetime


class DeliveryAttempt(BaseModel):
    started_at: datetime
    duration_ms: int
    status_code: int | None = Field(description="the endpoint's answer; null: none came")
    error: str | None = Field(description="timeout, ConnectionError, HTTP 500, …")
    response_body: str | None = Field(
        description="the answer's first 1024 bytes as text (U+FFFD for undecodable bytes)"
    )


class Delivery(BaseModel):
    """One platform webhook and its delivery to PLATFORM_WEBHOOK_URL."""

    object: Literal["webhook_delivery"] = "webhook_delivery"
    id: int
    webhook_id: str = Field(description="the `webhook-id` header, the same on every attempt")
    type: str
    case_id: int | None
    sequence_key: str = Field(description="case:<id> or account:…: what `sequence` numbers")
    sequence: int
    status: str = Field(description="pending, sending, delivered, failed or held")
    attempt_count: int
    next_attempt_at: datetime | None = Field(description="when it is tried next (pending)")
    created_at: datetime
    delivered_at: datetime | None
    redelivered_at: datetime | None
    last_error: str | None
    attempts: list[DeliveryAttempt] = Field(description="oldest first")


class DeliveryList(BaseModel):
    object: Literal["list"] = "list"
    url: str
    data: list[Delivery]
    has_more: bool
