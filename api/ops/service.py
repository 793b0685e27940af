"""The operations dashboard's numbers: SQL over relink's own tables, on SQLite and PostgreSQL.

The funnel follows the cases opened in the window (proactive warnings excepted): emailed (an
email sent), link opened (the page's first GET, or a session), session started (a relink
attempt), then how they ended: relinked (the accounts came back: reactivated, or found
working by the sweep), new account saved (a payment method from a newly linked account), gave
up (closed without a repair: the customer disconnected), unrepairable. Percentiles are
nearest-rank over the repaired cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, not_, or_, select
from sqlmodel import Session, col

from shared.db import utcnow
from shared.models import (
    OPEN_CASE_STATES,
    REPAIRED_RESOLUTIONS,
    CaseState,
    EmailOutbox,
    EventStatus,
    FcAuthorization,
    RelinkAttempt,
    RelinkCase,
    WebhookEvent,
)
from shared.payments import money
from shared.platform_webhooks import endpoint

WINDOWS = (7, 30, 90)
PROBLEM_EVENTS_SHOWN = 50
AGE_BUCKETS = (("< 1 day", 0, 1), ("1-3 days", 1, 3), ("3-7 days", 3, 7), ("7-30 days", 7, 30))
Row = dict[str, Any]


@dataclass(frozen=True)
class Step:
    name: str
    count: int
    of: int | None  # the count this step converts from; None for the first

    @property
    def conversion(self) -> float | None:
        """Percent of the step it converts from (None when that is empty or it is first)."""
        return None if not self.of else 100.0 * self.count / self.of


@dataclass(frozen=True)
class Percentiles:
    count: int
    p50: int | None  # seconds
    p90: int | None


@dataclass(frozen=True)
class Dashboard:
    days: int
    now: datetime
    funnel: list[Step]
    from_deactivation: Percentiles
    from_first_email: Percentiles
    open_by_age: list[tuple[str, int]]
    by_institution: list[Row]
    by_cause: list[Row]
    emails: Row
    smtp_login_refused: Row | None
    inbox_waiting: int
    inbox_lag_seconds: int | None
    problems: list[Row]
    daily: Row
    webhook_endpoint: endpoint.EndpointStatus | None  # None: no PLATFORM_WEBHOOK_URL
    money: money.Revenue


def seconds_between(db: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if db.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


C = RelinkCase
_sent = exists().where(col(EmailOutbox.case_id) == C.id, col(EmailOutbox.status) == "sent")
_started = exists().where(col(RelinkAttempt.case_id) == C.id)
_new_account = col(C.payment_method_id).is_not(None)
_closed_unrepaired = and_(col(C.state) == CaseState.RESOLVED, not_(_new_account))
_relinked = and_(_closed_unrepaired, col(C.resolution).in_(REPAIRED_RESOLUTIONS))
_gave_up = and_(_closed_unrepaired, not_(func.coalesce(C.resolution, "").in_(REPAIRED_RESOLUTIONS)))
_repaired = or_(_relinked, _new_account)
_unrepairable = col(C.state) == CaseState.UNREPAIRABLE
_open = col(C.state).in_(OPEN_CASE_STATES)


def _deactivated(since: datetime) -> ColumnElement[bool]:
    """Cases opened in the window by a deactivation (not a proactive warning)."""
    return and_(
        col(C.opened_at) >= since,
        col(C.state) != CaseState.PROACTIVE,
        func.coalesce(C.resolution, "") != "warning_cleared",
    )


def funnel(db: Session, since: datetime) -> list[Step]:
    counts = db.execute(
        select(
            func.count(),
            _count(_sent),
            _count(or_(col(C.link_first_opened_at).is_not(None), _started)),
            _count(_started),
            _count(_relinked),
            _count(_new_account),
            _count(_gave_up),
            _count(_unrepairable),
        ).where(_deactivated(since))
    ).one()
    total, emailed, opened, started, relinked, new_account, gave_up, unrepairable = map(int, counts)
    return [
        Step("deactivated", total, None),
        Step("emailed", emailed, total),
        Step("link opened", opened, emailed),
        Step("session started", started, opened),
        Step("relinked", relinked, started),
        Step("new account saved", new_account, started),
        Step("gave up", gave_up, total),
        Step("unrepairable", unrepairable, total),
    ]


def percentiles(db: Session, seconds: ColumnElement[Any], where: list[Any]) -> Percentiles:
    """Nearest-rank p50 and p90 of `seconds` over the rows `where` selects."""
    durations = select(seconds.label("d")).where(*where).where(seconds.is_not(None)).subquery()
    ranked = select(
        durations.c.d,
        func.row_number().over(order_by=durations.c.d).label("rn"),
        func.count().over().label("n"),
    ).subquery()

    def at(p: int) -> int | None:
        value = db.execute(
            select(func.min(ranked.c.d)).where(ranked.c.rn * 100 >= ranked.c.n * p)
        ).scalar()
        return None if value is None else round(float(value))

    total = db.execute(select(func.count()).select_from(durations)).scalar_one()
    return Percentiles(int(total), at(50), at(90))


def repair_times(db: Session, since: datetime) -> tuple[Percentiles, Percentiles]:
    repaired = [_deactivated(since), _repaired, col(C.resolved_at).is_not(None)]
    first_sent = (
        select(func.min(EmailOutbox.sent_at))
        .where(col(EmailOutbox.case_id) == C.id, col(EmailOutbox.status) == "sent")
        .scalar_subquery()
    )
    return (
        percentiles(db, seconds_between(db, C.opened_at, C.resolved_at), repaired),
        percentiles(db, seconds_between(db, first_sent, C.resolved_at), repaired),
    )


def open_by_age(db: Session, now: datetime) -> list[tuple[str, int]]:
    def opened(days_ago: int) -> datetime:
        return now - timedelta(days=days_ago)

    columns = [
        _count(and_(col(C.opened_at) <= opened(low), col(C.opened_at) > opened(high)))
        for _, low, high in AGE_BUCKETS
    ]
    columns.append(_count(col(C.opened_at) <= opened(30)))
    counts = db.execute(select(*columns).where(_open)).one()
    labels = [label for label, _, _ in AGE_BUCKETS] + ["≥ 30 days"]
    return list(zip(labels, map(int, counts), strict=True))


def results_by(db: Session, since: datetime, key: Any) -> list[Row]:
    label = func.coalesce(key, "unknown").label("key")
    query = (
        select(
            label,
            func.count(),
            _count(_repaired),
            _count(_gave_up),
            _count(_unrepairable),
            _count(_open),
        )
        .select_from(C)
        .outerjoin(
            FcAuthorization,
            (col(FcAuthorization.id) == C.authorization_id)
            & (col(FcAuthorization.stripe_account) == C.stripe_account),
        )
        .where(_deactivated(since))
        .group_by(label)
        .order_by(func.count().desc(), label)
    )
    names = ("key", "cases", "repaired", "gave_up", "unrepairable", "open")
    return [dict(zip(names, row, strict=True)) for row in db.execute(query)]


def email_counts(db: Session, since: datetime) -> Row:
    status = col(EmailOutbox.status)
    row = db.execute(
        select(
            _count(status == "sent"),
            _count(status == "failed"),
            _count(col(EmailOutbox.attempts) > 1),
            _count(status.in_(("pending", "sending"))),
            _count(status == "no_contact"),
        ).where(col(EmailOutbox.created_at) >= since)
    ).one()
    names = ("sent", "failed", "retried", "waiting", "no_contact")
    return dict(zip(names, map(int, row), strict=True))


def smtp_login_refused(db: Session) -> Row | None:
    """The latest refused SMTP login still holding an email (the worker's `hold_after_refused_
    login`): when, and the server's answer (credentials never in it)."""
    row = db.execute(
        select(col(EmailOutbox.claimed_at), col(EmailOutbox.last_error))
        .where(
            col(EmailOutbox.status) == "pending",
            col(EmailOutbox.last_error).startswith("LoginRefused:"),
        )
        .order_by(col(EmailOutbox.claimed_at).desc())
        .limit(1)
    ).first()
    return None if row is None else {"at": row[0], "error": str(row[1])[:300]}


def inbox_lag(db: Session, now: datetime) -> tuple[int, int | None]:
    """Events waiting to be processed, and how long the oldest has waited (seconds)."""
    waiting, oldest = db.execute(
        select(func.count(), func.min(WebhookEvent.received_at)).where(
            col(WebhookEvent.status) == EventStatus.RECEIVED
        )
    ).one()
    if oldest is None:
        return int(waiting), None
    if oldest.tzinfo is None:  # an aggregate skips the column type's UTC read-back
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return int(waiting), round((now - oldest).total_seconds())


def problem_events(db: Session) -> list[Row]:
    rows = db.execute(
        select(WebhookEvent)
        .where(col(WebhookEvent.status).in_((EventStatus.DEAD, EventStatus.FAILED)))
        .order_by(col(WebhookEvent.received_at).desc())
        .limit(PROBLEM_EVENTS_SHOWN)
    ).scalars()
    return [
        {
            "id": event.id,
            "type": event.type,
            "status": event.status,
            "attempts": event.attempts,
            "error": (event.last_error or "")[:200],
            "received_at": event.received_at,
            "replayable": event.payload is not None,
        }
        for event in rows
    ]


def daily(db: Session, since: datetime) -> Row:
    """Deactivations and repairs per day, for the chart."""
    opened_day = func.date(C.opened_at)
    resolved_day = func.date(C.resolved_at)
    opened = db.execute(
        select(opened_day, func.count()).where(_deactivated(since)).group_by(opened_day)
    ).all()
    repaired = db.execute(
        select(resolved_day, func.count())
        .where(_deactivated(since), _repaired, col(C.resolved_at).is_not(None))
        .group_by(resolved_day)
    ).all()
    days = sorted({str(d) for d, _ in opened} | {str(d) for d, _ in repaired})
    by_opened = {str(d): int(n) for d, n in opened}
    by_repaired = {str(d): int(n) for d, n in repaired}
    return {
        "days": days,
        "deactivated": [by_opened.get(d, 0) for d in days],
        "repaired": [by_repaired.get(d, 0) for d in days],
    }


def dashboard(
    db: Session, days: int, now: datetime | None = None, *, platform_webhooks: bool = False
) -> Dashboard:
    now = now or utcnow()
    since = now - timedelta(days=days)
    from_deactivation, from_first_email = repair_times(db, since)
    waiting, lag = inbox_lag(db, now)
    return Dashboard(
        days=days,
        now=now,
        funnel=funnel(db, since),
        from_deactivation=from_deactivation,
        from_first_email=from_first_email,
        open_by_age=open_by_age(db, now),
        by_institution=results_by(db, since, col(FcAuthorization.institution_name)),
        by_cause=results_by(db, since, col(C.cause)),
        emails=email_counts(db, since),
        smtp_login_refused=smtp_login_refused(db),
        inbox_waiting=waiting,
        inbox_lag_seconds=lag,
        problems=problem_events(db),
        daily=daily(db, since),
        webhook_endpoint=endpoint.status(db) if platform_webhooks else None,
        money=money.revenue(db, days=days, now=now),
    )
