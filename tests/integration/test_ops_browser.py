"""The operations dashboard in headless Chromium against the real api (uvicorn, PostgreSQL,
Redis) over a seeded scenario whose numbers are known: login, every number, the chart, the
replay button.
Set RELINK_SCREENSHOTS=docs/screenshots to refresh docs/screenshots/12-ops-dashboard.png.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from playwright.sync_api import Browser, Page
from sqlalchemy import create_engine
from sqlmodel import Session

from shared.db import utcnow
from tests.browser import chromium
from tests.integration.conftest import OPS_TOKEN
from tests.integration.stack import ROOT, Stack
from tests.ops.scenario import (
    DEAD_EVENT,
    EMAILS_7,
    FUNNEL_7,
    OPEN_BY_AGE,
    REPAIR_7,
    WAITING_EVENT,
    seed,
)

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def page() -> Iterator[Page]:
    browser: Browser
    with chromium() as browser:
        context = browser.new_context(viewport=DESKTOP, device_scale_factor=1)
        opened = context.new_page()
        opened.set_default_timeout(15_000)
        yield opened
        context.close()


@pytest.fixture
def seeded(pg: psycopg.Connection, pg_database: str) -> None:
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}")
    with Session(engine) as db:
        seed(db, utcnow())
        db.commit()
    engine.dispose()


def cells(page: Page, selector: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in row.locator("th, td").all_inner_texts()]
        for row in page.locator(selector).all()
    ]


def queued_event_ids(stack: Stack) -> list[str]:
    """The process_event messages waiting in the broker (no worker runs in this test)."""
    broker = redis.Redis.from_url(stack.env["CELERY_BROKER_URL"])
    ids = []
    for raw in broker.lrange("relink", 0, -1):
        body = json.loads(base64.b64decode(json.loads(raw)["body"]))
        ids.append(body[0][0])
    return ids


@pytest.mark.browser
def test_the_dashboard_shows_the_seeded_numbers_and_replays_a_dead_event_once(
    stack: Stack, seeded: None, pg: psycopg.Connection, page: Page, tmp_path: Path
) -> None:
    base = stack.base_url
    assert requests.get(f"{base}/ops", allow_redirects=False, timeout=10).status_code == 303
    wrong = {"Authorization": "Bearer not-the-token"}
    assert requests.get(f"{base}/ops", headers=wrong, timeout=10).status_code == 401

    page.goto(f"{base}/ops")
    assert page.url == f"{base}/ops/login"
    page.fill("#token", OPS_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#funnel").wait_for()
    assert page.url == f"{base}/ops"  # the token travelled in a POST body, never a URL
    [cookie] = page.context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == (
        "relink_ops", True, "Strict",
    )  # fmt: skip

    assert [tuple(row) for row in cells(page, "#funnel tbody tr")] == FUNNEL_7
    times = {row[0]: tuple(row[1:]) for row in cells(page, "#repair-time tbody tr")}
    assert times == REPAIR_7
    ages = {row[0]: int(row[1]) for row in cells(page, "#open-cases tr")}
    assert ages == OPEN_BY_AGE
    emails = {row[0].replace(" ", "_"): int(row[1]) for row in cells(page, "#emails tr")}
    assert emails == EMAILS_7
    assert page.inner_text("#inbox-waiting") == "1"
    assert page.inner_text("#inbox-lag") == "5 min"
    banks = {row[0]: row[1:] for row in cells(page, "#by-institution tbody tr")}
    assert banks == {
        "StripeBank": ["8", "7", "1", "0", "1"],
        "Gringotts": ["4", "0", "0", "1", "3"],
    }
    page.locator("#chart[data-drawn=true] canvas").wait_for()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page.screenshot(path=str(shots / "12-ops-dashboard.png"), full_page=True)

    row = page.locator(f'tr[data-event="{DEAD_EVENT}"]')
    csrf = row.locator('input[name="csrf"]').get_attribute("value")
    row.get_by_role("button", name="Replay").click()
    page.locator("#replayed").wait_for()
    assert page.inner_text("#replayed") == f"Replay {DEAD_EVENT}: queued"
    assert page.locator(f'tr[data-event="{DEAD_EVENT}"]').count() == 0
    assert page.inner_text("#inbox-waiting") == "2"
    again = page.request.post(
        f"{base}/ops/events/{DEAD_EVENT}/replay", form={"csrf": csrf or "", "days": "7"}
    )
    assert "refused" in again.text()  # a second press (or a stale page) queues nothing
    assert queued_event_ids(stack) == [DEAD_EVENT]
    status = pg.execute("SELECT status FROM webhook_event WHERE id = %s", (DEAD_EVENT,))
    assert status.fetchone() == ("received",)
    assert WAITING_EVENT not in queued_event_ids(stack)

    page.goto(f"{base}/ops?days=90")
    assert cells(page, "#funnel tbody tr")[0] == ["deactivated", "13", "-"]
    target = os.environ.get("RELINK_SCREENSHOTS")
    if target:
        for png in shots.glob("*.png"):
            shutil.copy(png, ROOT / target / png.name)
