"""Mail security scanners (Outlook Safe Links, Mimecast, Proofpoint) GET or HEAD every link in
an email, often several times and at once, before the customer clicks. Opening the link must
therefore call Stripe for nothing and write nothing: the Financial Connections session is
created when the customer presses the page's button (a POST), and a second press reuses it.

Measured before the fix: 60 concurrent GETs of one link made 120 Stripe calls (an account
retrieve and a session create each) and 60 relink_attempt rows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from sim.testing import SimServer
from tests.relink_page.pages import SESSIONS, attempts, press_button, session_creates, snapshot
from tests.relink_page.world import World

SCANS = 60


def test_sixty_concurrent_gets_of_one_link_call_stripe_for_nothing_and_write_nothing(
    client: TestClient, world: World, sim: SimServer
) -> None:
    url = f"/relink/{world.token()}"
    before = snapshot()
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: client.get(url), range(SCANS)))
    calls, rows = sim.client.requests("/v1/"), attempts(world.case_id)
    print(f"{SCANS} concurrent GETs: {len(calls)} Stripe calls, {len(rows)} relink_attempt rows")
    assert [answer.status_code for answer in answers] == [200] * SCANS
    assert calls == []
    assert rows == []
    assert snapshot() == before
    page = answers[0].text
    assert f'action="/relink/{world.token()}/session"' in page  # the button posts
    assert "_secret_" not in page


def test_head_of_a_link_calls_stripe_for_nothing_and_writes_nothing(
    client: TestClient, world: World, sim: SimServer
) -> None:
    before = snapshot()
    answers = [client.head(f"/relink/{world.token()}") for _ in range(5)]
    assert [answer.status_code for answer in answers] == [200] * 5
    assert answers[0].headers["cache-control"] == "no-store"
    assert sim.client.requests("/v1/") == []
    assert snapshot() == before


def test_the_button_opens_one_session_and_pressing_it_again_reuses_it(
    client: TestClient, world: World, sim: SimServer
) -> None:
    first = press_button(client, world)
    again = press_button(client, world)
    assert again == first
    assert len(session_creates(sim)) == 1
    assert len(attempts(world.case_id)) == 1
    # the reuse read the open session back from Stripe by its stored id (the only way to its
    # client secret, which is never stored)
    reads = [r["path"] for r in sim.client.requests(SESSIONS) if r["method"] == "GET"]
    assert reads == [f"{SESSIONS}/{first[0]}"]


def test_a_session_that_ended_in_stripe_is_not_reused(
    client: TestClient, world: World, sim: SimServer
) -> None:
    first, _ = press_button(client, world)
    sim.client.complete_session(first, "cancelled")  # closed in Stripe.js, never completed here
    second, _ = press_button(client, world)
    assert second != first
    assert len(session_creates(sim)) == 2
    assert [a.session_id for a in attempts(world.case_id)] == [first, second]
