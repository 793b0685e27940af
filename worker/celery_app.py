"""The worker's side of the Celery app (`celery -A worker`): the shared app, plus a redrive
as soon as a worker is ready, a fresh log context for every task (the ids a task binds stay
its own), and, with WORKER_METRICS_PORT, the metrics of every worker process served by the
main one (PROMETHEUS_MULTIPROC_DIR: prefork children write there; a child's files are marked
dead when it exits)."""

from __future__ import annotations

import os

import structlog
from celery import Celery
from celery.signals import task_prerun, worker_init, worker_process_shutdown, worker_ready
from prometheus_client import multiprocess, start_http_server

from shared.db import get_engine
from shared.events.catalog import REDRIVE
from shared.logging import configure_logging
from shared.metrics import export_registry
from shared.queue import celery_app, publish
from shared.ratelimit import require_shared_limiter
from shared.schema_compat import require_compatible_schema
from shared.settings import get_settings


def worker_app() -> Celery:
    configure_logging()
    settings = get_settings()
    require_shared_limiter(settings)
    settings.signing_keys()  # a missing LINK_SIGNING_KEYS stops start-up here
    worker_ready.connect(_redrive_at_start, dispatch_uid="relink.redrive_at_start")
    task_prerun.connect(_fresh_log_context, dispatch_uid="relink.fresh_log_context")
    worker_init.connect(_check_schema, dispatch_uid="relink.check_schema")
    worker_init.connect(_serve_metrics, dispatch_uid="relink.serve_metrics")
    worker_process_shutdown.connect(_process_gone, dispatch_uid="relink.process_gone")
    app = celery_app()
    # structlog prints its lines itself, redacted: Celery's stdout proxy would make each line a
    # second, stdlib record (redacted and formatted again, and labelled WARNING).
    app.conf.worker_redirect_stdouts = False
    return app


def _redrive_at_start(sender: object = None, **_: object) -> None:
    """Whatever a dead worker left unfinished is queued again as soon as a worker is back."""
    publish(REDRIVE, [])


def _fresh_log_context(sender: object = None, **_: object) -> None:
    structlog.contextvars.clear_contextvars()


def _check_schema(sender: object = None, **_: object) -> None:
    require_compatible_schema(get_engine())  # SystemExit: Celery logs only an Exception


def _serve_metrics(sender: object = None, **_: object) -> None:
    port = os.environ.get("WORKER_METRICS_PORT")
    if port:  # no auth on it: this host only, unless WORKER_METRICS_HOST opens it (compose)
        host = os.environ.get("WORKER_METRICS_HOST", "127.0.0.1")
        start_http_server(int(port), addr=host, registry=export_registry())


def _process_gone(sender: object = None, pid: int | None = None, **_: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid or os.getpid())
