"""The one delivery toolkit of relink's outboxes: the email outbox, the platform events and the
payment method switches. A row is `pending` until due, `sending` while one worker holds its
claim (a lease: `claimed_at` plus the outbox's lease; past it the worker is taken for dead
and the row may be claimed again), then ends in an outcome. A failed try gives the row back
(`release`), due again after `backoff`; a sweep publishes the rows due or left by a dead
worker (`due_ids`).

The statuses are stored as they always were (`sent`, `delivered`, `switched` stay apart), so
the previous release reads every row; the payment switch's claim is its row lock, held for
the whole run (a dead worker's lock ends with its connection), so it has no lease.

Helpers here never commit."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, false, or_, update
from sqlmodel import Session, col, select

from shared.cases.lifecycle import DeliveryStatus as DeliveryStatus  # the toolkit's vocabulary

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0


class Leased(Protocol):
    """A row whose claims are leased."""

    status: str
    attempts: int
    claimed_at: datetime | None
    last_error: str | None


Row = TypeVar("Row")
Claimed = TypeVar("Claimed", bound=Leased)


@dataclass(frozen=True)
class Outbox(Generic[Row]):
    """An outbox table: its columns `id`, `status`, `attempts`, `last_error`, `claimed_at`
    (where claims are leased) and `due`, the one saying when a pending row is due."""

    model: type[Row]
    due: str  # send_after, next_attempt_at, created_at

    def column(self, name: str) -> Any:
        return col(getattr(self.model, name))


def backoff(
    attempts: int, *, base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_CAP_SECONDS
) -> float:
    """Seconds to wait after `attempts` tries (1 or more): exponential from `base`, capped at
    `cap`, with equal jitter, so retries spread out yet never come sooner than half the
    delay. Keyed on the row's own count where it has one, not a task's retry count (a
    sweep-published task starts at 0, which would restart the backoff)."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def claimable(
    outbox: Outbox[Any],
    *,
    now: datetime,
    lease: timedelta | None,
    max_attempts: int | None = None,
) -> ColumnElement[bool]:
    """Pending and due, or claimed `lease` ago or longer (its worker is gone; None: claims
    are row locks, never stale); under `max_attempts` tries where the outbox limits them."""
    pending = and_(
        outbox.column("status") == DeliveryStatus.PENDING, outbox.column(outbox.due) <= now
    )
    condition = or_(pending, false() if lease is None else stale(outbox, now=now, lease=lease))
    if max_attempts is not None:
        condition = and_(outbox.column("attempts") < max_attempts, condition)
    return condition


def stale(outbox: Outbox[Any], *, now: datetime, lease: timedelta) -> ColumnElement[bool]:
    """Claimed `lease` ago or longer: its worker is taken for dead."""
    return and_(
        outbox.column("status") == DeliveryStatus.SENDING,
        outbox.column("claimed_at") <= now - lease,
    )


def in_flight(outbox: Outbox[Any], *, now: datetime, lease: timedelta) -> ColumnElement[bool]:
    """Claimed, and the claim not yet stale."""
    return and_(
        outbox.column("status") == DeliveryStatus.SENDING,
        outbox.column("claimed_at") > now - lease,
    )


def held_by(outbox: Outbox[Any], row_id: int, claimed_at: datetime | None) -> ColumnElement[bool]:
    """The row is still this claim's: not released, not reclaimed after a stall."""
    return and_(
        outbox.column("id") == row_id,
        outbox.column("status") == DeliveryStatus.SENDING,
        outbox.column("claimed_at") == claimed_at,
    )


def lock_claimable(
    session: Session,
    outbox: Outbox[Claimed],
    row_id: int,
    *,
    now: datetime,
    lease: timedelta,
    max_attempts: int | None = None,
) -> Claimed | None:
    """The row, locked for this transaction, if it may be claimed now (`take` claims it,
    after whatever check the outbox makes first)."""
    query = select(outbox.model).where(
        outbox.column("id") == row_id,
        claimable(outbox, now=now, lease=lease, max_attempts=max_attempts),
    )
    return session.exec(query.with_for_update().execution_options(populate_existing=True)).first()


def take(session: Session, row: Claimed, *, now: datetime) -> Claimed:
    """Claim a locked row: `sending`, claimed now, one try more."""
    row.status = DeliveryStatus.SENDING
    row.claimed_at = now
    row.attempts += 1
    session.add(row)
    return row


def release(
    session: Session,
    outbox: Outbox[Any],
    row: Leased,
    *,
    now: datetime,
    retry_in: float | None,
    error: str | None,
) -> bool:
    """Give a claimed row back after a failed try, due again in `retry_in` seconds; None:
    no try is left and the row is `failed`. Returns whether it is final."""
    final = retry_in is None
    row.status = DeliveryStatus.FAILED if final else DeliveryStatus.PENDING
    if retry_in is not None:
        setattr(row, outbox.due, now + timedelta(seconds=retry_in))
    row.last_error = error
    session.add(row)
    return final


def fail_exhausted(
    session: Session, outbox: Outbox[Any], *, now: datetime, lease: timedelta, max_attempts: int
) -> None:
    """Rows whose stale claim used up every try are `failed`: no worker finished them."""
    session.exec(
        update(outbox.model)
        .where(stale(outbox, now=now, lease=lease), outbox.column("attempts") >= max_attempts)
        .values(status=DeliveryStatus.FAILED, last_error="claimed too often without finishing")
        .execution_options(synchronize_session=False)
    )


def due_ids(
    session: Session,
    outbox: Outbox[Any],
    *,
    now: datetime,
    lease: timedelta | None,
    max_attempts: int | None = None,
    limit: int = 500,
) -> list[int]:
    """Rows a sweep should publish (a task the broker lost, a worker that died), the longest
    due first."""
    query = (
        select(outbox.column("id"))
        .where(claimable(outbox, now=now, lease=lease, max_attempts=max_attempts))
        .order_by(outbox.column(outbox.due), outbox.column("id"))
        .limit(limit)
    )
    return [int(row_id) for row_id in session.exec(query) if row_id is not None]
