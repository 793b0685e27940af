"""Replaying inbox events: put a dead, failed (or, forced, a processed) event back to
`received` and queue it. The operator CLI (`relink events replay`) and the operations
dashboard's replay button both call these; each call is its own unit of work."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from shared.db import session_scope, utcnow
from shared.events.inbox import forget_enqueue
from shared.models import EventStatus, WebhookEvent
from shared.queue import events_task, publish_after_commit


@dataclass
class ReplayOutcome:
    id: str
    outcome: str  # queued, stored (the redrive queues it), refused, missing
    detail: str
    previous_status: str | None = None


REPLAYABLE = (EventStatus.DEAD, EventStatus.FAILED, EventStatus.RECEIVED)


def reset_for_replay(
    event_id: str, *, force: bool, replayable: tuple[str, ...] = REPLAYABLE
) -> ReplayOutcome:
    """Put one event back to `received` (committed) so process_event runs it again.

    Dead, failed and still-received events are replayed; processed and ignored ones only with
    `force` (handlers are idempotent, so a forced replay repeats no email or state change);
    an event whose payload retention pruned cannot be replayed. The dashboard's button passes
    `replayable` (dead and failed only), so a second press of it queues nothing more.
    """
    with session_scope() as session:
        row = session.exec(
            select(WebhookEvent).where(col(WebhookEvent.id) == event_id).with_for_update()
        ).first()
        if row is None:
            return ReplayOutcome(event_id, "missing", "no such event in the inbox")
        previous = row.status
        if row.payload is None:
            return ReplayOutcome(event_id, "refused", "payload pruned by retention", previous)
        if previous not in replayable and not force:
            return ReplayOutcome(
                event_id, "refused", f"already {previous}; --force replays it anyway", previous
            )
        row.status = EventStatus.RECEIVED
        row.processed_at = None
        row.enqueued_at = utcnow()
        session.add(row)
        outcome = ReplayOutcome(event_id, "queued", f"was {previous}", previous)
        publish_after_commit(
            session, *events_task([event_id]), on_failure=lambda exc: _stored(outcome, exc)
        )
    return outcome


def _stored(outcome: ReplayOutcome, exc: Exception) -> None:
    """The publish failed: the event stays `received` with no enqueue time, for the redrive."""
    with session_scope() as session:
        forget_enqueue(session, [outcome.id])
    outcome.outcome = "stored"
    outcome.detail += f"; broker unavailable ({type(exc).__name__}), redrive queues it"


def replay_events(event_ids: list[str], *, force: bool) -> list[ReplayOutcome]:
    """Reset each event and publish it after its commit; a publish that fails leaves the
    event `received` with no enqueue time, so the redrive queues it when the broker is back."""
    return [reset_for_replay(event_id, force=force) for event_id in event_ids]
