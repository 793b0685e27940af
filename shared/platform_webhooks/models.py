"""Tables of the platform webhooks outbox (issue 12): one row per event relink tells the
platform, its delivery attempts, and the per-case (per-account) sequence counters.

The row keeps the event's JSON without the relink link; the link is signed at delivery, as
of the event's creation, so every retry sends the same bytes and no usable link sits in the
database (shared/platform_webhooks/events.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db import AwareDateTime, utcnow
from shared.delivery import DeliveryStatus, Outbox

RESPONSE_BODY_BYTES = 1024
ENDPOINT_ID = 1


def _ts(*, nullable: bool = True) -> Column[datetime]:
    return Column(AwareDateTime(), nullable=nullable)


# The delivery statuses a platform event takes: the API's and the CLI's filter.
EventStatus = Literal["pending", "sending", "delivered", "failed", "held"]
EVENT_STATUSES: tuple[str, ...] = get_args(EventStatus)


class PlatformEvent(SQLModel, table=True):
    """One event for the platform; `webhook_id` is its Standard Webhooks id, the same on
    every attempt and replay."""

    __tablename__ = "platform_event"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index("ix_platform_event_status_next_attempt", "status", "next_attempt_at"),
        UniqueConstraint("sequence_key", "sequence", name="uq_platform_event_sequence"),
    )

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: str = Field(max_length=64, unique=True)
    type: str = Field(max_length=64)
    case_id: int | None = Field(default=None, index=True)
    account_id: str | None = Field(default=None, max_length=255)
    sequence_key: str = Field(max_length=300, description="case:<id> or account:<id>")
    sequence: int
    payload: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=DeliveryStatus.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    retrying_since: datetime = Field(
        default_factory=utcnow, sa_column=_ts(nullable=False), description="created or replayed"
    )
    claimed_at: datetime | None = Field(default=None, sa_column=_ts())
    delivered_at: datetime | None = Field(default=None, sa_column=_ts())
    last_error: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    redelivered_at: datetime | None = Field(default=None, sa_column=_ts())


PLATFORM_EVENTS = Outbox(PlatformEvent, due="next_attempt_at")


class PlatformAttempt(SQLModel, table=True):
    """One POST of an event: when, how long, and what came back: the status code and the
    first RESPONSE_BODY_BYTES of the body (the platform's data: shown, never logged)."""

    __tablename__ = "platform_event_attempt"  # pyright: ignore[reportAssignmentType]

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="platform_event.id", index=True)
    started_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    duration_ms: int = 0
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=255)
    response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class PlatformEndpoint(SQLModel, table=True):
    """The platform endpoint's standing (one row, id 1): failing since the first failed
    attempt after its last success; disabled (deliveries held) until an operator enables it."""

    __tablename__ = "platform_endpoint"  # pyright: ignore[reportAssignmentType]

    id: int = Field(default=ENDPOINT_ID, primary_key=True)
    failing_since: datetime | None = Field(default=None, sa_column=_ts())
    last_delivered_at: datetime | None = Field(default=None, sa_column=_ts())
    disabled_at: datetime | None = Field(default=None, sa_column=_ts())
    enabled_at: datetime | None = Field(default=None, sa_column=_ts())


class PlatformSequence(SQLModel, table=True):
    """The last sequence number given out per case (or account): the row's lock orders one
    case's events, and a rolled-back event gives its number back, so there are no gaps."""

    __tablename__ = "platform_sequence"  # pyright: ignore[reportAssignmentType]

    key: str = Field(primary_key=True, max_length=300)
    last: int = 0
