"""Money at stake on a case (worker/money): per currency, the monthly amount of the active
subscriptions billed to the broken account's PaymentMethods and the amount due on its
invoices that failed there, as last read from Stripe. Amounts are in the currency's minor
unit, as Stripe gives them; currencies are never summed together."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db import AwareDateTime, utcnow


class CaseMoney(SQLModel, table=True):
    __tablename__ = "case_money"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (UniqueConstraint("case_id", "currency", name="uq_case_money"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="relink_case.id", index=True)
    currency: str = Field(max_length=3)
    monthly_at_risk: int = Field(  # the monthly equivalent, minor units
        default=0, sa_column=Column(BigInteger, nullable=False)
    )
    failed_due: int = Field(  # due on the failed invoices, minor units
        default=0, sa_column=Column(BigInteger, nullable=False)
    )
    subscriptions: int = 0
    failed_invoices: int = 0
    assessed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False)
    )
