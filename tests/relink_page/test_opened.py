"""The funnel's "link opened" step comes from the start page's script (POST /opened), once;
a GET, as a mail scanner sends, records nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shared.db import session_scope
from shared.models import RelinkCase
from sim.testing import SimServer
from tests.relink_page.world import World


def opened_at(case_id: int) -> object:
    with session_scope() as db:
        case = db.get(RelinkCase, case_id)
        assert case is not None
        return case.link_first_opened_at


def test_the_start_page_reports_its_opening_and_the_get_records_nothing(
    client: TestClient, world: World, sim: SimServer
) -> None:
    token = world.token()
    page = client.get(f"/relink/{token}")
    assert page.status_code == 200
    assert '<script src="/static/opened.js"></script>' in page.text
    assert opened_at(world.case_id) is None  # the GET wrote nothing

    assert client.post(f"/relink/{token}/opened").status_code == 200
    first = opened_at(world.case_id)
    assert first is not None
    assert client.post(f"/relink/{token}/opened").status_code == 200
    assert opened_at(world.case_id) == first  # the first opening only
    assert sim.client.requests("/v1/") == []


def test_a_tampered_token_records_no_opening(client: TestClient, world: World) -> None:
    assert client.post(f"/relink/{world.token()[:-3]}xyz/opened").status_code == 400
    assert opened_at(world.case_id) is None
