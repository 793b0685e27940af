"""SQLModel tables: the inbox, the accounts relink watches, cases, outbox and attempts.

Timestamps relink makes are timezone-aware UTC datetimes, read back aware on SQLite too
(`AwareDateTime`); Stripe's own times (`created`, `state_at`) stay unix seconds as Stripe
gives them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from shared.cases.lifecycle import OPEN_CASE_STATES as OPEN_CASE_STATES
from shared.cases.lifecycle import REPAIRED_RESOLUTIONS as REPAIRED_RESOLUTIONS
from shared.cases.lifecycle import CaseState as CaseState
from shared.cases.lifecycle import EmailKind as EmailKind
from shared.cases.lifecycle import OutboxStatus as OutboxStatus
from shared.connect import PLATFORM, current_account
from shared.db import AwareDateTime, utcnow
from shared.delivery import DeliveryStatus, Outbox


def _ts(*, nullable: bool = True, index: bool = False) -> Column[datetime]:
    return Column(AwareDateTime(), nullable=nullable, index=index)


class EventStatus(StrEnum):
    RECEIVED = "received"  # in the inbox, to be processed
    PROCESSED = "processed"
    IGNORED = "ignored"  # a type relink does not handle
    FAILED = "failed"  # permanent error: retrying cannot help
    DEAD = "dead"  # transient errors outlasted every retry


class WebhookEvent(SQLModel, table=True):
    """The inbox: every verified Stripe event, keyed by its evt_ id."""

    __tablename__ = "webhook_event"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (Index("ix_webhook_event_status_enqueued", "status", "enqueued_at"),)

    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=255, index=True)
    livemode: bool
    api_version: str | None = Field(default=None, max_length=64)
    created: int = Field(description="Stripe's event.created (unix seconds)")
    account: str | None = Field(default=None, max_length=255)
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(default=EventStatus.RECEIVED, max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    received_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    enqueued_at: datetime | None = Field(default=None, sa_column=_ts())
    processed_at: datetime | None = Field(default=None, sa_column=_ts())


class FcAuthorization(SQLModel, table=True):
    __tablename__ = "fc_authorization"  # pyright: ignore[reportAssignmentType]

    id: str = Field(primary_key=True, max_length=255)
    # The Stripe account the object lives on ('' the platform's, else a connected account's):
    # the same id on two connected accounts is two rows. New rows take the acting account.
    stripe_account: str = Field(default_factory=current_account, primary_key=True, max_length=255)
    institution_name: str | None = Field(default=None, max_length=255)
    holder_type: str | None = Field(default=None, max_length=16)
    holder_id: str | None = Field(default=None, max_length=255)
    status: str | None = Field(default=None, max_length=32)
    state_at: int = 0
    active_action: str | None = Field(default=None, max_length=64)
    expected_deactivation_date: int | None = None
    # The last reconciliation from the API: when (our clock) and as of which Stripe time.
    reconciled_at: datetime | None = Field(default=None, sa_column=_ts())
    reconciled_through: int = Field(default=0, description="Stripe time of that snapshot")
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class FcAccount(SQLModel, table=True):
    """Last known state of a Financial Connections account, as of Stripe time `state_at`."""

    __tablename__ = "fc_account"  # pyright: ignore[reportAssignmentType]

    id: str = Field(primary_key=True, max_length=255)
    # The Stripe account the object lives on ('' the platform's, else a connected account's):
    # the same id on two connected accounts is two rows. New rows take the acting account.
    stripe_account: str = Field(default_factory=current_account, primary_key=True, max_length=255)
    authorization_id: str | None = Field(default=None, max_length=255, index=True)
    holder_type: str | None = Field(default=None, max_length=16)
    holder_id: str | None = Field(default=None, max_length=255, index=True)
    institution_name: str | None = Field(default=None, max_length=255)
    display_name: str | None = Field(default=None, max_length=255)
    last4: str | None = Field(default=None, max_length=4)
    subcategory: str | None = Field(default=None, max_length=32)
    status: str = Field(max_length=32)
    inactive_cause: str | None = Field(default=None, max_length=64)
    inactive_action: str | None = Field(default=None, max_length=64)
    active_action: str | None = Field(default=None, max_length=64)
    expected_deactivation_date: int | None = None
    permissions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state_at: int = Field(default=0, description="Stripe time of the snapshot")
    state_event_id: str | None = Field(default=None, max_length=255)
    # The account a new-account relink linked in its place: relink asks nothing more of it.
    replaced_by: str | None = Field(default=None, max_length=255)
    # Its tokenized account number (`account_numbers`): status and `expected_expiry_date`.
    account_number_status: str | None = Field(default=None, max_length=32)
    account_number_expiry: int | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class RelinkCase(SQLModel, table=True):
    """One customer problem: at most one open case per authorization."""

    __tablename__ = "relink_case"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index(
            "uq_relink_case_open_authorization",
            "stripe_account",
            "authorization_id",
            unique=True,
            sqlite_where=text("state IN ('open', 'proactive', 'no_contact')"),
            postgresql_where=text("state IN ('open', 'proactive', 'no_contact')"),
        ),
        Index("ix_relink_case_state_last_heard", "state", "last_heard_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    stripe_account: str = Field(default_factory=current_account, max_length=255)
    authorization_id: str = Field(max_length=255, index=True)
    account_id: str | None = Field(
        default=None, max_length=255, description="the account whose deactivation opened it"
    )
    state: str = Field(default=CaseState.OPEN, max_length=16)
    cause: str | None = Field(default=None, max_length=64)
    action: str | None = Field(default=None, max_length=64)
    opened_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    last_heard_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    # Any change to the row (the API's `updated_since`): set by SQLAlchemy on every UPDATE.
    updated_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(
            AwareDateTime(),
            nullable=False,
            index=True,
            onupdate=utcnow,
            server_default=text("CURRENT_TIMESTAMP"),  # for code from before 0009 (0023)
        ),
    )
    resolved_at: datetime | None = Field(default=None, sa_column=_ts())
    resolution: str | None = Field(default=None, max_length=255)
    resolved_by: str | None = Field(
        default=None, max_length=255, description="the event id, relink or sweep"
    )
    emails_sent: int = 0
    next_reminder_at: datetime | None = Field(default=None, sa_column=_ts(index=True))
    # Set from the relink page: a payment method saved from a newly linked account, and
    # when the customer last asked for a fresh link (the api's own rate limit).
    payment_method_id: str | None = Field(default=None, max_length=255)
    fresh_link_requested_at: datetime | None = Field(default=None, sa_column=_ts())
    # The first GET of the link's page while the case was open (the dashboard's funnel).
    link_first_opened_at: datetime | None = Field(default=None, sa_column=_ts())
    # Links signed before this show "expired": set by a contact change or an explicit revoke.
    links_revoked_at: datetime | None = Field(default=None, sa_column=_ts())
    # The language of the case's last email (shared/i18n.py): the page speaks it too.
    locale: str | None = Field(default=None, max_length=35)
    # PaymentMethods of its accounts Stripe blocked: [{"id", "reason", "fc_account"}].
    blocked_payment_methods: list[dict[str, str]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )


class EmailOutbox(SQLModel, table=True):
    """An email to send; `message_id` is its idempotency key. The recipient is looked up
    when the email is sent (and kept here), not when the row is written."""

    __tablename__ = "email_outbox"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (Index("ix_email_outbox_status_send_after", "status", "send_after"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="relink_case.id", index=True)
    kind: str = Field(max_length=32)
    recipient: str | None = Field(default=None, max_length=320)
    send_after: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    status: str = Field(default=DeliveryStatus.PENDING, max_length=16, index=True)
    attempts: int = 0
    message_id: str = Field(max_length=255, unique=True)
    claimed_at: datetime | None = Field(default=None, sa_column=_ts())
    sent_at: datetime | None = Field(default=None, sa_column=_ts())
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


EMAILS = Outbox(EmailOutbox, due="send_after")


class RelinkAttempt(SQLModel, table=True):
    """A Financial Connections session opened from a link (never its client secret)."""

    __tablename__ = "relink_attempt"  # pyright: ignore[reportAssignmentType]

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="relink_case.id", index=True)
    account_id: str | None = Field(default=None, max_length=255)
    session_id: str = Field(max_length=255, unique=True)
    mode: str = Field(max_length=16, description="account or authorization")
    result: str | None = Field(default=None, max_length=32)
    linked_account_id: str | None = Field(default=None, max_length=255)
    setup_intent_id: str | None = Field(default=None, max_length=255)
    payment_method_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=_ts())


class OpsSessionEnd(SQLModel, table=True):
    """An /ops login session its operator logged out of: its signed cookie no longer opens
    the dashboard (kept until the cookie would have expired anyway)."""

    __tablename__ = "ops_session_end"  # pyright: ignore[reportAssignmentType]

    session_id: str = Field(primary_key=True, max_length=64)
    ended_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class ApiKey(SQLModel, table=True):
    """A platform API key: only its sha256 is kept; `prefix` is its visible, unique start."""

    __tablename__ = "api_key"  # pyright: ignore[reportAssignmentType]

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=32, unique=True)
    key_hash: str = Field(max_length=64)
    name: str = Field(max_length=255)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=_ts())
    revoked_at: datetime | None = Field(default=None, sa_column=_ts())


class ContactSubject(StrEnum):
    CUSTOMER = "customer"  # an account holder: a Stripe Customer
    ACCOUNT = "account"  # an account holder: a connected account
    FC_ACCOUNT = "fc_account"  # a Financial Connections account without a holder


class Contact(SQLModel, table=True):
    """Who to write to, set by the platform: preferred to the Stripe lookup."""

    __tablename__ = "contact"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index("uq_contact_subject", "stripe_account", "subject_type", "subject_id", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The Stripe account the subject lives on: '' the platform's own, else `acct_…` (Connect).
    stripe_account: str = Field(default=PLATFORM, max_length=255)
    subject_type: str = Field(max_length=16)
    subject_id: str = Field(max_length=255)
    email: str = Field(max_length=320)
    name: str | None = Field(default=None, max_length=255)
    locale: str | None = Field(default=None, max_length=35)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class SchemaCompat(SQLModel, table=True):
    """One row: the oldest release schema whose code runs on this database's schema
    (shared/schema_compat.py reads it at start; a migration that breaks older code raises it)."""

    __tablename__ = "schema_compat"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (CheckConstraint("id = 1", name="ck_schema_compat_one_row"),)

    id: int | None = Field(default=None, primary_key=True)
    oldest_code_revision: str = Field(max_length=64)
