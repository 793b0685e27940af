"""The shared token bucket: rate respected over (simulated) time, atomic under concurrency,
one bucket per limit name, in the limiter's Redis (RATE_LIMIT_REDIS_URL, else a Redis broker)
and in-process otherwise, which production settings refuse."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import fakeredis
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared import ratelimit
from shared.ratelimit import (
    KEY_PREFIX,
    LocalTokenBucket,
    RateLimitTimeout,
    RedisTokenBucket,
    SharedBucket,
    acquire,
    bucket_for,
    require_shared_limiter,
)
from shared.settings import ConfigError, get_settings, load_settings


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def fresh_buckets() -> Iterator[None]:
    ratelimit.reset_buckets()
    yield
    ratelimit.reset_buckets()


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def client(server: fakeredis.FakeServer) -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(server=server)


def start_times(bucket: ratelimit.TokenBucket, clock: FakeClock, n: int) -> list[float]:
    """When each of n back-to-back acquisitions may proceed."""
    return [clock.now + bucket.reserve() for _ in range(n)]


def max_in_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max(
        sum(1 for t in ordered[i:] if t < start + window - 1e-9) for i, start in enumerate(ordered)
    )


@pytest.mark.parametrize("kind", ["redis", "local"])
def test_rate_is_respected_over_simulated_time(kind: str, client: fakeredis.FakeRedis) -> None:
    clock = FakeClock()
    bucket: ratelimit.TokenBucket = (
        RedisTokenBucket(client, "stripe", rate=20, clock=clock)
        if kind == "redis"
        else LocalTokenBucket(rate=20, clock=clock)
    )
    assert bucket.capacity == 2  # 0.1 s of burst
    times: list[float] = []
    for _ in range(200):  # a caller that sleeps its wait, as acquire() does
        wait = bucket.reserve()
        clock.sleep(wait)
        times.append(clock.now)
    # 200 requests at 20/s with a burst of 2 take (200 - 2) / 20 s.
    assert times[-1] - times[0] == pytest.approx(198 / 20, abs=1e-3)
    for window in (0.5, 1.0, 3.0):
        assert max_in_window(times, window) <= bucket.capacity + 20 * window


def test_idle_bucket_refills_to_capacity_only(client: fakeredis.FakeRedis) -> None:
    clock = FakeClock()
    bucket = RedisTokenBucket(client, "smtp", rate=10, capacity=3, clock=clock)
    start_times(bucket, clock, 3)
    clock.sleep(3600)  # an hour idle earns 3 tokens, not 36,000
    waits = [bucket.reserve() for _ in range(5)]
    assert waits == pytest.approx([0, 0, 0, 0.1, 0.2])


def test_concurrent_acquirers_never_exceed_the_bucket(server: fakeredis.FakeServer) -> None:
    # given 8 "hosts", each with its own connection, and a clock that stands still
    clock = FakeClock()
    rate, per_thread, threads = 50.0, 25, 8
    waits: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def host() -> None:
        bucket = RedisTokenBucket(
            fakeredis.FakeRedis(server=server), "stripe", rate=rate, clock=clock
        )
        barrier.wait()
        mine = [bucket.reserve() for _ in range(per_thread)]
        with lock:
            waits.extend(mine)

    workers = [threading.Thread(target=host) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # then every acquisition got its own slot: capacity at once, then one every 1/rate s
    capacity = ratelimit.capacity_for(rate)
    expected = [max(0.0, (i + 1 - capacity) / rate) for i in range(threads * per_thread)]
    assert sorted(waits) == pytest.approx(expected, abs=1e-5)
    times = [clock.now + wait for wait in waits]
    assert max_in_window(times, 1.0) <= capacity + rate


def test_concurrent_acquirers_in_process_never_exceed_the_bucket() -> None:
    clock = FakeClock()
    bucket = LocalTokenBucket(rate=50, clock=clock)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [bucket.reserve() for _ in range(25)]
        with lock:
            waits.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [max(0.0, (i + 1 - 5) / 50) for i in range(200)]
    assert sorted(waits) == pytest.approx(expected, abs=1e-9)


def test_separate_names_are_independent(client: fakeredis.FakeRedis) -> None:
    clock = FakeClock()
    stripe_bucket = RedisTokenBucket(client, "stripe", rate=1, capacity=1, clock=clock)
    smtp_bucket = RedisTokenBucket(client, "smtp", rate=1, capacity=1, clock=clock)
    assert stripe_bucket.reserve() == 0
    assert stripe_bucket.reserve() == pytest.approx(1.0)
    assert smtp_bucket.reserve() == 0  # the stripe debt is not smtp's
    assert set(client.keys()) == {b"relink:ratelimit:stripe", b"relink:ratelimit:smtp"}


def test_same_name_is_shared_between_clients(server: fakeredis.FakeServer) -> None:
    clock = FakeClock()
    one = RedisTokenBucket(fakeredis.FakeRedis(server=server), "stripe", 1, 1, clock)
    two = RedisTokenBucket(fakeredis.FakeRedis(server=server), "stripe", 1, 1, clock)
    assert one.reserve() == 0
    assert two.reserve() == pytest.approx(1.0)


def test_a_wait_beyond_max_wait_takes_nothing(client: fakeredis.FakeRedis) -> None:
    clock = FakeClock()
    bucket = RedisTokenBucket(client, "smtp", rate=2, capacity=1, clock=clock)
    assert bucket.reserve() == 0
    assert bucket.reserve(max_wait=0.1) == pytest.approx(-0.5)
    assert bucket.reserve(max_wait=0.1) == pytest.approx(-0.5)  # still only 0.5: nothing taken
    assert bucket.reserve() == pytest.approx(0.5)


def test_bucket_key_expires_once_it_would_be_full_again(client: fakeredis.FakeRedis) -> None:
    bucket = RedisTokenBucket(client, "stripe", rate=10, capacity=1)  # Redis TIME
    bucket.reserve()
    bucket.reserve()
    ttl = client.pttl(KEY_PREFIX + "stripe")
    assert 1000 < ttl <= 1200  # debt of 1 token = 100 ms, plus 1 s of slack


def test_redis_outage_falls_back_to_an_in_process_bucket(client: fakeredis.FakeRedis) -> None:
    # given Redis that refuses connections, then comes back
    clock = FakeClock()
    broken = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    bucket = SharedBucket(
        RedisTokenBucket(broken, "stripe", rate=10, capacity=1, clock=clock),
        LocalTokenBucket(rate=10, capacity=1, clock=clock),
        retry_after=5,
        clock=clock,
    )
    assert bucket.reserve() == 0
    assert bucket.reserve() == pytest.approx(0.1)  # the in-process bucket still limits
    bucket.shared = RedisTokenBucket(client, "stripe", rate=10, capacity=1, clock=clock)
    clock.sleep(1)
    assert bucket.reserve() == 0
    assert not client.exists(KEY_PREFIX + "stripe")  # Redis left alone for 5 s
    clock.sleep(5)
    bucket.reserve()
    assert client.exists(KEY_PREFIX + "stripe")


def test_acquire_sleeps_for_its_turn_in_process() -> None:
    # given the embedded default broker (not Redis) and SMTP_RATE_LIMIT=5
    slept: list[float] = []
    settings = get_settings().model_copy(update={"smtp_rate_limit": 5.0})
    assert isinstance(bucket_for("smtp", settings), LocalTokenBucket)
    for _ in range(3):
        acquire("smtp", settings=settings, sleep=slept.append)
    assert len(slept) == 2
    assert slept[0] == pytest.approx(0.2, abs=0.02)


def test_acquire_uses_redis_when_the_broker_is_redis(
    monkeypatch: pytest.MonkeyPatch, client: fakeredis.FakeRedis
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6399/0")
    monkeypatch.setenv("STRIPE_RATE_LIMIT", "7")
    get_settings.cache_clear()
    urls: list[str] = []

    def from_url(url: str, **_: object) -> fakeredis.FakeRedis:
        urls.append(url)
        return client

    monkeypatch.setattr(ratelimit.redis.Redis, "from_url", from_url)
    acquire("stripe", sleep=lambda _: None)
    assert urls == ["redis://127.0.0.1:6399/0"]
    assert client.exists(KEY_PREFIX + "stripe")
    bucket = bucket_for("stripe")
    assert isinstance(bucket, SharedBucket)
    assert bucket.rate == 7


def test_acquire_with_timeout_raises_instead_of_waiting() -> None:
    settings = get_settings().model_copy(update={"smtp_rate_limit": 1.0})
    acquire("smtp", settings=settings, sleep=lambda _: None)
    with pytest.raises(RateLimitTimeout) as raised:
        acquire("smtp", settings=settings, timeout=0.1, sleep=lambda _: None)
    assert raised.value.name == "smtp"
    assert raised.value.wait == pytest.approx(1.0, abs=0.05)


def test_unknown_limit_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown rate limit 'sms'"):
        acquire("sms")


@pytest.mark.parametrize(
    ("key", "configured", "expected"),
    [("sk_test_x", None, 20.0), ("sk_live_x", None, 90.0), ("sk_live_x", "50", 50.0)],
)
def test_stripe_rate_defaults_follow_the_key_mode(
    monkeypatch: pytest.MonkeyPatch, key: str, configured: str | None, expected: float
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", key)
    if configured:
        monkeypatch.setenv("STRIPE_RATE_LIMIT", configured)
    get_settings.cache_clear()
    assert get_settings().stripe_requests_per_second == expected


def test_rate_limit_redis_url_holds_the_buckets_whatever_the_broker(
    monkeypatch: pytest.MonkeyPatch, client: fakeredis.FakeRedis
) -> None:
    # given RabbitMQ as the broker and the limiter's own Redis
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    monkeypatch.setenv("RATE_LIMIT_REDIS_URL", "redis://127.0.0.1:6398/3")
    get_settings.cache_clear()
    urls: list[str] = []

    def from_url(url: str, **_: object) -> fakeredis.FakeRedis:
        urls.append(url)
        return client

    monkeypatch.setattr(ratelimit.redis.Redis, "from_url", from_url)
    acquire("stripe", sleep=lambda _: None)
    assert urls == ["redis://127.0.0.1:6398/3"]
    assert client.exists(KEY_PREFIX + "stripe")
    assert isinstance(bucket_for("stripe"), SharedBucket)


def test_a_broker_that_is_not_redis_gives_no_shared_bucket_without_its_own_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    get_settings.cache_clear()
    assert get_settings().limiter_redis_url is None
    assert isinstance(bucket_for("stripe"), LocalTokenBucket)


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({}, False),  # the embedded default: SQLite, filesystem broker, test key
        ({"STRIPE_API_KEY": "sk_live_x"}, True),  # a live key is production
        ({"DATABASE_URL": "postgresql+psycopg://db/relink"}, True),  # so is a real database
        (
            {"DATABASE_URL": "postgresql+psycopg://db/relink", "CELERY_BROKER_URL": "amqp://q//"},
            True,
        ),
        ({"STRIPE_API_KEY": "sk_live_x", "CELERY_BROKER_URL": "redis://r:6379/0"}, False),
        (
            {
                "DATABASE_URL": "postgresql+psycopg://db/relink",
                "CELERY_BROKER_URL": "amqp://q//",
                "RATE_LIMIT_REDIS_URL": "redis://r:6379/1",
            },
            False,
        ),
    ],
)
def test_production_settings_refuse_an_in_process_limiter(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], refused: bool
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    if refused:
        with pytest.raises(ConfigError, match="RATE_LIMIT_REDIS_URL"):
            require_shared_limiter(get_settings())
    else:
        require_shared_limiter(get_settings())


def test_rate_limit_redis_url_must_be_a_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_REDIS_URL", "amqp://q//")
    with pytest.raises(ConfigError, match="RATE_LIMIT_REDIS_URL"):
        load_settings()


def test_the_api_and_the_worker_refuse_to_start_with_an_in_process_limiter_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from api.app import create_app
    from worker.celery_app import worker_app

    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/relink")
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:1//")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="RATE_LIMIT_REDIS_URL"):
        create_app()
    with pytest.raises(ConfigError, match="RATE_LIMIT_REDIS_URL"):
        worker_app()
    monkeypatch.setenv("RATE_LIMIT_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    assert create_app().title == "relink"  # nothing is connected at start-up
