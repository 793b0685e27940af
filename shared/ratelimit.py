"""Shared rate limits: a token bucket per limit name, in the limiter's Redis
(RATE_LIMIT_REDIS_URL, else the broker when it is Redis).

Every worker process and host draws from the same bucket (one atomic Lua script per
acquisition), so together they stay under Stripe's limit instead of finding it with 429s.
Without a Redis (the embedded SQLite default) the bucket lives in the process; production
settings refuse that at start-up (`require_shared_limiter`): two processes would each spend
the whole limit.

Buckets reserve: an acquisition takes its token at once, possibly going into debt, and is
told how long to wait for its turn. Each caller makes one round trip and waits exactly its
share, and over any window of T seconds at most `burst + rate * T` acquisitions proceed.

Use: `acquire("stripe")` before each Stripe request (shared/stripe_client.py does this),
`acquire("smtp")` before each SMTP send.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Protocol, cast

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from shared.errors import RateLimitError
from shared.settings import ConfigError, Settings, get_settings

log = logging.getLogger(__name__)

KEY_PREFIX = "relink:ratelimit:"
# A full bucket lets this many seconds' worth of requests through at once: small, so that
# burst + rate * 1 s stays under the provider's per-second limit (20 → 22/s, 90 → 99/s).
BURST_SECONDS = 0.1

# KEYS[1] the bucket; ARGV rate (tokens/s), capacity, requested, max_wait (s, "" = none),
# now (s, "" = Redis TIME: one clock for every host). Returns the wait in seconds as a string
# ("-<wait>" when it would exceed max_wait: then nothing is taken).
BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local requested = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local left = tokens - requested
local wait = 0
if left < 0 then
  wait = -left / rate
end
if max_wait ~= nil and wait > max_wait then
  return '-' .. string.format('%.6f', wait)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', left),
           'ts', string.format('%.17g', ts))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - left) / rate * 1000) + 1000)
return string.format('%.6f', wait)
"""


class RateLimitTimeout(RateLimitError):
    """Waiting for a token would take longer than the caller allowed; nothing was taken."""

    def __init__(self, name: str, wait: float) -> None:
        message = f"rate limit {name!r}: next token in {wait:.3f}s"
        super().__init__(message, "rate_limit_timeout", retry_after=math.ceil(wait))
        self.name = name
        self.wait = wait


class TokenBucket(Protocol):
    rate: float
    capacity: float

    def reserve(self, tokens: float = 1.0, max_wait: float | None = None) -> float:
        """Take `tokens` and return the seconds to wait before using them; if that would
        exceed `max_wait`, take nothing and return minus the wait."""
        ...


def capacity_for(rate: float) -> float:
    return max(1.0, rate * BURST_SECONDS)


