"""The relink page over real HTTP (uvicorn, PostgreSQL, Redis) against the simulator."""

from __future__ import annotations

import re

import psycopg
import redis
import requests
from pydantic import SecretStr
from sqlalchemy import create_engine
from sqlmodel import Session

from shared.settings import Settings
from sim.testing import SimServer
from tests.integration.stack import Stack
from tests.relink_page.world import build_world

PREVIEW = "2026-09-30.preview"


def test_the_button_opens_a_relink_session_and_success_is_recorded(
    stack: Stack, sim: SimServer, pg: psycopg.Connection, pg_database: str
) -> None:
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}")
    with Session(engine) as db:
        world = build_world(sim.client, db)
        db.commit()
    engine.dispose()
    token = world.token(Settings(link_signing_keys=[SecretStr(stack.env["LINK_SIGNING_KEYS"])]))

    shown = requests.get(f"{stack.base_url}/relink/{token}", timeout=30)
    assert shown.status_code == 200
    assert sim.client.requests("/v1/") == []  # opening the link calls Stripe for nothing
    page = requests.post(f"{stack.base_url}/relink/{token}/session", timeout=30)

    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert f"script-src 'self' {sim.base_url}" in page.headers["content-security-policy"]
    (created,) = [
        r
        for r in sim.client.requests("/v1/financial_connections/sessions")
        if r["method"] == "POST"
    ]
    assert created["stripe_version"] == PREVIEW
    assert created["params"] == {
        "account_holder": {"type": "customer", "customer": world.customer},
        "permissions": ["balances", "payment_method"],
        "relink_options": {"authorization": world.authorization, "account": world.accounts[0]},
    }
    found = re.search(r'name="session_id" value="([^"]+)"', page.text)
    assert found
    session_id = found.group(1)

    sim.client.complete_session(session_id, "success")
    done = requests.post(
        f"{stack.base_url}/relink/{token}/complete", data={"session_id": session_id}, timeout=30
    )

    assert done.status_code == 200
    assert "Your bank is reconnected" in done.text
    row = pg.execute(
        "SELECT mode, result, session_id FROM relink_attempt WHERE case_id = %s",
        (world.case_id,),
    ).fetchone()
    assert row == ("account", "account", session_id)
    # the case's request limit lives in the api's Redis, shared by every api process
    limits = redis.Redis.from_url(stack.env["CELERY_BROKER_URL"])
    assert limits.exists(f"relink:ratelimit:relink_page_case:{world.case_id}")


def test_ids_postgresql_cannot_store_are_refused_before_the_database(
    stack: Stack, sim: SimServer, pg: psycopg.Connection, pg_database: str
) -> None:
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}")
    with Session(engine) as db:
        world = build_world(sim.client, db)
        db.commit()
    engine.dispose()
    token = world.token(Settings(link_signing_keys=[SecretStr(stack.env["LINK_SIGNING_KEYS"])]))
    for path, field in (
        ("complete", "session_id"),
        ("setup", "session_id"),
        ("setup/complete", "setup_intent"),
    ):
        prefix = "seti" if field == "setup_intent" else "fcsess"
        answer = requests.post(
            f"{stack.base_url}/relink/{token}/{path}",
            data={field: f"{prefix}_abc\x00def", "name": "Ada"},
            timeout=30,
        )
        assert answer.status_code == 400, path
    assert pg.execute("SELECT count(*) FROM relink_attempt").fetchone() == (0,)
