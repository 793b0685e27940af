"""POST /relink/{token}/fresh emails a new link to the address on file, and an expired token is
enough to ask. Bounded: a token expired more than 30 days ago (FRESH_LINK_MAX_EXPIRED_DAYS)
gets nothing, so an old email found in a breach does not mint links forever; one email per
FRESH_LINK_INTERVAL_SECONDS (shared/emails/enqueue.request_fresh_link, the one path); at most
FRESH_LINK_DAILY_CAP per case in any 24 hours."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from shared.db import session_scope, utcnow
from shared.emails import enqueue
from shared.models import EmailKind, EmailOutbox
from shared.settings import get_settings
from tests.relink_page.world import World

DAY = 24 * 3600.0


def fresh_rows(case_id: int) -> int:
    with session_scope() as db:
        rows = db.exec(
            select(EmailOutbox).where(
                EmailOutbox.case_id == case_id, EmailOutbox.kind == EmailKind.FRESH_LINK
            )
        ).all()
        return len(rows)


def test_a_link_expired_more_than_thirty_days_ago_mints_no_fresh_link(
    client: TestClient, world: World, clock: list[float], published: list[object]
) -> None:
    token = world.token()
    clock[0] += get_settings().link_max_age + 31 * DAY
    page = client.get(f"/relink/{token}")
    assert page.status_code == 410
    assert "This link has expired" in page.text
    assert "/fresh" not in page.text  # no button that cannot work
    asked = client.post(f"/relink/{token}/fresh")
    assert asked.status_code == 410
    assert fresh_rows(world.case_id) == 0
    assert published == []

    clock[0] -= 2 * DAY  # 29 days past its expiry: still honoured
    assert f'action="/relink/{token}/fresh"' in client.get(f"/relink/{token}").text
    assert "Check your email" in client.post(f"/relink/{token}/fresh").text
    assert fresh_rows(world.case_id) == 1


@pytest.fixture
def email_clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The time the outbox (and the page) see when a fresh link is asked for."""
    now = [utcnow()]
    monkeypatch.setattr(enqueue, "utcnow", lambda: now[0])
    monkeypatch.setattr("api.relink_page.service.utcnow", lambda: now[0], raising=False)
    return now


def test_fresh_links_are_capped_per_case_per_day(
    client: TestClient,
    world: World,
    email_clock: list[datetime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRESH_LINK_INTERVAL_SECONDS", "60")
    get_settings.cache_clear()
    url = f"/relink/{world.token()}/fresh"
    sent = []
    for _ in range(6):
        sent.append("sending a new link" in client.post(url).text)
        assert "sending a new link" not in client.post(url).text  # within the interval
        email_clock[0] += timedelta(seconds=61)
    print(f"6 asks an interval apart: {sum(sent)} fresh links")
    assert sent == [True, True, True, False, False, False]
    assert fresh_rows(world.case_id) == 3
    email_clock[0] += timedelta(days=1)
    assert "sending a new link" in client.post(url).text
    assert fresh_rows(world.case_id) == 4
