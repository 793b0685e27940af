"""Scale-out: two api processes and two worker processes (different hostnames) against one
PostgreSQL, one RabbitMQ (quorum queues) and one Redis holding the shared rate limits. A burst
of deactivations, each delivered to both apis, must be processed once each, mail each holder
once, and reach the Stripe simulator no faster than relink's limit: measured at the simulator
from its request log, not from relink's own bookkeeping."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import redis
import requests

from sim import scenarios
from sim.delivery import payload_of
from sim.testing import SimServer, run_sim_server
from tests.conftest import WEBHOOK_SECRET
from tests.factories import signature
from tests.integration.smtp import SmtpSink
from tests.integration.stack import RedisServer, Stack, running, wait_until

DEACTIVATED = "financial_connections.account.deactivated"
SUCCEEDED = re.compile(r"Task relink\.process_events?\[[^\]]+\] succeeded")
AUTHORIZATIONS = 40  # three accounts each: 120 events
STRIPE_LIMIT = 20.0  # relink's STRIPE_RATE_LIMIT, shared by all four processes
BURST = 2  # the bucket's burst at 20/s (0.1 s worth)
STRIPE_OWN_LIMIT = 25.0  # the simulator answers 429 above Stripe's test-mode limit


def holders(sim: SimServer) -> list[tuple[str, str]]:
    """One customer (own email) per authorization, three checking accounts each."""
    made = []
    with sim.state.lock:
        for i in range(AUTHORIZATIONS):
            email = f"holder{i:03d}@example.com"
            customer = scenarios.create_customer(sim.state, email)
            auth, _ = scenarios.create_authorization(
                sim.state,
                {"type": "customer", "customer": customer.id},
                "First Platypus Bank",
                [{"last4": f"{k}{i:03d}", "subcategory": "checking"} for k in (1, 2, 3)],
            )
            made.append((auth.id, email))
    return made


def deliver(api: Stack, body: bytes) -> tuple[int, str, str]:
    """(status, outcome, which api) of one delivery."""
    response = requests.post(
        f"{api.base_url}/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": signature(body, WEBHOOK_SECRET)},
        timeout=60,
    )
    return response.status_code, response.json().get("outcome", ""), api.base_url


def busiest_second(stamps: list[float]) -> int:
    """The most requests in any one-second window (sliding, from each request)."""
    stamps = sorted(stamps)
    end, best = 0, 0
    for start in range(len(stamps)):
        while end < len(stamps) and stamps[end] < stamps[start] + 1.0:
            end += 1
        best = max(best, end - start)
    return best


def test_two_apis_and_two_workers_on_rabbitmq_share_one_stripe_limit_and_lose_nothing(
    pg: psycopg.Connection,
    pg_database: str,
    rabbitmq_url: str,
    redis_server: RedisServer,
    smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    if redis_server.process is None:
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushall()
    with run_sim_server(
        webhook_secret=WEBHOOK_SECRET, rate_limit_per_second=STRIPE_OWN_LIMIT
    ) as sim:
        made = holders(sim)
        env = {
            "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}",
            "CELERY_BROKER_URL": rabbitmq_url,
            "RATE_LIMIT_REDIS_URL": redis_server.url,
            "STRIPE_RATE_LIMIT": str(STRIPE_LIMIT),
            "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET,
            "STRIPE_API_KEY": sim.api_key,
            "STRIPE_API_BASE": sim.base_url,
            "LINK_SIGNING_KEYS": "integration-link-key",
            "EMAIL_URL": smtp.url,
            "EMAIL_FROM": "relink <relink@example.com>",
            "QUIET_PERIOD_SECONDS": "2",  # emails wait in RabbitMQ's delayed delivery…
            "EMAIL_SWEEP_EVERY_SECONDS": "3600",  # …not for the sweep
            "SMTP_RATE_LIMIT": "100",
        }
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        one, two = Stack(env, tmp_path / "a"), Stack(env, tmp_path / "b")
        with running(one), running(two):
            for stack in (one, two):
                stack.env["PUBLIC_BASE_URL"] = stack.base_url
                stack.start_api()
            one.start_worker()  # hostnames w0-<port of one>@… and w0-<port of two>@…
            two.start_worker(beat=False)
            with sim.state.lock:  # the bank changes its login: every authorization breaks
                for auth_id, _ in made:
                    scenarios.deactivate_authorization(
                        sim.state, auth_id, "access_expired", "relink_required"
                    )
                bodies = [
                    payload_of(evt).encode()
                    for evt in sim.state.events.values()
                    if evt.type == DEACTIVATED
                ]
                sim.state.requests.clear()
            assert len(bodies) == AUTHORIZATIONS * 3

            # every event to both apis at once, as Stripe retries may land on another host
            jobs = [(api, body) for body in bodies for api in (one, two)]
            with ThreadPoolExecutor(max_workers=16) as pool:
                answers = list(pool.map(lambda job: deliver(*job), jobs))
            assert {status for status, _, _ in answers} == {200}, answers
            queued_by = {api for _, outcome, api in answers if outcome == "queued"}
            assert queued_by == {one.base_url, two.base_url}  # both apis wrote and published

            def drained() -> bool:
                processed = pg.execute(
                    "SELECT count(*) FROM webhook_event WHERE status = 'processed' AND type = %s",
                    (DEACTIVATED,),
                ).fetchone()
                return processed == (len(bodies),) and len(smtp.received()) >= AUTHORIZATIONS

            try:
                wait_until(drained, 180, "every event processed and every holder mailed")
            except AssertionError:
                print(one.logs(), two.logs())
                raise
            time.sleep(3)  # a duplicate email or a late processing would show up by now
            with sim.state.lock:
                stamps = [r.at for r in sim.state.requests if r.path.startswith("/v1/")]
                throttled = sum(1 for r in sim.state.requests if r.status == 429)
            emails = [str(message["To"]) for message in smtp.received()]
            events = pg.execute(
                "SELECT count(*), sum(attempts) FROM webhook_event WHERE type = %s",
                (DEACTIVATED,),
            ).fetchone()
            worker_logs = [
                (stack.log_dir / "worker0.log").read_text(errors="replace") for stack in (one, two)
            ]

    assert events == (len(bodies), len(bodies))  # each stored once, processed once
    assert sorted(emails) == sorted(email for _, email in made)  # one email per holder
    assert throttled == 0
    assert len(stamps) >= 2 * STRIPE_LIMIT  # enough calls that a second-long window is full
    print(f"{len(stamps)} Stripe calls, busiest second {busiest_second(stamps)}")
    assert busiest_second(stamps) <= STRIPE_LIMIT + BURST
    for log in worker_logs:  # both workers took their share of the burst
        assert SUCCEEDED.search(log), log[-2000:]
