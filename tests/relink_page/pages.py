"""Helpers for driving the relink page in tests: press its button, complete a session, read
what the page carries and what the database holds."""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, select

from shared.db import get_engine
from shared.models import RelinkAttempt
from sim.testing import SimServer
from tests.relink_page.world import World

SESSIONS = "/v1/financial_connections/sessions"


def attempts(case_id: int) -> list[RelinkAttempt]:
    with Session(get_engine()) as db:
        query = select(RelinkAttempt).where(RelinkAttempt.case_id == case_id)
        return list(db.exec(query.order_by(RelinkAttempt.id)))


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the test database is small)."""
    with get_engine().connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(table.select())), key=repr)
            for table in SQLModel.metadata.sorted_tables
        }


def session_creates(sim: SimServer) -> list[dict[str, Any]]:
    return [r for r in sim.client.requests(SESSIONS) if r["method"] == "POST"]


def data_attr(html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]+)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


def press_button(client: TestClient, world: World) -> tuple[str, str]:
    """What the link page's button does (POST …/session): the session id and client secret
    the answer carries for Stripe.js."""
    response = client.post(f"/relink/{world.token()}/session")
    assert response.status_code == 200, response.text
    return data_attr(response.text, 'name="session_id" value'), data_attr(
        response.text, "data-client-secret"
    )


def time_at_the_bank() -> None:
    """Wait into the next second, as a customer linking an account always does: Stripe then
    stamps a new account `created` after the second its session opened in, which is how the
    page tells it from one the worker recorded meanwhile (a test with a worker running)."""
    time.sleep(1.01 - time.time() % 1)


def complete(client: TestClient, world: World, session_id: str) -> Any:
    return client.post(f"/relink/{world.token()}/complete", data={"session_id": session_id})
