"""The events backfill: `GET /v1/events` for `financial_connections.*` since the newest event
in the inbox (less a look-back, within Stripe's 30 days) records the events the inbox lacks,
which are then processed like any webhook (a missed webhook of any kind). Bounded to
EVENTS_BACKFILL_MAX_PAGES pages per run and Stripe account: with STRIPE_CONNECT, each
connected account relink stores objects of is listed on its own (`Stripe-Account`), from its
own newest event. Helpers here never commit.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import orjson
import stripe
import structlog
from sqlalchemy import func
from sqlmodel import Session, col, select

from shared.connect import PLATFORM
from shared.events.catalog import HANDLED_EVENT_TYPES
from shared.events.inbox import EventHeader, InboxItem, NotAnEvent, record_events
from shared.models import FcAccount, WebhookEvent
from shared.settings import Settings
from shared.stripe_client import list_events_page

log = structlog.get_logger(__name__)

EVENT_PREFIX = "financial_connections."
STRIPE_EVENT_RETENTION = timedelta(days=30)
# Start a little inside Stripe's 30 days, so a slow page never asks for what just expired.
RETENTION_MARGIN = timedelta(hours=1)


def accounts_to_backfill(session: Session, settings: Settings) -> list[str]:
    """The platform (''), and with STRIPE_CONNECT every connected account relink stores
    Financial Connections accounts of."""
    if not settings.stripe_connect:
        return [PLATFORM]
    connected = session.exec(
        select(FcAccount.stripe_account).where(FcAccount.stripe_account != PLATFORM).distinct()
    ).all()
    return [PLATFORM, *sorted(connected)]


def backfill_since(
    session: Session, *, now: datetime, settings: Settings, stripe_account: str = PLATFORM
) -> int:
    """Stripe time to list events from: the newest event of `stripe_account` in the inbox
    less the look-back, never further back than Stripe keeps events."""
    account = col(WebhookEvent.account)
    newest = session.exec(
        select(func.max(WebhookEvent.created))
        .where(col(WebhookEvent.type).startswith(EVENT_PREFIX))
        .where(account == stripe_account if stripe_account else account.is_(None))
    ).one()
    floor = int((now - STRIPE_EVENT_RETENTION + RETENTION_MARGIN).timestamp())
    start = int(newest) if newest is not None else int(now.timestamp())
    return max(floor, start - settings.events_backfill_lookback_seconds)


def fetch_events(
    client: stripe.StripeClient, since: int, *, settings: Settings
) -> list[dict[str, Any]]:
    """`financial_connections.*` events created since `since`, newest first, at most
    EVENTS_BACKFILL_MAX_PAGES pages."""
    found: list[dict[str, Any]] = []
    starting_after = None
    for _ in range(settings.events_backfill_max_pages):
        page, has_more = list_events_page(client, created_gte=since, starting_after=starting_after)
        found.extend(page)
        if not has_more or not page:
            break
        starting_after = page[-1]["id"]
    return found


def record_missing_events(
    session: Session,
    events: list[dict[str, Any]],
    *,
    settings: Settings,
    stripe_account: str = PLATFORM,
) -> list[str]:
    """Record the events the inbox lacks (as the receiver would) and return the ids to queue;
    events listed on a connected account are recorded as its (`account`)."""
    if stripe_account:
        events = [{**e, "account": e.get("account") or stripe_account} for e in events]
    ids = [str(e["id"]) for e in events]
    known = set(session.exec(select(WebhookEvent.id).where(col(WebhookEvent.id).in_(ids))).all())
    items = [
        item
        for e in events
        if e["id"] not in known
        and str(e.get("type", "")).startswith(EVENT_PREFIX)
        and bool(e.get("livemode")) == settings.livemode
        and (item := _inbox_item(e)) is not None
    ]
    if not items:
        return []
    for item in items:
        log.info("event_backfilled", event_id=item.header.id, type=item.header.type)
    queued = record_events(
        session, items, stale_after=timedelta(seconds=settings.redrive_after_seconds)
    )
    return sorted(queued)


def _inbox_item(event: dict[str, Any]) -> InboxItem | None:
    """The event as the receiver would record it; None (logged) for one it would refuse."""
    try:
        header = EventHeader.from_event(event, now=time.time())
    except NotAnEvent as exc:
        log.warning("event_not_backfilled", event_id=str(event.get("id"))[:255], error=str(exc))
        return None
    return InboxItem(
        header, orjson.dumps(event).decode(), handled=header.type in HANDLED_EVENT_TYPES
    )
