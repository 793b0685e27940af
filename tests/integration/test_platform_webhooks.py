"""Platform webhooks end to end: the simulator's events and the relink page through the real
api and Celery worker (PostgreSQL, Redis), delivered to a real HTTP receiver that verifies
every delivery with the standardwebhooks library."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
import requests
from sqlalchemy import create_engine
from sqlmodel import Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared.settings import get_settings
from sim.testing import SimServer
from tests.integration.stack import Stack, wait_until
from tests.platform_webhooks.receiver import OLD_SECRET, SECRET, WRONG_SECRET, Receiver
from tests.relink_page.pages import complete, data_attr, press_button, time_at_the_bank
from tests.relink_page.world import build_world


@pytest.fixture
def stack_env(receiver: Receiver) -> dict[str, str]:
    return {
        "PLATFORM_WEBHOOK_URL": receiver.url,
        "PLATFORM_WEBHOOK_SECRETS": f"{SECRET},{OLD_SECRET}",
        "PLATFORM_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
        "PLATFORM_WEBHOOK_SWEEP_EVERY_SECONDS": "1",
        "PLATFORM_WEBHOOK_TIMEOUT_SECONDS": "3",
        "QUIET_PERIOD_SECONDS": "1",
        "EMAIL_SWEEP_EVERY_SECONDS": "1",
    }


def platform_rows(pg: psycopg.Connection) -> list[tuple[Any, ...]]:
    return pg.execute(
        "SELECT webhook_id, type, sequence_key, sequence, status, attempts FROM platform_event"
    ).fetchall()


def test_endpoint_down_for_three_retries_then_failing_twice_gets_every_event_in_sequence(
    stack: Stack, sim: SimServer, receiver: Receiver, pg: psycopg.Connection
) -> None:
    receiver.stop()  # the platform is down
    receiver.script = lambda n, _headers: "500" if n < 2 else "ok"  # then answers 500 twice
    stack.start_worker()
    customer = sim.client.create_customer("ada@example.com")["id"]
    auth = sim.client.create_authorization(
        {"type": "customer", "customer": customer},
        institution="First Platypus Bank",
        accounts=[{"last4": last4, "subcategory": "checking"} for last4 in ("1111", "2222")],
    )
    sim.client.deactivate_authorization(str(auth["id"]))

    every_event = ["relink.account.status_changed"] * 2 + ["relink.case.opened"]

    def down_three_times() -> bool:  # every event the outage will see, each refused 3+ times
        rows = platform_rows(pg)
        # recorded attempts, not claims: a claim counted before its POST may reach the receiver
        refused = pg.execute(
            "SELECT count(*) FROM platform_event_attempt WHERE status_code IS NULL"
            " GROUP BY event_id HAVING count(*) >= 3"
        ).fetchall()
        return sorted(row[1] for row in rows) == every_event and len(refused) == len(rows)

    wait_until(down_three_times, 90, "three failed attempts of every event")
    assert receiver.deliveries == []
    receiver.start()  # back, on the same port
    wait_until(
        lambda: {row[4] for row in platform_rows(pg)} == {"delivered"}, 120, "every delivery"
    )

    rows = platform_rows(pg)
    accepted = receiver.received()
    assert sorted(d.webhook_id for d in accepted) == sorted(row[0] for row in rows)
    for delivery in receiver.received(None):  # every request, each verified
        assert delivery.verified(SECRET) == delivery.verified(OLD_SECRET)
        with pytest.raises(WebhookVerificationError):
            Webhook(WRONG_SECRET).verify(delivery.body, delivery.headers)
    for row in rows:  # 3+ refused connections, two 500s, then 204: the same id throughout
        answers = [d.answer for d in receiver.received(None) if d.webhook_id == row[0]]
        assert answers == ["500", "500", "ok"], (row, answers)
        assert row[5] >= 6
    payloads = receiver.payloads()
    by_key: dict[str, list[int]] = {}
    for row in rows:
        by_key.setdefault(row[2], []).append(row[3])
    for key, sequences in by_key.items():
        assert sorted(sequences) == list(range(1, len(sequences) + 1)), key
    types = sorted(p["type"] for p in payloads)
    assert types.count("relink.account.status_changed") == 2
    assert types.count("relink.case.opened") == 1
    [opened] = [p for p in payloads if p["type"] == "relink.case.opened"]
    assert opened["data"]["link"].startswith(f"{stack.base_url}/relink/")
    print("one delivery as received:", json.dumps(accepted[0].headers, indent=1))
    print(accepted[0].body.decode())


class Http:
    """The relink page over real HTTP, shaped like the TestClient the page helpers take."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def post(self, path: str, data: dict[str, str] | None = None) -> requests.Response:
        return requests.post(f"{self.base_url}{path}", data=data, timeout=30)


def test_a_relink_on_the_no_account_path_ends_in_payment_method_created(
    stack: Stack,
    sim: SimServer,
    receiver: Receiver,
    pg: psycopg.Connection,
    pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINK_SIGNING_KEYS", stack.env["LINK_SIGNING_KEYS"])
    get_settings.cache_clear()
    stack.start_worker()
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}")
    with Session(engine) as db:
        world = build_world(sim.client, db)
        db.commit()
    engine.dispose()
    client: Any = Http(stack.base_url)

    first, _ = press_button(client, world)
    sim.client.complete_session(first, "no_account")
    assert complete(client, world, first).status_code == 200
    second, _ = press_button(client, world)
    time_at_the_bank()
    sim.client.complete_session(
        second, "new_account", new_accounts=[{"subcategory": "savings", "last4": "1111"}]
    )
    with sim.state.lock:
        [linked] = sim.state.sessions[second].accounts
    wait_until(  # the worker records it from its account.created before the page reads it
        lambda: pg.execute("SELECT 1 FROM fc_account WHERE id = %s", (linked,)).fetchone(),
        30,
        "the worker to record the new account",
    )
    assert "Name of the account holder" in complete(client, world, second).text
    confirm = client.post(f"/relink/{world.token()}/setup", {"session_id": second, "name": "Ada"})
    setup_intent = data_attr(confirm.text, 'name="setup_intent" value')
    secret = data_attr(confirm.text, "data-setup-secret")
    confirmed = requests.post(
        f"{sim.base_url}/_sim/stripejs/confirm_setup", json={"client_secret": secret}, timeout=5
    ).json()
    saved = client.post(f"/relink/{world.token()}/setup/complete", {"setup_intent": setup_intent})
    assert "Your new bank account is saved" in saved.text

    def created() -> list[dict[str, Any]]:
        return [p for p in receiver.payloads() if p["type"] == "relink.payment_method.created"]

    wait_until(lambda: len(created()) == 1, 60, "relink.payment_method.created")
    [event] = created()
    linked = pg.execute(
        "SELECT linked_account_id FROM relink_attempt WHERE session_id = %s", (second,)
    ).fetchone()
    assert linked is not None
    assert event["data"]["payment_method"] == confirmed["setupIntent"]["payment_method"]
    assert event["data"]["fc_account"] == linked[0]
    assert event["data"]["replaces"] == {"account": world.accounts[0], "case": world.case_id}
    assert event["data"]["account_holder"] == {"type": "customer", "id": world.customer}
