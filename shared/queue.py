"""The task queue as the API, the worker and the CLI all use it: one Celery app built on
first use, publish now, publish after the commit, and the broker check.

A task published inside a transaction could run before the commit (and find nothing), and
one published before a rollback would act on rows that never existed: `publish_after_commit`
holds tasks on the session until it commits. The redrive and the outbox sweep publish again
whatever a broker failure lost here, so a lost publish only delays work.

Celery ships no type information (and relink has no stubs for it): the few calls made here
go through `_App`, a protocol of exactly those calls. Strict pyright (on shared/) would also
report the import itself as missing stubs; that one rule is off for this module only.
"""
# pyright: reportMissingTypeStubs=false

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, cast

import structlog
from celery import Celery
from kombu.entity import Exchange, Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

from shared.events import catalog
from shared.settings import VAR_DIR, Settings, get_settings

log = structlog.get_logger(__name__)

_PENDING = "relink.publish_after_commit"


class _Conf(Protocol):
    def update(self, options: Mapping[str, object] = ..., /, **kwargs: object) -> None: ...


class _Connection(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def ensure_connection(self, *, max_retries: int, timeout: float) -> object: ...


class _App(Protocol):
    """The calls this module makes on Celery's (untyped) app."""

    @property
    def conf(self) -> _Conf: ...

    def send_task(
        self, name: str, *, args: list[object], countdown: float | None, retry: bool
    ) -> object: ...

    def connection_for_write(self) -> _Connection: ...


def _typed(celery: Celery) -> _App:
    return cast(_App, celery)  # Celery is untyped; these are its signatures, narrowed


def _transport_options(settings: Settings) -> dict[str, object]:
    if settings.celery_broker_url.startswith("filesystem://"):
        queue = Path(VAR_DIR, "broker", "queue")
        queue.mkdir(parents=True, exist_ok=True)
        return {"data_folder_in": str(queue), "data_folder_out": str(queue)}
    # A killed worker's unacked message comes back after this long; the redrive is faster.
    return {"visibility_timeout": 600}


DEFAULT_QUEUE = "relink"
# Emails have a queue of their own, which every worker consumes beside the default one (the
# Redis transport takes from each in turn): in a burst the event tasks queued ahead of an
# email would otherwise hold it back until the whole backlog is processed, and the drain
# would spend Stripe's rate limit only once the events were done.
EMAIL_QUEUE = "relink.emails"


def _queue_options(settings: Settings) -> dict[str, object]:
    """The two queues, and the email task's route. On RabbitMQ (amqp://) each is a quorum
    queue: replicated, durable, and poison messages dead-lettered after RabbitMQ's delivery
    limit. Their exchange is a topic exchange, so countdowns (retries, due emails) travel
    through RabbitMQ's native delayed delivery instead of waiting unacked in a worker."""
    amqp = settings.celery_broker_url.startswith(("amqp://", "amqps://", "pyamqp://"))
    exchange = Exchange(DEFAULT_QUEUE, type="topic" if amqp else "direct")
    arguments = {"x-queue-type": "quorum"} if amqp else None
    options: dict[str, object] = {
        "task_queues": [
            Queue(name, exchange, routing_key=name, queue_arguments=arguments)
            for name in (DEFAULT_QUEUE, EMAIL_QUEUE)
        ],
        "task_routes": {catalog.SEND_EMAIL: {"queue": EMAIL_QUEUE}},
    }
    if amqp:
        options |= {"task_default_queue_type": "quorum", "task_default_exchange_type": "topic"}
    return options


def make_celery(settings: Settings) -> Celery:
    """JSON only, late acks, one message at a time, explicit task names."""
    celery = Celery("relink", broker=settings.celery_broker_url, include=catalog.TASK_MODULES)
    _typed(celery).conf.update(_queue_options(settings))
    _typed(celery).conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=DEFAULT_QUEUE,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        broker_transport_options=_transport_options(settings),
        worker_hijack_root_logger=False,
        beat_schedule={
            "redrive-inbox": {"task": catalog.REDRIVE, "schedule": settings.redrive_every_seconds},
            "prune-inbox": {"task": catalog.PRUNE_INBOX, "schedule": settings.prune_every_seconds},
            "sweep-outbox": {
                "task": catalog.SWEEP_OUTBOX,
                "schedule": settings.email_sweep_every_seconds,
            },
            "sweep-stale-cases": {
                "task": catalog.SWEEP_STALE_CASES,
                "schedule": settings.stale_case_sweep_every_seconds,
            },
            "backfill-events": {
                "task": catalog.BACKFILL_EVENTS,
                "schedule": settings.events_backfill_every_seconds,
            },
            "sweep-platform-events": {
                "task": catalog.SWEEP_PLATFORM_EVENTS,
                "schedule": settings.platform_webhook_sweep_every_seconds,
            },
            "sweep-payment-switches": {
                "task": catalog.SWEEP_PAYMENT_SWITCHES,
                "schedule": settings.payment_method_switch_sweep_every_seconds,
            },
            "sweep-payment-recoveries": {
                "task": catalog.SWEEP_PAYMENT_RECOVERIES,
                "schedule": settings.recovery_sweep_every_seconds,
            },
        },
    )
    return celery


