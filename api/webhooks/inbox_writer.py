"""Group commit for the receiver: deliveries that arrive while the writes are in flight share
the next INSERT, COMMIT and publish, so the database and broker see one round trip per batch
instead of one per request. Under light load a batch is one event and nothing waits.

Up to MAX_IN_FLIGHT batches are written at once, each on its own connection: a batch spends
most of its time waiting on round trips (pool check, INSERT, COMMIT's fsync, the publish), so
one write at a time left the process idle and made every request wait for the write before
it as well as its own. Batches insert in id order, so two that share an event id wait for
each other instead of deadlocking."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from shared.db import session_scope
from shared.errors import RelinkError, UnavailableError
from shared.events.inbox import InboxItem, forget_enqueue, record_events
from shared.queue import events_task, publish_after_commit
from shared.settings import get_settings

MAX_BATCH = 500
MAX_IN_FLIGHT = 4
# The writes' own threads: the shared thread pool's limiter is not paid per batch, and the
# receiver never holds more than MAX_IN_FLIGHT database connections.
_WRITERS = ThreadPoolExecutor(MAX_IN_FLIGHT, thread_name_prefix="inbox-writer")

log = structlog.get_logger(__name__)


def _unavailable() -> UnavailableError:
    return UnavailableError("the inbox is unavailable; retry", "database_unavailable")


def write_batch(items: list[InboxItem]) -> list[str | RelinkError]:
    """Each item's outcome: queued, stored (broker down), recorded (a duplicate), ignored, or
    the error its request answers. A batch the database refuses is written again one
    event at a time, so one bad event never fails its neighbours; once the database is
    unreachable the rest of the batch is refused without trying."""
    try:
        return list(_write(items))
    except OperationalError:
        log.exception("inbox_unavailable", events=len(items))
        return [_unavailable() for _ in items]
    except Exception:  # a value the database refuses (SQLAlchemy's DataError, a driver's own)
        if len(items) == 1:
            log.exception("event_not_recorded", event_id=items[0].header.id)
            return [RelinkError("the event could not be recorded", "event_not_recorded")]
    log.warning("inbox_batch_refused_writing_one_by_one", events=len(items))
    outcomes: list[str | RelinkError] = []
    for item in items:
        last = outcomes[-1] if outcomes else None
        unreachable = isinstance(last, RelinkError) and last.code == "database_unavailable"
        outcomes.extend([_unavailable()] if unreachable else write_batch([item]))
    return outcomes


def _write(items: list[InboxItem]) -> list[str]:
    """Commit the batch to the inbox, then (after the commit) publish what needs queueing."""
    stale_after = timedelta(seconds=get_settings().redrive_after_seconds)
    publish_failures: list[Exception] = []
    with session_scope() as session:
        to_queue = record_events(session, items, stale_after=stale_after)
        if to_queue:
            task, args = events_task(sorted(to_queue))
            publish_after_commit(session, task, args, on_failure=publish_failures.append)
    published = "queued"
    if publish_failures:  # the rows are safe; the redrive or a redelivery queues them
        log.warning(
            "enqueue_failed", events=len(to_queue), error=type(publish_failures[0]).__name__
        )
        published = "stored"
        try:
            with session_scope() as session:
                forget_enqueue(session, sorted(to_queue))
        except SQLAlchemyError:
            log.warning("enqueue_failure_not_recorded", events=len(to_queue))
    outcomes = []
    for item in items:
        if item.header.id in to_queue:
            outcomes.append(published)
            to_queue.discard(item.header.id)  # a second copy in the same batch is a duplicate
        else:
            outcomes.append("recorded" if item.handled else "ignored")
    return outcomes


@dataclass
class InboxWriter:
    """One per process; `submit` returns when the event is committed (and published)."""

    pending: list[tuple[InboxItem, asyncio.Future[str]]] = field(default_factory=list)
    flushing: set[asyncio.Task[None]] = field(default_factory=set)

    async def submit(self, item: InboxItem) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.pending.append((item, future))
        if len(self.flushing) < MAX_IN_FLIGHT:
            self.flushing.add(asyncio.create_task(self._flush()))
        return await future

    async def _flush(self) -> None:
        try:
            await self._write_pending()
        finally:  # at once, not in a done callback: a submit in between must see it gone
            self.flushing.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def _write_pending(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            try:
                items = [item for item, _ in batch]
                outcomes = await loop.run_in_executor(_WRITERS, write_batch, items)
            except Exception as exc:  # handed to every waiting request
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, RelinkError):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
