"""Publish Celery tasks only once the transaction that wrote their rows has committed.

A task published inside the transaction could run before the commit (and find nothing), and
one published before a rollback would act on rows that never existed. The beat sweep
re-publishes due outbox rows, so a publish lost here (broker down) only delays an email.
"""

from __future__ import annotations

import structlog
from sqlalchemy import event
from sqlalchemy.orm import Session

from worker.celery_app import app

log = structlog.get_logger(__name__)

_PENDING = "relink.publish_after_commit"


def publish_after_commit(
    session: Session, task_name: str, args: list[object], *, countdown: float | None = None
) -> None:
    session.info.setdefault(_PENDING, []).append((task_name, args, countdown))


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    for task_name, args, countdown in session.info.pop(_PENDING, []):
        try:
            app.send_task(task_name, args=args, countdown=countdown, retry=False)
        except Exception as exc:  # the sweep publishes it again
            log.warning("publish_failed", task=task_name, error=type(exc).__name__)


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_PENDING, None)
