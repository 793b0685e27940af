"""The switch to a new PaymentMethod (worker/payments): one row per case and PaymentMethod
saved on the relink page's no_account path, written in the page's transaction; the worker
makes its Stripe writes and records each step here, so a task that runs twice (or retries
after a failed write) never makes a write twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db import AwareDateTime, utcnow
from shared.delivery import DeliveryStatus, Outbox

# The writes a switch makes, in this order: `subscription_cleared` unsets a default naming an
# old PaymentMethod that is not moved, before that PaymentMethod is detached.
STEPS = ("default", "subscription", "subscription_cleared", "detach")


class PaymentMethodSwitch(SQLModel, table=True):
    __tablename__ = "payment_method_switch"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        UniqueConstraint("case_id", "payment_method_id", name="uq_payment_method_switch"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="relink_case.id", index=True)
    payment_method_id: str = Field(max_length=255, description="the new PaymentMethod")
    old_account_id: str | None = Field(
        default=None, max_length=255, description="the broken FC account it replaces"
    )
    customer_id: str | None = Field(default=None, max_length=255)
    # pending (to do, or retrying after an error), switched, nothing_to_switch (no customer:
    # a holder-less or Connect account), failed (Stripe refused a write, or retries ran out)
    status: str = Field(default=DeliveryStatus.PENDING, max_length=32)
    # Each write done, in order: {"step": default|subscription|detach, "target", "at"}.
    steps: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(AwareDateTime(), nullable=True)
    )


# A run's claim is its row lock (no lease): pending rows are the sweep's once old enough.
SWITCHES = Outbox(PaymentMethodSwitch, due="created_at")
