"""Webhook operations end to end (real uvicorn, Celery, PostgreSQL, the simulator and the
receiver): the platform endpoint is down past PLATFORM_WEBHOOK_DISABLE_AFTER_HOURS (0.001 h,
3.6 s), is disabled, nothing is attempted while it is, an operator enables it on /ops, and
every held event arrives, each case's and account's in sequence; the API lists the
deliveries with their attempts."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

import psycopg
import pytest
import requests

from sim.testing import SimServer
from tests.integration.conftest import OPS_TOKEN
from tests.integration.stack import ROOT, Stack, wait_until
from tests.platform_webhooks.receiver import SECRET, Receiver

RELINK = [sys.executable, "-c", "from cli.main import main; main()"]


@pytest.fixture
def stack_env(receiver: Receiver) -> dict[str, str]:
    return {
        "PLATFORM_WEBHOOK_URL": receiver.url,
        "PLATFORM_WEBHOOK_SECRETS": SECRET,
        "PLATFORM_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
        "PLATFORM_WEBHOOK_RETRY_CAP_SECONDS": "1",
        "PLATFORM_WEBHOOK_SWEEP_EVERY_SECONDS": "1",
        "PLATFORM_WEBHOOK_TIMEOUT_SECONDS": "3",
        "PLATFORM_WEBHOOK_DISABLE_AFTER_HOURS": "0.001",
        "QUIET_PERIOD_SECONDS": "1",
        "EMAIL_SWEEP_EVERY_SECONDS": "1",
    }


def relink(stack: Stack, *args: str) -> str:
    done = subprocess.run(
        [*RELINK, *args], cwd=ROOT, env=stack.env, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.decode()


def statuses(pg: psycopg.Connection) -> list[str]:
    return [row[0] for row in pg.execute("SELECT status FROM platform_event ORDER BY id")]


def attempt_count(pg: psycopg.Connection) -> int:
    return int(pg.execute("SELECT count(*) FROM platform_event_attempt").fetchone()[0])  # type: ignore[index]


def test_a_down_endpoint_is_disabled_holds_everything_and_sends_it_in_order_once_enabled(
    stack: Stack, sim: SimServer, receiver: Receiver, pg: psycopg.Connection
) -> None:
    receiver.stop()  # the platform is down
    stack.start_worker()
    customer = sim.client.create_customer("ada@example.com")["id"]
    auth = sim.client.create_authorization(
        {"type": "customer", "customer": customer},
        institution="First Platypus Bank",
        accounts=[{"last4": last4, "subcategory": "checking"} for last4 in ("1111", "2222")],
    )
    sim.client.deactivate_authorization(str(auth["id"]))
    wait_until(lambda: len(statuses(pg)) == 3, 60, "two account events and the case's")

    def disabled() -> bool:
        row = pg.execute("SELECT disabled_at FROM platform_endpoint").fetchone()
        return row is not None and row[0] is not None

    wait_until(disabled, 60, "the endpoint disabled")
    for _ in range(3):  # written while disabled: held, never attempted
        relink(stack, "webhooks", "test")
    wait_until(lambda: set(statuses(pg)) == {"held"}, 30, "every delivery held")
    status = json.loads(relink(stack, "webhooks", "status", "--json"))
    assert (status["state"], status["held"]) == ("disabled", 6)

    receiver.start()  # back, but still disabled: nothing goes out
    attempts_while_disabled = attempt_count(pg)
    time.sleep(4)  # four sweeps
    assert receiver.deliveries == []
    assert attempt_count(pg) == attempts_while_disabled
    assert set(statuses(pg)) == {"held"}

    enabled = requests.post(
        f"{stack.base_url}/ops/webhooks/enable",
        headers={"Authorization": f"Bearer {OPS_TOKEN}"},
        allow_redirects=False,
        timeout=10,
    )
    assert enabled.status_code == 303
    assert "enabled=enabled" in enabled.headers["location"]
    wait_until(lambda: set(statuses(pg)) == {"delivered"}, 60, "every held delivery sent")

    arrived: defaultdict[str, list[int]] = defaultdict(list)
    keys = dict(pg.execute("SELECT webhook_id, sequence_key FROM platform_event").fetchall())
    for delivery in receiver.received(None):
        assert delivery.answer == "ok"
        arrived[keys[delivery.webhook_id]].append(delivery.verified()["data"]["sequence"])
    assert sorted(arrived) == sorted(set(keys.values()))
    assert arrived["test"] == [1, 2, 3]
    for sequences in arrived.values():  # each key's events in sequence, once each
        assert sequences == list(range(1, len(sequences) + 1))
    assert json.loads(relink(stack, "webhooks", "status", "--json"))["state"] == "enabled"
    assert "platform_endpoint_disabled" in (stack.log_dir / "worker0.log").read_text()
    assert "platform_endpoint_enabled" in (stack.log_dir / "api.log").read_text()

    key = relink(stack, "keys", "create", "it", "--scope", "read", "--json")
    listed = requests.get(
        f"{stack.base_url}/api/v1/webhook_deliveries",
        params={"type": "relink.test", "limit": 100},
        headers={"Authorization": f"Bearer {json.loads(key)['key']}"},
        timeout=10,
    )
    assert listed.status_code == 200
    assert listed.headers["cache-control"] == "no-store"
    data: list[dict[str, Any]] = listed.json()["data"]
    assert [d["status"] for d in data] == ["delivered"] * 3
    for delivery in data:  # never attempted while disabled: the one that succeeded
        assert [a["status_code"] for a in delivery["attempts"]] == [204]
