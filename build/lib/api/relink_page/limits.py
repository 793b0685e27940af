"""The per-case limit on relink-page requests that call Stripe: one token bucket per case
(api/limits.py), PAGE_CASE_REQUESTS_PER_MINUTE tokens a minute, a minute's worth as the burst.
A request without a token is answered 503 at once; nothing waits for a per-case token."""

from __future__ import annotations

from api import limits
from api.relink_page.outcomes import Busy
from shared.settings import Settings, get_settings

NAME = "relink_page_case"
RETRY_AFTER_SECONDS = 60


def take(case_id: int, settings: Settings | None = None) -> None:
    """One request's token for this case, or Busy."""
    settings = settings or get_settings()
    if not limits.take(NAME, str(case_id), settings.page_case_requests_per_minute, settings):
        raise Busy(f"case {case_id}: too many requests", retry_after=RETRY_AFTER_SECONDS)


def reset() -> None:
    """Forget every case's bucket (tests)."""
    limits.reset()
