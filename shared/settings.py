"""One typed settings object, read from the environment (names as in DESIGN.md)."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, FilePath, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.urls import checked_email_url, masked_url

VAR_DIR = Path("var")
# Below Stripe's own limits (about 25/s in test mode, 100/s in live mode).
TEST_STRIPE_RATE_LIMIT = 20.0
LIVE_STRIPE_RATE_LIMIT = 90.0
# The relink page's own Stripe budget, on top of the workers' (together still under Stripe's).
TEST_PAGE_STRIPE_RATE_LIMIT = 4.0
LIVE_PAGE_STRIPE_RATE_LIMIT = 9.0


Delivery = Literal["email", "webhook", "both"]


class ConfigError(Exception):
    """Raised at start-up when a setting is missing or invalid; names the variable."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _is_standard_webhook_secret(value: str) -> bool:
    try:
        return value.startswith("whsec_") and bool(base64.b64decode(value[6:], validate=True))
    except binascii.Error:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    database_url: str = "sqlite:///var/relink.db"
    celery_broker_url: str = "filesystem://"
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    stripe_publishable_key: str | None = None
    stripe_js_url: str = "https://js.stripe.com/v3/"
    stripe_api_version: str = "2026-09-30.preview"
    link_signing_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    link_max_age: int = Field(default=7 * 24 * 3600, gt=0, description="seconds")
    public_base_url: str = "http://localhost:8000"
    email_url: str = "file://var/outbox"
    email_from: str = "relink <relink@localhost>"
    email_ca_bundle: FilePath | None = Field(
        default=None, description="PEM CAs trusted for SMTP TLS instead of the system's"
    )
    email_timeout_seconds: float = Field(default=30.0, gt=0, description="SMTP connect and send")

    # Tuning knobs beyond DESIGN.md's table.
    redrive_after_seconds: int = Field(default=120, gt=0)
    redrive_every_seconds: float = Field(default=30.0, gt=0)
    webhook_tolerance_seconds: int = Field(default=300, gt=0)
    max_event_attempts: int = Field(default=8, gt=0)

    # Relink emails (issue 4).
    quiet_period_seconds: float = Field(default=60.0, ge=0, description="coalesce siblings")
    reminder_delays_days: Annotated[list[float], NoDecode] = Field(default_factory=lambda: [3, 7])
    email_sweep_every_seconds: float = Field(default=30.0, gt=0)
    email_claim_timeout_seconds: int = Field(default=300, gt=0)
    max_email_attempts: int = Field(default=8, gt=0)
    fresh_link_interval_seconds: int = Field(default=600, gt=0)
    contact_cache_seconds: float = Field(default=300.0, ge=0)

    # Reactivation (issue 5): reconcile authorizations, proactive relink, sweeps.
    reconcile_window_seconds: float = Field(
        default=30.0, ge=0, description="one Stripe fetch per authorization per window"
    )
    stale_case_after_seconds: float = Field(
        default=6 * 3600.0, gt=0, description="an open case not heard of this long is reconciled"
    )
    stale_case_sweep_every_seconds: float = Field(default=300.0, gt=0)
    stale_case_batch_size: int = Field(default=50, gt=0)
    events_backfill_every_seconds: float = Field(default=300.0, gt=0)
    events_backfill_lookback_seconds: int = Field(
        default=3600, ge=0, description="re-list events this far behind the newest in the inbox"
    )
    events_backfill_max_pages: int = Field(default=5, gt=0)
    proactive_horizon_days: float = Field(
        default=45.0, gt=0, description="warn when the expected deactivation is this close"
    )
    reconnected_email: bool = Field(default=False, description="email when a case resolves")

    # Rate limits (shared/ratelimit.py): requests/s shared by every worker process and host.
    stripe_rate_limit: float | None = Field(
        default=None, gt=0, description="Stripe requests/s; unset: 20 for test keys, 90 live"
    )
    smtp_rate_limit: float = Field(default=10.0, gt=0, description="SMTP sends/s")
    rate_limit_redis_url: str | None = Field(
        default=None, description="the limiter's Redis; unset: the broker when it is Redis"
    )

    # The relink page (api/relink_page): its own Stripe budget, per-case limits, fresh links.
    page_stripe_rate_limit: float | None = Field(
        default=None, gt=0, description="Stripe requests/s for the api; unset: 4 test, 9 live"
    )
    page_stripe_max_wait_seconds: float = Field(
        default=2.0, ge=0, description="longest wait for a Stripe token before a 503"
    )
    page_case_requests_per_minute: float = Field(
        default=10.0, gt=0, description="page requests that call Stripe, per case (also the burst)"
    )
    fresh_link_daily_cap: int = Field(default=3, gt=0, description="fresh links per case per day")
    fresh_link_max_expired_days: float = Field(
        default=30.0, ge=0, description="an expired link may ask for a fresh one this long"
    )

    # Platform webhooks (issue 12): Standard Webhooks to the platform, and how relink delivers.
    delivery: Delivery = Field(default="email", description="email, webhook or both")
    platform_webhook_url: str | None = None
    platform_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    platform_webhook_timeout_seconds: float = Field(default=10.0, gt=0, description="per attempt")
    platform_webhook_max_in_flight: int = Field(default=4, gt=0, description="per endpoint")
    platform_webhook_retry_base_seconds: float = Field(default=10.0, gt=0)
    platform_webhook_retry_cap_seconds: float = Field(default=2 * 3600.0, gt=0)
    platform_webhook_retry_window_seconds: float = Field(
        default=26 * 3600.0, gt=0, description="a delivery failing this long is `failed`"
    )
    platform_webhook_sweep_every_seconds: float = Field(default=10.0, gt=0)

    # What the API shows about itself (api/app.py): off unless asked for.
    expose_docs: bool = Field(default=False, description="/docs, /redoc and /openapi.json")
    metrics_enabled: bool = Field(default=False, description="/metrics/")
    metrics_token: SecretStr | None = Field(default=None, description="Bearer for /metrics/")

    # Retention: processed/ignored inbox payloads are nulled after this many days.
    inbox_retention_days: int = Field(default=30, gt=0)
    prune_every_seconds: float = Field(default=3600.0, gt=0)
    prune_batch_size: int = Field(default=1000, gt=0)

    @field_validator(
        "stripe_webhook_secrets", "link_signing_keys", "platform_webhook_secrets", mode="before"
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("reminder_delays_days", mode="before")
    @classmethod
    def _delays(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("reminder_delays_days")
    @classmethod
    def _positive_delays(cls, value: list[float]) -> list[float]:
        if any(delay <= 0 for delay in value):
            raise ValueError("each delay must be a positive number of days")
        return sorted(value)

    @field_validator("stripe_webhook_secrets")
    @classmethod
    def _whsec(cls, value: list[SecretStr]) -> list[SecretStr]:
        for secret in value:
            if not secret.get_secret_value().startswith("whsec_"):
                raise ValueError("each secret must start with whsec_")
        return value

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

    @field_validator("stripe_api_key")
    @classmethod
    def _api_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
        ):
            raise ValueError("must be a secret or restricted key (sk_test_, sk_live_, rk_…)")
        return value

    @field_validator("rate_limit_redis_url")
    @classmethod
    def _limiter_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("email_url")
    @classmethod
    def _email_url(cls, value: str) -> str:
        return checked_email_url(value)

    @model_validator(mode="after")
    def _platform_webhooks_complete(self) -> Settings:
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

    @property
    def limiter_redis_url(self) -> str | None:
        """Where the shared rate limits live: RATE_LIMIT_REDIS_URL, else the broker when it is
        Redis, else None (in-process, refused in production)."""
        if self.rate_limit_redis_url:
            return self.rate_limit_redis_url
        broker = self.celery_broker_url
        return broker if broker.startswith(("redis://", "rediss://", "unix://")) else None

    @property
    def stripe_requests_per_second(self) -> float:
        """STRIPE_RATE_LIMIT, or a default under Stripe's own limit for the key's mode."""
        if self.stripe_rate_limit is not None:
            return self.stripe_rate_limit
        return LIVE_STRIPE_RATE_LIMIT if self.livemode else TEST_STRIPE_RATE_LIMIT

    @property
    def page_stripe_requests_per_second(self) -> float:
        """PAGE_STRIPE_RATE_LIMIT, or a default for the key's mode."""
        if self.page_stripe_rate_limit is not None:
            return self.page_stripe_rate_limit
        return LIVE_PAGE_STRIPE_RATE_LIMIT if self.livemode else TEST_PAGE_STRIPE_RATE_LIMIT

    def signing_keys(self) -> list[str]:
        """Link-signing keys, newest first; none is a ConfigError (the api and the worker ask
        at start-up: no key is generated outside `relink dev`)."""
        if not self.link_signing_keys:
            raise ConfigError("LINK_SIGNING_KEYS is not set: relink links cannot be signed")
        return [key.get_secret_value() for key in self.link_signing_keys]

    def __repr_args__(self) -> Any:  # URLs shown without credentials; SecretStr hides the rest
        return [(k, masked_url(v) if isinstance(v, str) else v) for k, v in super().__repr_args__()]


def load_settings() -> Settings:
    """Read and validate the environment, raising ConfigError that names each bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [  # a check across variables (no loc) names them in its message
            f"{str(err['loc'][0]).upper()}: {err['msg']}" if err["loc"] else err["msg"]
            for err in exc.errors(include_input=False)
        ]
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
