"""Reactivation (worker/cases): reconciling authorizations, sweeps, the events backfill,
proactive relink."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings


class CaseSettings(BaseSettings):
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
        default=45.0,
        gt=0,
        description="warn when the expected deactivation (or a number's expiry) is this close",
    )

    def horizon_end(self, now: datetime) -> int:
        """Unix seconds up to which an expected deactivation or expiry calls for a relink."""
        return int((now + timedelta(days=self.proactive_horizon_days)).timestamp())
