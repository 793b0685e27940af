"""The worker's side of the Celery app (`celery -A worker`): the shared app, plus a redrive
as soon as a worker is ready."""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_ready

from shared.catalog import REDRIVE
from shared.logging import configure_logging
from shared.queue import celery_app, publish
from shared.ratelimit import require_shared_limiter
from shared.settings import get_settings


def worker_app() -> Celery:
    configure_logging()
    settings = get_settings()
    require_shared_limiter(settings)
    settings.signing_keys()  # a missing LINK_SIGNING_KEYS stops start-up here
    worker_ready.connect(_redrive_at_start, dispatch_uid="relink.redrive_at_start")
    return celery_app()


def _redrive_at_start(sender: object = None, **_: object) -> None:
    """Whatever a dead worker left unfinished is queued again as soon as a worker is back."""
    publish(REDRIVE, [])
