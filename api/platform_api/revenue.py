"""GET /api/v1/revenue: the money at stake (shared/payments/money.py) of the Stripe account the call
acts within, per currency in the currency's minor unit (as Stripe's amounts), never summed
across currencies."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from api.errors import NO_STORE
from api.platform_api.connect import StripeAccount
from api.platform_api.routes import ERRORS, Reader
from shared.db import session_scope
from shared.payments import money


def _no_store(response: Response) -> None:
    response.headers.update(NO_STORE)


router = APIRouter(
    prefix="/api/v1", tags=["platform"], responses=ERRORS, dependencies=[Depends(_no_store)]
)


class Amount(BaseModel):
    currency: str = Field(description="three-letter ISO code, lowercase, as Stripe's")
    amount: int = Field(description="in the currency's minor unit (cents; yen for jpy)")


class AtRisk(BaseModel):
    currency: str
    monthly: int = Field(
        description="monthly amount of the active and past_due subscriptions billed to the "
        "broken accounts' PaymentMethods, minor units"
    )
    failed_invoices_due: int = Field(description="due on the invoices that failed there")
    cases: int = Field(description="broken cases (open, no contact, unrepairable) with figures")


class RecoveryRate(BaseModel):
    days: int = Field(description="7 or 30: repaired within this many days of opening")
    eligible_cases: int = Field(
        description="cases opened by a deactivation whose first `days` are over, or repaired sooner"
    )
    repaired_cases: int
    rate: float | None = Field(description="percent repaired in time; null without cases")
    at_risk: list[Amount] = Field(description="the monthly revenue the cases repaired had at risk")
    recovered: list[Amount] = Field(description="recovered on those cases")


class Revenue(BaseModel):
    object: Literal["revenue"] = "revenue"
    at_risk: list[AtRisk]
    recovered: list[Amount] = Field(
        description="amount due of the invoices relink paid again after a repair, and paid"
    )
    recovered_invoices: int
    recovery_rates: list[RecoveryRate]


def _amounts(amounts: money.Amounts) -> list[Amount]:
    return [Amount(currency=c, amount=a) for c, a in sorted(amounts.items())]


def revenue_body(figures: money.Revenue) -> Revenue:
    return Revenue(
        at_risk=[
            AtRisk(
                currency=r.currency,
                monthly=r.monthly,
                failed_invoices_due=r.failed_due,
                cases=r.cases,
            )
            for r in figures.at_risk
        ],
        recovered=_amounts(figures.recovered),
        recovered_invoices=figures.recovered_invoices,
        recovery_rates=[
            RecoveryRate(
                days=rate.days,
                eligible_cases=rate.eligible,
                repaired_cases=rate.repaired,
                rate=rate.percent,
                at_risk=_amounts(rate.at_risk),
                recovered=_amounts(rate.recovered),
            )
            for rate in figures.rates
        ],
    )


@router.get("/revenue", response_model=Revenue)
def get_revenue(_caller: Reader, account: StripeAccount) -> Revenue:
    """Revenue at risk on the broken bank accounts, recovered after repairs, and the recovery
    rate, of the Stripe account (the platform's without `Stripe-Account`)."""
    with session_scope() as session:
        return revenue_body(money.revenue(session, stripe_account=account))
