"""Connect (STRIPE_CONNECT): a platform whose connected accounts hold the bank links. Their
events arrive on the Connect webhook endpoint, signed with that endpoint's own secrets."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode

from shared.settings.core import split_csv, webhook_secrets


class ConnectSettings(BaseSettings):
    stripe_connect: bool = Field(default=False, description="accept Connect deliveries")
    stripe_connect_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list[SecretStr], description="the Connect endpoint's whsec_ secrets"
    )

    @field_validator("stripe_connect_webhook_secrets", mode="before")
    @classmethod
    def _connect_csv(cls, value: object) -> object:
        return [] if value is None else split_csv(value)  # empty (None by then): none

    @field_validator("stripe_connect_webhook_secrets")
    @classmethod
    def _connect_whsec(cls, value: list[SecretStr]) -> list[SecretStr]:
        return webhook_secrets(value)

    @model_validator(mode="after")
    def _connect_complete(self) -> ConnectSettings:
        if self.stripe_connect and not self.stripe_connect_webhook_secrets:
            raise ValueError("STRIPE_CONNECT=true needs STRIPE_CONNECT_WEBHOOK_SECRETS")
        return self
