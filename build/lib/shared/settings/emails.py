"""Relink emails (worker/emails): the transport, the quiet period, reminders, fresh links."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, FilePath, field_validator
from pydantic_settings import BaseSettings, NoDecode

from shared.settings.core import split_csv
from shared.urls import checked_email_url


class EmailSettings(BaseSettings):
    email_url: str = "file://var/outbox"
    email_from: str = "relink <relink@localhost>"
    email_ca_bundle: FilePath | None = Field(
        default=None, description="PEM CAs trusted for SMTP TLS instead of the system's"
    )
    email_timeout_seconds: float = Field(default=30.0, gt=0, description="SMTP connect and send")
    quiet_period_seconds: float = Field(default=60.0, ge=0, description="coalesce siblings")
    reminder_delays_days: Annotated[list[float], NoDecode] = Field(default_factory=lambda: [3, 7])
    email_sweep_every_seconds: float = Field(default=30.0, gt=0)
    email_claim_timeout_seconds: int = Field(default=300, gt=0)
    max_email_attempts: int = Field(default=8, gt=0)
    fresh_link_interval_seconds: int = Field(default=600, gt=0)
    contact_cache_seconds: float = Field(default=300.0, ge=0)
    reconnected_email: bool = Field(default=False, description="email when a case resolves")

    @field_validator("reminder_delays_days", mode="before")
    @classmethod
    def _delays(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("reminder_delays_days")
    @classmethod
    def _positive_delays(cls, value: list[float]) -> list[float]:
        if any(delay <= 0 for delay in value):
            raise ValueError("each delay must be a positive number of days")
        return sorted(value)

    @field_validator("email_url")
    @classmethod
    def _email_url(cls, value: str) -> str:
        return checked_email_url(value)
