"""The Celery app: JSON only, late acks, one message at a time, explicit task names."""

from __future__ import annotations

from pathlib import Path

from celery import Celery
from celery.signals import worker_ready

from shared.settings import VAR_DIR, Settings, get_settings

PROCESS_EVENT = "relink.process_event"
PROCESS_EVENTS = "relink.process_events"
REDRIVE = "relink.redrive"
PRUNE_INBOX = "relink.prune_inbox"
SEND_EMAIL = "relink.send_email"
SEND_FRESH_LINK = "relink.send_fresh_link"
SWEEP_OUTBOX = "relink.sweep_outbox"
RECONCILE_AUTHORIZATION = "relink.reconcile_authorization"
SWEEP_STALE_CASES = "relink.sweep_stale_cases"
BACKFILL_EVENTS = "relink.backfill_events"


def _transport_options(settings: Settings) -> dict[str, object]:
    if settings.celery_broker_url.startswith("filesystem://"):
        queue = Path(VAR_DIR, "broker", "queue")
        queue.mkdir(parents=True, exist_ok=True)
        return {"data_folder_in": str(queue), "data_folder_out": str(queue)}
    # A killed worker's unacked message comes back after this long; the redrive is faster.
    return {"visibility_timeout": 600}


def make_celery(settings: Settings) -> Celery:
    celery = Celery(
        "relink",
        broker=settings.celery_broker_url,
        include=["worker.tasks", "worker.email_tasks", "worker.reconcile_tasks"],
    )
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="relink",
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        broker_transport_options=_transport_options(settings),
        worker_hijack_root_logger=False,
        beat_schedule={
            "redrive-inbox": {"task": REDRIVE, "schedule": settings.redrive_every_seconds},
            "prune-inbox": {"task": PRUNE_INBOX, "schedule": settings.prune_every_seconds},
            "sweep-outbox": {
                "task": SWEEP_OUTBOX,
                "schedule": settings.email_sweep_every_seconds,
            },
            "sweep-stale-cases": {
                "task": SWEEP_STALE_CASES,
                "schedule": settings.stale_case_sweep_every_seconds,
            },
            "backfill-events": {
                "task": BACKFILL_EVENTS,
                "schedule": settings.events_backfill_every_seconds,
            },
        },
    )
    return celery


app = make_celery(get_settings())


def enqueue_event(event_id: str) -> None:
    """Publish process_event without retrying: if the broker is down, the redrive catches up."""
    app.send_task(PROCESS_EVENT, args=[event_id], retry=False)


def enqueue_events(event_ids: list[str]) -> None:
    """Publish a batch as one message; a worker fans it out to one process_event each."""
    if len(event_ids) == 1:
        enqueue_event(event_ids[0])
    else:
        app.send_task(PROCESS_EVENTS, args=[event_ids], retry=False)


@worker_ready.connect
def _redrive_at_start(sender: object = None, **_: object) -> None:
    """Whatever a dead worker left unfinished is queued again as soon as a worker is back."""
    app.send_task(REDRIVE)
