"""The dashboard's own settings, read apart from shared/settings: OPS_TOKEN, the operator token
(unset, /ops answers 404), and OPS_SESSION_HOURS, the login cookie's lifetime. Read on each
request, so a new token takes effect (and ends every session) without a restart."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class OpsSettings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    ops_token: SecretStr | None = None
    ops_session_hours: float = Field(default=12.0, gt=0, description="login cookie lifetime")


def ops_settings() -> OpsSettings:
    return OpsSettings()
