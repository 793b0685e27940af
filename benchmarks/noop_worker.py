"""The empty-task baseline of benchmarks/worker.py: relink's own Celery configuration
(shared/queue.make_celery: same broker, queue, acks, prefetch, serializer) with one more task
that only increments a Redis counter. `celery -A benchmarks.noop_worker worker ...`; the app is
built when Celery asks for it."""

from __future__ import annotations

from typing import Any

import redis
from celery import Celery

from shared.queue import make_celery
from shared.settings import get_settings

NOOP = "bench.noop"
COUNTER = "bench:noop:done"


def noop_app() -> Celery:
    settings = get_settings()
    app = make_celery(settings)
    counter = redis.Redis.from_url(settings.celery_broker_url)

    @app.task(name=NOOP)
    def noop() -> None:
        counter.incr(COUNTER)

    return app


def __getattr__(name: str) -> Any:
    if name in {"app", "celery"}:
        return noop_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
