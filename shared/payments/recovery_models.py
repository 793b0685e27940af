"""Paying again an invoice that failed on the broken account (RECOVER_FAILED_PAYMENTS,
worker/recovery): one row per case and invoice, written before the pay call, so a task that
runs twice (or retries) never pays an invoice twice for one repair."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db import AwareDateTime, utcnow


class RecoveryStatus(StrEnum):
    PAYING = "paying"  # the row is written; the pay call is being (or to be) sent
    PROCESSING = "processing"  # Stripe accepted it: the ACH debit settles later
    RECOVERED = "recovered"  # the invoice is paid
    FAILED = "failed"  # the debit failed, or Stripe refused the pay call: reported, not retried
    CLOSED = "closed"  # voided or marked uncollectible before it settled


OUTCOMES = (RecoveryStatus.RECOVERED, RecoveryStatus.FAILED, RecoveryStatus.CLOSED)


class PaymentRecovery(SQLModel, table=True):
    __tablename__ = "payment_recovery"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (UniqueConstraint("case_id", "invoice_id", name="uq_payment_recovery"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="relink_case.id", index=True)
    invoice_id: str = Field(max_length=255, index=True)
    customer_id: str = Field(max_length=255)
    payment_method_id: str = Field(max_length=255, description="the working PaymentMethod")
    failed_payment_method_id: str = Field(
        max_length=255, description="the broken account's PaymentMethod its last attempt failed on"
    )
    amount_due: int
    currency: str = Field(max_length=3)
    status: str = Field(default=RecoveryStatus.PAYING, max_length=16)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False)
    )
    attempted_at: datetime | None = Field(
        default=None, sa_column=Column(AwareDateTime(), nullable=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(AwareDateTime(), nullable=True)
    )
