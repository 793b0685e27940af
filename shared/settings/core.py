"""The settings every process needs: where the data and the broker are, Stripe, link signing,
what the api shows about itself, inbox retention."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode

from shared.errors import RelinkError

VAR_DIR = Path("var")


class ConfigError(RelinkError):
    """Raised at start-up when a setting is missing or invalid; names the variable."""

    code = "invalid_configuration"


def webhook_secrets(value: list[SecretStr]) -> list[SecretStr]:
    """Stripe endpoint signing secrets: each `whsec_…`."""
    if any(not secret.get_secret_value().startswith("whsec_") for secret in value):
        raise ValueError("each secret must start with whsec_")
    return value


def split_csv(value: object) -> object:
    """A comma-separated environment value as a list (a list is left as it is)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# Link keys and the ops token: shorter ones are guessed offline (one link or one cookie is
# enough to test guesses against).
MIN_SECRET_LENGTH = 16


class CoreSettings(BaseSettings):
    database_url: str = "sqlite:///var/relink.db"
    celery_broker_url: str = "filesystem://"
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list[SecretStr]
    )
    stripe_publishable_key: str | None = None
    stripe_js_url: str = "https://js.stripe.com/v3/"
    stripe_api_version: str = "2026-09-30.preview"
    link_signing_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list[SecretStr])
    link_max_age: int = Field(default=7 * 24 * 3600, gt=0, description="seconds")
    public_base_url: str = "http://localhost:8000"

    # Tuning knobs beyond DESIGN.md's table.
    redrive_after_seconds: int = Field(default=120, gt=0)
    redrive_every_seconds: float = Field(default=30.0, gt=0)
    webhook_tolerance_seconds: int = Field(default=300, gt=0)
    max_event_attempts: int = Field(default=8, gt=0)

    # What the API shows about itself (api/app.py): off unless asked for.
    expose_docs: bool = Field(default=False, description="/docs, /redoc and /openapi.json")
    metrics_enabled: bool = Field(default=False, description="/metrics/")
    metrics_token: SecretStr | None = Field(default=None, description="Bearer for /metrics/")

    # Retention: processed/ignored inbox payloads are nulled after this many days.
    inbox_retention_days: int = Field(default=30, gt=0)
    prune_every_seconds: float = Field(default=3600.0, gt=0)
    prune_batch_size: int = Field(default=1000, gt=0)

    @field_validator("stripe_webhook_secrets", "link_signing_keys", mode="before")
    @classmethod
    def _core_csv(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("stripe_webhook_secrets")
    @classmethod
    def _whsec(cls, value: list[SecretStr]) -> list[SecretStr]:
        return webhook_secrets(value)

    @field_validator("link_signing_keys")
    @classmethod
    def _long_link_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(len(key.get_secret_value()) < MIN_SECRET_LENGTH for key in value):
            raise ValueError(
                f"each key must be at least {MIN_SECRET_LENGTH} characters: a short key is "
                "guessed offline from one link (`openssl rand -hex 32` makes a good one)"
            )
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        scheme, _, rest = value.partition("://")
        if scheme not in ("http", "https") or not rest.strip("/"):
            raise ValueError("must be an http(s) URL with a host, e.g. https://relink.example.com")
        return value

    @field_validator("stripe_api_key")
    @classmethod
    def _api_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
        ):
            raise ValueError("must be a secret or restricted key (sk_test_, sk_live_, rk_…)")
        return value

    @property
    def livemode(self) -> bool:
        """The mode events must be in: that of the configured key (test without a key)."""
        key = self.stripe_api_key
        return key is not None and "_live_" in key.get_secret_value()

    @property
    def production(self) -> bool:
        """A live key or a real database (not SQLite): settings that may run on several
        processes or hosts, where an in-process rate limiter would break the shared limit."""
        return self.livemode or not self.database_url.startswith("sqlite")

    def signing_keys(self) -> list[str]:
        """Link-signing keys, newest first; none is a ConfigError (the api and the worker ask
        at start-up: no key is generated outside `relink dev`)."""
        if not self.link_signing_keys:
            raise ConfigError("LINK_SIGNING_KEYS is not set: relink links cannot be signed")
        return [key.get_secret_value() for key in self.link_signing_keys]
