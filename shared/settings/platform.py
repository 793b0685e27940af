"""Platform webhooks (worker/platform_webhooks): Standard Webhooks to the platform, and how
relink delivers its links (DELIVERY)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode

from shared.settings.core import split_csv

Delivery = Literal["email", "webhook", "both"]


def _is_standard_webhook_secret(value: str) -> bool:
    try:
        return value.startswith("whsec_") and bool(base64.b64decode(value[6:], validate=True))
    except binascii.Error:
        return False


class PlatformSettings(BaseSettings):
    delivery: Delivery = Field(default="email", description="email, webhook or both")
    platform_webhook_url: str | None = None
    platform_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list[SecretStr]
    )
    platform_webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="per attempt, wall clock"
    )
    # Below the worker processes (compose runs 4): a slow endpoint never holds them all.
    platform_webhook_max_in_flight: int = Field(default=2, gt=0, description="per endpoint")
    platform_webhook_retry_base_seconds: float = Field(default=10.0, gt=0)
    platform_webhook_retry_cap_seconds: float = Field(default=2 * 3600.0, gt=0)
    platform_webhook_retry_window_seconds: float = Field(
        default=26 * 3600.0, gt=0, description="a delivery failing this long is `failed`"
    )
    platform_webhook_sweep_every_seconds: float = Field(default=10.0, gt=0)
    platform_webhook_disable_after_hours: float = Field(
        default=72.0, ge=0, description="every attempt failing this long disables it; 0: never"
    )

    @field_validator("platform_webhook_secrets", mode="before")
    @classmethod
    def _platform_csv(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("platform_webhook_secrets")
    @classmethod
    def _platform_secrets(cls, value: list[SecretStr]) -> list[SecretStr]:
        for secret in value:
            if not _is_standard_webhook_secret(secret.get_secret_value()):
                raise ValueError(
                    "each secret must be whsec_ followed by base64 (Standard Webhooks)"
                )
        return value

    @field_validator("platform_webhook_url")
    @classmethod
    def _platform_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value or None

    @model_validator(mode="after")
    def _platform_webhooks_complete(self) -> PlatformSettings:
        if self.platform_webhook_url and not self.platform_webhook_secrets:
            raise ValueError("PLATFORM_WEBHOOK_SECRETS must be set with PLATFORM_WEBHOOK_URL")
        if self.delivery != "email" and not self.platform_webhook_url:
            raise ValueError(f"DELIVERY={self.delivery} needs PLATFORM_WEBHOOK_URL")
        return self

    @property
    def platform_webhooks(self) -> bool:
        """Whether relink writes platform webhooks (PLATFORM_WEBHOOK_URL is set)."""
        return self.platform_webhook_url is not None

    @property
    def sends_emails(self) -> bool:
        """DELIVERY email or both; with webhook the platform delivers every link."""
        return self.delivery != "webhook"
