"""Rate limits (shared/ratelimit.py), shared by every worker process and host, and the relink
page's own budget and per-case limits."""

from __future__ import annotations

from pydantic import Field, field_validator

from shared.settings.core import CoreSettings

# Below Stripe's own limits (about 25/s in test mode, 100/s in live mode).
TEST_STRIPE_RATE_LIMIT = 20.0
LIVE_STRIPE_RATE_LIMIT = 90.0
# The relink page's own Stripe budget, on top of the workers' (together still under Stripe's).
TEST_PAGE_STRIPE_RATE_LIMIT = 4.0
LIVE_PAGE_STRIPE_RATE_LIMIT = 9.0


class LimitSettings(CoreSettings):
    stripe_rate_limit: float | None = Field(
        default=None, gt=0, description="Stripe requests/s; unset: 20 for test keys, 90 live"
    )
    smtp_rate_limit: float = Field(default=10.0, gt=0, description="SMTP sends/s")
    rate_limit_redis_url: str | None = Field(
        default=None, description="the limiter's Redis; unset: the broker when it is Redis"
    )
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

    @field_validator("rate_limit_redis_url")
    @classmethod
    def _limiter_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

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
