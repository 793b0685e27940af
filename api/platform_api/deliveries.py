"""Platform webhook deliveries under /api/v1/webhook_deliveries: list them (Stripe's cursor,
filters by status, type and event), read one with its attempts, redeliver one.

Deliveries are the platform endpoint's, not a Stripe account's: a `Stripe-Account` header
changes nothing here. Redelivering takes its own scope, `write:webhooks`."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Query
from sqlmodel import Session, col, select

from api.errors import documented
from api.platform_api import schemas
from api.platform_api.auth import Caller, require
from api.platform_api.routes import ERRORS, NO_CONTROLS, no_store
from shared.db import session_scope, utcnow
from shared.delivery import DeliveryStatus
from shared.errors import ConflictError, NotFoundError
from shared.platform_webhooks import endpoint
from shared.platform_webhooks.models import EventStatus, PlatformAttempt, PlatformEvent

router = APIRouter(
    prefix="/api/v1/webhook_deliveries",
    tags=["platform"],
    responses={status: body for status, body in ERRORS.items() if status != 400},
    dependencies=[Depends(no_store)],
)
log = structlog.get_logger(__name__)

Reader = Annotated[Caller, Depends(require("read"))]
Redeliverer = Annotated[Caller, Depends(require("write:webhooks"))]
DeliveryId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _views(session: Session, rows: list[PlatformEvent]) -> list[schemas.Delivery]:
    """The rows with their attempts (one query for the page)."""
    ids = [row.id for row in rows if row.id is not None]
    by_event: defaultdict[int, list[schemas.DeliveryAttempt]] = defaultdict(list)
    query = (
        select(PlatformAttempt)
        .where(col(PlatformAttempt.event_id).in_(ids))
        .order_by(col(PlatformAttempt.id))
    )
    for attempt in session.exec(query):
        by_event[attempt.event_id].append(
            schemas.DeliveryAttempt(
                started_at=attempt.started_at,
                duration_ms=attempt.duration_ms,
                status_code=attempt.status_code,
                error=attempt.error,
                response_body=attempt.response_body,
            )
        )
    return [
        schemas.Delivery(
            id=row.id,
            webhook_id=row.webhook_id,
            type=row.type,
            case_id=row.case_id,
            sequence_key=row.sequence_key,
            sequence=row.sequence,
            status=row.status,
            attempt_count=row.attempts,
            next_attempt_at=row.next_attempt_at if row.status == DeliveryStatus.PENDING else None,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            redelivered_at=row.redelivered_at,
            last_error=row.last_error,
            attempts=by_event[row.id],
        )
        for row in rows
        if row.id is not None
    ]


def _one(session: Session, delivery_id: int) -> schemas.Delivery:
    row = session.get(PlatformEvent, delivery_id)
    if row is None:
        raise NotFoundError(f"no webhook delivery {delivery_id}")
    return _views(session, [row])[0]


@router.get("", response_model=schemas.DeliveryList)
def list_deliveries(
    _caller: Reader,
    status: EventStatus | None = None,
    type: Annotated[
        str | None, Query(max_length=64, pattern=NO_CONTROLS, description="relink.case.opened…")
    ] = None,
    event: Annotated[
        str | None,
        Query(max_length=64, pattern=NO_CONTROLS, description="a webhook id (msg_…)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    starting_after: Annotated[
        int | None, Query(ge=0, le=2**31 - 1, description="the last id of the page before")
    ] = None,
) -> schemas.DeliveryList:
    """Platform webhook deliveries, newest first, each with its attempts."""
    query = select(PlatformEvent).order_by(col(PlatformEvent.id).desc()).limit(limit + 1)
    if status is not None:
        query = query.where(PlatformEvent.status == status)
    if type is not None:
        query = query.where(PlatformEvent.type == type)
    if event is not None:
        query = query.where(PlatformEvent.webhook_id == event)
    if starting_after is not None:
        query = query.where(col(PlatformEvent.id) < starting_after)
    with session_scope() as session:
        rows = list(session.exec(query))
        data = _views(session, rows[:limit])
    return schemas.DeliveryList(
        url="/api/v1/webhook_deliveries", data=data, has_more=len(rows) > limit
    )


@router.get("/{delivery_id}", response_model=schemas.Delivery)
def get_delivery(delivery_id: DeliveryId, _caller: Reader) -> schemas.Delivery:
    """One delivery with every attempt: status code, duration, the answer's first KiB."""
    with session_scope() as session:
        return _one(session, delivery_id)


@router.post(
    "/{delivery_id}/redeliver",
    response_model=schemas.Delivery,
    status_code=202,
    responses=documented({409: "the endpoint is disabled"}),
)
def redeliver(delivery_id: DeliveryId, caller: Redeliverer) -> schemas.Delivery:
    """Send the event again, the same webhook id and body; a delivery already queued, or
    redelivered in the last minute, is left as it is (202 either way)."""
    with session_scope() as session:
        outcome = endpoint.redeliver(session, delivery_id, now=utcnow())
        if outcome is None:
            raise NotFoundError(f"no webhook delivery {delivery_id}")
        if outcome == endpoint.DISABLED:
            raise ConflictError(
                "the platform endpoint is disabled: an operator enables it "
                "(relink webhooks enable, or /ops), then its held deliveries go out",
                "endpoint_disabled",
            )
        session.flush()
        delivery = _one(session, delivery_id)
    log.info("webhook_redelivered", key_prefix=caller.prefix, delivery_id=delivery_id)
    return delivery
