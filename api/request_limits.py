"""Per-key token buckets for the api's own limits (relink-page requests per case, credential
attempts per client on /ops): shared/ratelimit.py's buckets, in the limiter's Redis so every
api process shares them (in-process without one). Keys beyond MAX_LOCAL_BUCKETS, least
recently used first, are forgotten in this process."""

from __future__ import annotations

import threading
from collections import OrderedDict

from shared.ratelimit import (
    LocalTokenBucket,
    RedisTokenBucket,
    SharedBucket,
    TokenBucket,
    limiter_redis,
)
from shared.settings import Settings

MAX_LOCAL_BUCKETS = 10_000

_lock = threading.Lock()
_buckets: OrderedDict[tuple[str, str, float, str], TokenBucket] = OrderedDict()


def keyed_bucket(name: str, key: str, per_minute: float, settings: Settings) -> TokenBucket:
    """The bucket of `key` under limit `name`: `per_minute` tokens a minute, a minute's worth
    as the burst."""
    redis_url = settings.limiter_redis_url
    cache_key = (name, key, per_minute, redis_url or "")
    with _lock:
        bucket = _buckets.get(cache_key)
        if bucket is None:
            rate, capacity = per_minute / 60, per_minute
            bucket = LocalTokenBucket(rate, capacity)
            if redis_url is not None:
                shared = RedisTokenBucket(limiter_redis(redis_url), f"{name}:{key}", rate, capacity)
                bucket = SharedBucket(shared, bucket)
            _buckets[cache_key] = bucket
            if len(_buckets) > MAX_LOCAL_BUCKETS:
                _buckets.popitem(last=False)
        _buckets.move_to_end(cache_key)
        return bucket


def take(name: str, key: str, per_minute: float, settings: Settings) -> bool:
    """One token of `key`'s bucket now, or False (nothing waits)."""
    return keyed_bucket(name, key, per_minute, settings).reserve(1.0, max_wait=0.0) >= 0


def reset() -> None:
    """Forget every key's bucket in this process (tests)."""
    with _lock:
        _buckets.clear()