@lru_cache(maxsize=1)
def celery_app() -> Celery:
    """The process's Celery app, built from the settings the first time it is needed."""
    app = make_celery(get_settings())
    app.set_default()
    return app


def publish(task_name: str, args: list[object], *, countdown: float | None = None) -> None:
    """Publish now, without Celery's retries: a broker failure raises at once."""
    _typed(celery_app()).send_task(task_name, args=args, countdown=countdown, retry=False)


def events_task(event_ids: list[str]) -> tuple[str, list[object]]:
    """The message for a batch of inbox events: one process_event, or one process_events that
    a worker fans out."""
    if len(event_ids) == 1:
        return catalog.PROCESS_EVENT, [event_ids[0]]
    return catalog.PROCESS_EVENTS, [event_ids]


def publish_after_commit(
    session: Session,
    task_name: str,
    args: list[object],
    *,
    countdown: float | None = None,
    on_failure: Callable[[Exception], None] | None = None,
) -> None:
    """Publish when `session` commits; forget it if the session rolls back. A failed publish
    is handed to `on_failure` (after the commit, so it may open a new session), or logged."""
    session.info.setdefault(_PENDING, []).append((task_name, args, countdown, on_failure))


@contextmanager
def savepoint(session: Session) -> Generator[None]:
    """A savepoint whose rollback also forgets what was held inside it for after the commit:
    tasks to publish, metrics to record (every list in `session.info`)."""
    marks = {key: len(value) for key, value in _held(session)}
    try:
        with session.begin_nested():
            yield
    except BaseException:
        for key, value in _held(session):
            del value[marks.get(key, 0) :]
        raise


def _held(session: Session) -> list[tuple[object, list[object]]]:
    """The lists in `session.info`: what the session holds for after its commit."""
    return [
        (key, cast(list[object], value))  # isinstance leaves the element type unknown
        for key, value in list(session.info.items())
        if isinstance(value, list)
    ]


def _publish_pending(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the commit is still to come
        return
    for task_name, args, countdown, on_failure in session.info.pop(_PENDING, []):
        try:
            publish(task_name, args, countdown=countdown)
        except Exception as exc:  # a broker's errors are many and transport-specific
            if on_failure is None:
                log.warning("publish_failed", task=task_name, error=type(exc).__name__)
            else:
                on_failure(exc)


def _discard_pending(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint rolled back: see `savepoint`
        return
    session.info.pop(_PENDING, None)


# Registered once, at import: a listener added lazily while another thread commits mutates
# the deque SQLAlchemy is iterating ("deque mutated during iteration" in the receiver).
event.listen(Session, "after_commit", _publish_pending)
event.listen(Session, "after_rollback", _discard_pending)


def check_broker() -> str | None:
    """None when the broker answers within 2 s, else the error's name."""
    try:
        with _typed(celery_app()).connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return type(exc).__name__
    return None