class RedisTokenBucket:
    """A bucket shared through Redis; `clock` (seconds) replaces Redis TIME in tests."""

    def __init__(
        self,
        client: redis.Redis,
        name: str,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.name = name
        self.key = KEY_PREFIX + name
        self.rate = rate
        self.capacity = capacity if capacity is not None else capacity_for(rate)
        self.clock = clock
        self._script = client.register_script(BUCKET_SCRIPT)

    def reserve(self, tokens: float = 1.0, max_wait: float | None = None) -> float:
        now = "" if self.clock is None else repr(self.clock())
        answer = self._script(
            keys=[self.key],
            args=[
                repr(self.rate),
                repr(self.capacity),
                repr(tokens),
                "" if max_wait is None else repr(max_wait),
                now,
            ],
        )
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        wait = float(text)
        return -max(-wait, 1e-6) if text.startswith("-") else wait


class LocalTokenBucket:
    """The same bucket in this process only (the embedded default), thread-safe."""

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = capacity if capacity is not None else capacity_for(rate)
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._ts: float | None = None

    def reserve(self, tokens: float = 1.0, max_wait: float | None = None) -> float:
        with self._lock:
            now = self.clock()
            if self._ts is None:
                self._ts = now
            if now > self._ts:
                self._tokens = min(self.capacity, self._tokens + (now - self._ts) * self.rate)
                self._ts = now
            left = self._tokens - tokens
            wait = -left / self.rate if left < 0 else 0.0
            if max_wait is not None and wait > max_wait:
                return -wait
            self._tokens = left
            return wait


class SharedBucket:
    """A Redis bucket that falls back to an in-process one while Redis is unreachable (a
    Redis restart must not stop the workers; a 429 meanwhile is retried by the client).
    After a failure Redis is left alone for `retry_after` seconds."""

    def __init__(
        self,
        shared: RedisTokenBucket,
        fallback: LocalTokenBucket,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self.fallback = fallback
        self.rate = shared.rate
        self.capacity = shared.capacity
        self.retry_after = retry_after
        self.clock = clock
        self._down_until = 0.0

    def reserve(self, tokens: float = 1.0, max_wait: float | None = None) -> float:
        if self.clock() >= self._down_until:
            try:
                return self.shared.reserve(tokens, max_wait)
            except redis.RedisError as exc:
                self._down_until = self.clock() + self.retry_after
                log.warning(
                    "rate limit %s: Redis unavailable (%s), limiting in-process for %.0fs",
                    self.shared.name,
                    type(exc).__name__,
                    self.retry_after,
                )
        return self.fallback.reserve(tokens, max_wait)


def rate_for(name: str, settings: Settings) -> float:
    """The configured rate (per second) of a limit name."""
    rates = {
        "stripe": settings.stripe_requests_per_second,
        "stripe_page": settings.page_stripe_requests_per_second,  # the api's own budget
        "smtp": settings.smtp_rate_limit,
    }
    try:
        return rates[name]
    except KeyError:
        raise ValueError(f"unknown rate limit {name!r}; known: {', '.join(rates)}") from None


def require_shared_limiter(settings: Settings) -> None:
    """Refuse production settings (Settings.production) whose limits would live in-process."""
    if settings.production and settings.limiter_redis_url is None:
        raise ConfigError(
            "RATE_LIMIT_REDIS_URL: required in production (a live key or a database other "
            "than SQLite) when CELERY_BROKER_URL is not Redis: an in-process rate limiter "
            "lets every process spend the whole Stripe limit"
        )


class _RedisFromUrl(Protocol):
    """`Redis.from_url`, whose keyword arguments redis-py leaves untyped."""

    def from_url(self, url: str, **kwargs: object) -> redis.Redis: ...


@lru_cache(maxsize=4)
def limiter_redis(url: str) -> redis.Redis:
    """The limiter's Redis client: short timeouts, so a Redis outage fails over fast."""
    return cast(_RedisFromUrl, redis.Redis).from_url(
        url,
        socket_timeout=2,
        socket_connect_timeout=2,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), 1),  # fail over fast, not in 3 s
    )


@lru_cache(maxsize=32)
def _bucket(name: str, rate: float, redis_url: str | None) -> TokenBucket:
    if redis_url is None:
        return LocalTokenBucket(rate)
    shared = RedisTokenBucket(limiter_redis(redis_url), name, rate)
    return SharedBucket(shared, LocalTokenBucket(rate))


def bucket_for(name: str, settings: Settings | None = None) -> TokenBucket:
    """The bucket of `name` under these settings (one per name, rate and limiter Redis)."""
    settings = settings or get_settings()
    return _bucket(name, rate_for(name, settings), settings.limiter_redis_url)


def acquire(
    name: str,
    tokens: float = 1.0,
    *,
    timeout: float | None = None,
    settings: Settings | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Block until `tokens` of limit `name` ("stripe", "smtp") are ours; return the seconds
    waited. With `timeout`, raise RateLimitTimeout instead of waiting longer (nothing taken).
    """
    wait = bucket_for(name, settings).reserve(tokens, timeout)
    if wait < 0:
        raise RateLimitTimeout(name, -wait)
    if wait > 0:
        sleep(wait)
    return wait


def reset_buckets() -> None:
    """Forget every bucket (tests, or after the settings changed)."""
    _bucket.cache_clear()
    limiter_redis.cache_clear()
