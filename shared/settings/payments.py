"""Switching the platform's payments to the new PaymentMethod (worker/payments): what to
switch (PAYMENT_METHOD_SWITCH) and whether to detach the old ones; and paying again the
invoices that failed on the broken account (RECOVER_FAILED_PAYMENTS, worker/recovery)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from shared.settings.core import split_csv

SwitchTarget = Literal["customer_default", "subscriptions"]


class PaymentSettings(BaseSettings):
    payment_method_switch: Annotated[list[SwitchTarget], NoDecode] = Field(
        default_factory=list[SwitchTarget],
        description="none, customer_default or customer_default,subscriptions",
    )
    detach_old_payment_method: bool = False
    payment_method_switch_sweep_every_seconds: float = Field(
        default=300.0, gt=0, description="a switch pending this long is queued again"
    )

    recover_failed_payments: bool = False
    recovery_max_invoices: int = Field(
        default=3, gt=0, description="invoices paid again per case, at most"
    )
    recovery_max_age_days: float = Field(
        default=30.0, gt=0, description="an invoice created longer ago is left to the platform"
    )
    recovery_sweep_every_seconds: float = Field(
        default=300.0, gt=0, description="a recovery without its outcome this long is read back"
    )

    # Off by default: its reads share the Stripe budget with the repair itself, and in a
    # bank-wide outage they would triple the calls before the last first email goes out.
    money_at_stake: bool = Field(
        default=False,
        description="read what the broken accounts bill and what failed on them (4 Stripe "
        "calls per case, and 1 per open invoice)",
    )

    @field_validator("payment_method_switch", mode="before")
    @classmethod
    def _switch_csv(cls, value: object) -> object:
        parts = split_csv(value if value is not None else "")  # None: an empty variable
        return [] if parts in (["none"], "none") else parts

    @field_validator("payment_method_switch")
    @classmethod
    def _switch_targets(cls, value: list[SwitchTarget]) -> list[SwitchTarget]:
        if "subscriptions" in value and "customer_default" not in value:
            raise ValueError(
                "subscriptions needs customer_default (customer_default,subscriptions): "
                "invoices the subscriptions do not pay would still use the old account"
            )
        return sorted(set(value))

    @property
    def switches_payment_method(self) -> bool:
        """Whether a saved PaymentMethod becomes the customer's default (and more)."""
        return bool(self.payment_method_switch)

    @property
    def switches_subscriptions(self) -> bool:
        return "subscriptions" in self.payment_method_switch
