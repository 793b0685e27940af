"""The per-case limit on relink-page requests that call Stripe: one token bucket per case
(shared/ratelimit.py's buckets, in the limiter's Redis so every api process shares it),
PAGE_CASE_REQUESTS_PER_MINUTE tokens a minute, a minute's worth as the burst. A request without
a token is answered 503 at once; nothing waits for a per-case token."""

from __future__ import annotations

import threading
from collections import OrderedDict

from api.relink_page.outcomes import Busy
from shared.ratelimit import (
    LocalTokenBucket,
    RedisTokenBucket,
    SharedBucket,
    TokenBucket,
    limiter_redis,
)
from shared.settings import Settings, get_settings

NAME = "relink_page_case"
MAX_LOCAL_BUCKETS = 10_000  # least recently used cases beyond this are forgotten
RETRY_AFTER_SECONDS = 60

_lock = threading.Lock()
_buckets: OrderedDict[tuple[int, float, str], TokenBucket] = OrderedDict()


def _bucket(case_id: int, settings: Settings) -> TokenBucket:
    per_minute = settings.page_case_requests_per_minute
    redis_url = settings.limiter_redis_url
    key = (case_id, per_minute, redis_url or "")
    with _lock:
        bucket = _buckets.get(key)
        if bucket is None:
            rate, capacity = per_minute / 60, per_minute
            bucket = LocalTokenBucket(rate, capacity)
            if redis_url is not None:
                shared = RedisTokenBucket(
                    limiter_redis(redis_url), f"{NAME}:{case_id}", rate, capacity
                )
                bucket = SharedBucket(shared, bucket)
            _buckets[key] = bucket
            if len(_buckets) > MAX_LOCAL_BUCKETS:
                _buckets.popitem(last=False)
        _buckets.move_to_end(key)
        return bucket


def take(case_id: int, settings: Settings | None = None) -> None:
    """One request's token for this case, or Busy."""
    if _bucket(case_id, settings or get_settings()).reserve(1.0, max_wait=0.0) < 0:
        raise Busy(f"case {case_id}: too many requests", retry_after=RETRY_AFTER_SECONDS)


def reset() -> None:
    """Forget every case's bucket (tests)."""
    with _lock:
        _buckets.clear()
