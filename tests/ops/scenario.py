"""A seeded month of relink whose dashboard numbers are known, for the dashboard's tests.

Over the last 7 days, 12 cases opened by deactivations (a proactive one and one 40 days old
besides): 6 relinked 1..6 h after their deactivation (their first email 10 min after it), one
new account saved, one gave up after a session, one opened the link only, one was emailed
only, one unrepairable, one not yet emailed.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlmodel import Session

from shared.models import (
    CaseState,
    EmailOutbox,
    FcAuthorization,
    RelinkAttempt,
    RelinkCase,
    WebhookEvent,
)

H = timedelta(hours=1)
D = timedelta(days=1)

FUNNEL_7 = [
    ("deactivated", "12", "-"),
    ("emailed", "11", "91.7%"),
    ("link opened", "9", "81.8%"),
    ("session started", "8", "88.9%"),
    ("relinked", "6", "75.0%"),
    ("new account saved", "1", "12.5%"),
    ("gave up", "1", "8.3%"),
    ("unrepairable", "1", "8.3%"),
]
# nearest rank over 1..6 h: p50 the 3rd, p90 the 6th; from the first email 10 min less
REPAIR_7 = {"deactivation": ("6", "3.0 h", "6.0 h"), "first email": ("6", "2.8 h", "5.8 h")}
OPEN_BY_AGE = {"< 1 day": 2, "1-3 days": 2, "3-7 days": 1, "7-30 days": 0, "≥ 30 days": 1}
EMAILS_7 = {"sent": 12, "failed": 1, "retried": 2, "waiting": 1, "no_contact": 0}
DEAD_EVENT, FAILED_EVENT, WAITING_EVENT = "evt_ops_dead", "evt_ops_failed", "evt_ops_waiting"


class Seeder:
    def __init__(self, db: Session, now: datetime) -> None:
        self.db, self.now, self.n = db, now, 0

    def case(
        self,
        opened: datetime,
        *,
        bank: str = "StripeBank",
        cause: str = "access_expired",
        state: str = CaseState.OPEN,
        emailed: bool = True,
        link_opened: bool = False,
        session: bool = False,
        resolved_after: timedelta | None = None,
        resolution: str | None = None,
        payment_method: bool = False,
    ) -> RelinkCase:
        self.n += 1
        auth = f"fcauth_ops{self.n}"
        self.db.add(FcAuthorization(id=auth, institution_name=bank))
        row = RelinkCase(
            authorization_id=auth, state=state, cause=cause, opened_at=opened,
            last_heard_at=opened,
            link_first_opened_at=opened + 20 * timedelta(minutes=1) if link_opened else None,
            payment_method_id=f"pm_ops{self.n}" if payment_method else None,
        )  # fmt: skip
        if resolved_after is not None:
            row.state, row.resolution = CaseState.RESOLVED, resolution or "reactivated"
            row.resolved_at = opened + resolved_after
        self.db.add(row)
        self.db.flush()
        assert row.id is not None
        if emailed:
            self.email(row.id, "relink", "sent", opened + 10 * timedelta(minutes=1))
        if session:
            self.db.add(
                RelinkAttempt(
                    case_id=row.id, session_id=f"fcsess_ops{self.n}", mode="account",
                    created_at=opened + 30 * timedelta(minutes=1),
                )
            )  # fmt: skip
        return row

    def email(self, case_id: int, kind: str, status: str, at: datetime, attempts: int = 1) -> None:
        self.db.add(
            EmailOutbox(
                case_id=case_id, kind=kind, status=status, send_after=at, created_at=at,
                sent_at=at if status == "sent" else None, attempts=attempts,
                message_id=f"ops-{case_id}-{kind}-{status}",
            )
        )  # fmt: skip

    def event(self, event_id: str, status: str, received: datetime) -> None:
        payload = {"id": event_id, "type": "financial_connections.account.deactivated"}
        self.db.add(
            WebhookEvent(
                id=event_id, type=payload["type"], livemode=False, created=0, status=status,
                payload=json.dumps(payload), received_at=received, attempts=8,
                last_error="StripeTimeout: the simulator was slow",
            )
        )  # fmt: skip


def seed(db: Session, now: datetime) -> None:
    s = Seeder(db, now)
    start = now - 2 * D
    for i in range(6):
        kwargs = {"link_opened": True, "session": True, "resolved_after": (i + 1) * H}
        relinked = s.case(start + i * H, **kwargs)  # type: ignore[arg-type]
        if i == 0:  # its reminder needed a second attempt
            assert relinked.id is not None
            s.email(relinked.id, "reminder", "sent", start + 2 * H, attempts=2)
    s.case(start, link_opened=True, session=True, payment_method=True)  # new account saved
    s.case(start, link_opened=True, session=True, resolved_after=3 * H, resolution="disconnected")
    s.case(now - 12 * H, bank="Gringotts", link_opened=True)  # opened the link only
    emailed_only = s.case(start, bank="Gringotts")
    assert emailed_only.id is not None
    s.email(emailed_only.id, "reminder", "failed", now - D, attempts=8)
    s.case(now - D, bank="Gringotts", cause="account_closed", state=CaseState.UNREPAIRABLE)
    waiting = s.case(now - H, bank="Gringotts", cause="institution_requirement", emailed=False)
    assert waiting.id is not None
    s.email(waiting.id, "relink", "pending", now - H + 10 * timedelta(minutes=1))
    s.case(now - 5 * D, state=CaseState.PROACTIVE, cause="access_expired", emailed=False)
    s.case(now - 40 * D, bank="Gringotts")  # outside 7 and 30 days, inside 90
    s.event(DEAD_EVENT, "dead", now - 3 * H)
    s.event(FAILED_EVENT, "failed", now - 2 * H)
    s.event(WAITING_EVENT, "received", now - 5 * timedelta(minutes=1))
