"""The platform endpoint's standing (issue 24, webhook operations): failing since its first
failed attempt after a success; disabled once every attempt has failed for
PLATFORM_WEBHOOK_DISABLE_AFTER_HOURS. A disabled endpoint's deliveries are `held`, never
attempted nor dropped, until an operator enables it (`relink webhooks enable`, /ops); then the
held ones go out in order, one at a time per sequence key: a held event's successor is
released when it is delivered (or ends `failed`).

The worker, the API and /ops all use this module; nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from shared.db import table_of
from shared.delivery import DeliveryStatus
from shared.events.catalog import DELIVER_PLATFORM_EVENT
from shared.platform_webhooks.models import (
    ENDPOINT_ID,
    PlatformAttempt,
    PlatformEndpoint,
    PlatformEvent,
)
from shared.queue import publish_after_commit

ACTIVE = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
# Presses of "redeliver" this close together queue one delivery.
REDELIVER_WINDOW = timedelta(seconds=60)
DISABLED = "disabled"


def should_disable(failing_since: datetime | None, now: datetime, after_hours: float) -> bool:
    """Every attempt since `failing_since` failed, for at least `after_hours` (0: never)."""
    if after_hours <= 0 or failing_since is None:
        return False
    return now - failing_since >= timedelta(hours=after_hours)


@dataclass(frozen=True)
class EndpointStatus:
    disabled_at: datetime | None
    failing_since: datetime | None
    last_delivered_at: datetime | None
    enabled_at: datetime | None
    held: int

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


def endpoint(session: Session, *, lock: bool = False) -> PlatformEndpoint:
    """The endpoint's row (made on first use), optionally locked for the transaction."""
    query = select(PlatformEndpoint).where(PlatformEndpoint.id == ENDPOINT_ID)
    query = query.with_for_update() if lock else query
    row = session.exec(query).first()
    if row is not None:
        return row
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = table_of(PlatformEndpoint)
    session.exec(dialect.insert(table).values(id=ENDPOINT_ID).on_conflict_do_nothing())
    return session.exec(query).one()


def status(session: Session) -> EndpointStatus:
    row = endpoint(session)
    held = session.exec(
        select(func.count(col(PlatformEvent.id))).where(PlatformEvent.status == DeliveryStatus.HELD)
    ).one()
    return EndpointStatus(
        row.disabled_at, row.failing_since, row.last_delivered_at, row.enabled_at, int(held)
    )


def record_outcome(
    session: Session, *, ok: bool, at: datetime, now: datetime, hours: float
) -> bool:
    """Note an attempt's outcome; True when this failure disables the endpoint (its pending
    deliveries, and those that ended `failed` during the outage, are then held)."""
    row = endpoint(session, lock=True)
    if ok:
        row.failing_since, row.last_delivered_at = None, now
        session.add(row)
        return False
    row.failing_since = row.failing_since or at
    disable = row.disabled_at is None and should_disable(row.failing_since, now, hours)
    if disable:
        row.disabled_at = now
        hold_all(session, failing_since=row.failing_since)
    session.add(row)
    return disable


def hold_all(session: Session, *, failing_since: datetime) -> None:
    failed_in_outage = exists().where(
        col(PlatformAttempt.event_id) == PlatformEvent.id,
        col(PlatformAttempt.started_at) >= failing_since,
    )
    session.exec(
        update(PlatformEvent)
        .where(
            (col(PlatformEvent.status) == DeliveryStatus.PENDING)
            | ((col(PlatformEvent.status) == DeliveryStatus.FAILED) & failed_in_outage)
        )
        .values(status=DeliveryStatus.HELD)
        .execution_options(synchronize_session=False)
    )


def must_hold(session: Session, row: PlatformEvent) -> bool:
    """Whether a due row is held instead of attempted: the endpoint is disabled, or an
    earlier event of its sequence key is still held (order survives a release)."""
    if endpoint(session).disabled_at is not None:
        return True
    earlier_held = session.exec(
        select(PlatformEvent.id)
        .where(
            PlatformEvent.sequence_key == row.sequence_key,
            PlatformEvent.status == DeliveryStatus.HELD,
            col(PlatformEvent.sequence) < row.sequence,
        )
        .limit(1)
    ).first()
    return earlier_held is not None


def release_held(session: Session, *, now: datetime, sequence_key: str | None = None) -> list[int]:
    """Back to `pending` (a fresh retry window), while the endpoint is enabled: the first held
    event of every sequence key (or of one) with nothing pending or in flight, queued after
    the commit; their ids."""
    if endpoint(session).disabled_at is not None:
        return []
    busy = select(PlatformEvent.sequence_key).where(col(PlatformEvent.status).in_(ACTIVE))
    heads = (
        select(PlatformEvent.sequence_key, func.min(PlatformEvent.sequence))
        .where(
            PlatformEvent.status == DeliveryStatus.HELD,
            col(PlatformEvent.sequence_key).not_in(busy),
        )
        .group_by(col(PlatformEvent.sequence_key))
    )
    if sequence_key is not None:
        heads = heads.where(PlatformEvent.sequence_key == sequence_key)
    released: list[int] = []
    for key, sequence in session.exec(heads).all():
        statement = (
            update(PlatformEvent)
            .where(
                col(PlatformEvent.sequence_key) == key,
                col(PlatformEvent.sequence) == sequence,
                col(PlatformEvent.status) == DeliveryStatus.HELD,
            )
            .values(status=DeliveryStatus.PENDING, next_attempt_at=now, retrying_since=now)
            .returning(col(PlatformEvent.id))
        )
        released.extend(int(event_id) for event_id in session.exec(statement).scalars())
    for event_id in sorted(released):
        publish_after_commit(session, DELIVER_PLATFORM_EVENT, [event_id])
    return sorted(released)


def enable(session: Session, *, now: datetime) -> list[int] | None:
    """An operator enables the endpoint: failing afresh from the next failure, and the held
    deliveries released (their ids). None: it was not disabled."""
    row = endpoint(session, lock=True)
    if row.disabled_at is None:
        return None
    row.disabled_at, row.failing_since, row.enabled_at = None, None, now
    session.add(row)
    session.flush()
    return release_held(session, now=now)


def redeliver(session: Session, event_id: int, *, now: datetime) -> PlatformEvent | str | None:
    """Queue the event again, the same webhook id, a fresh retry window; a delivery already
    queued (pending, in flight, held) or redelivered in the last REDELIVER_WINDOW is left as it
    is. None: no such event; DISABLED: the endpoint is disabled (enable it first)."""
    row = session.exec(
        select(PlatformEvent).where(PlatformEvent.id == event_id).with_for_update()
    ).first()
    if row is None:
        return None
    if endpoint(session).disabled_at is not None:
        return DISABLED
    recent = row.redelivered_at is not None and now - row.redelivered_at < REDELIVER_WINDOW
    if row.status in (*ACTIVE, DeliveryStatus.HELD) or recent:
        return row
    row.status, row.next_attempt_at, row.retrying_since = DeliveryStatus.PENDING, now, now
    row.redelivered_at, row.delivered_at = now, None
    session.add(row)
    publish_after_commit(session, DELIVER_PLATFORM_EVENT, [event_id])
    return row
