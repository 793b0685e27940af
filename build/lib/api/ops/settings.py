"""The dashboard's own settings, read apart from shared/settings: OPS_TOKEN, the operator token
(unset, /ops answers 404), OPS_SESSION_HOURS, the login cookie's lifetime, and
OPS_AUTH_ATTEMPTS_PER_MINUTE, the credential attempts a client address may make. Read on each
request, so a new token takes effect (and ends every session) without a restart."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class OpsSettings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    ops_token: SecretStr | None = None
    ops_session_hours: float = Field(default=12.0, gt=0, description="login cookie lifetime")
    ops_auth_attempts_per_minute: float = Field(
        default=10.0, gt=0, description="logins and bearer-token requests per client address"
    )


def ops_settings() -> OpsSettings:
    return OpsSettings()
