"""Receiver benchmark: relink's POST /webhooks/stripe (PostgreSQL + Redis) against a bare
endpoint on the same server stack, in one run.

    .venv/bin/python benchmarks/receiver.py [--events 4000] [--concurrency 32] [--rates 250,500]

Each server is one uvicorn process; the load generator runs in its own process. Prints
requests/s, p50/p99/max latency, the ratio relink/bare, and checks that the inbox holds
exactly the events that were answered 200.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import psycopg
import redis
import requests
import stripe

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import loadgen  # noqa: E402
from tests.integration.stack import uvicorn_command  # noqa: E402

SECRET = "whsec_benchmark_secret"
HOST = "127.0.0.1"


def fc_event(n: int, run_id: str) -> bytes:
    """A ~0.8 KB signed-to-be FC deactivation event with a unique id."""
    account = {
        "id": f"fca_{run_id}{n:08d}",
        "object": "financial_connections.account",
        "account_holder": {"type": "customer", "customer": f"cus_{n % 997:08d}"},
        "account_numbers": [],
        "authorization": f"fcauth_{run_id}{n // 3:08d}",
        "balance": None,
        "balance_refresh": None,
        "category": "cash",
        "created": 1767225600,
        "display_name": "Everyday Checking",
        "institution_name": "StripeBank",
        "last4": f"{n % 10000:04d}",
        "livemode": False,
        "ownership": None,
        "ownership_refresh": None,
        "permissions": ["payment_method", "balances"],
        "status": "inactive",
        "status_details": {"inactive": {"action": "relink_required", "cause": "access_expired"}},
        "subcategory": "checking",
        "subscriptions": [],
        "supported_payment_method_types": ["us_bank_account"],
        "transaction_refresh": None,
    }
    return orjson.dumps(
        {
            "id": f"evt_{run_id}{n:010d}",
            "object": "event",
            "api_version": "2026-09-30.preview",
            "created": int(time.time()),
            "type": "financial_connections.account.deactivated",
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": account},
        }
    )


def signed_requests(port: int, count: int, run_id: str) -> list[bytes]:
    out = []
    for n in range(count):
        body = fc_event(n, run_id)
        header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
        out.append(
            loadgen.build_request(
                HOST, port, "/webhooks/stripe", body, {"Stripe-Signature": header}
            )
        )
    return out


def _load(port: int, requests_: list[bytes], concurrency: int, rate: float | None, out) -> None:  # type: ignore[no-untyped-def]
    result = asyncio.run(loadgen.run(HOST, port, requests_, concurrency, rate))
    out.put((result.summary(), result.ok))


def load(
    port: int, requests_: list[bytes], concurrency: int, rate: float | None
) -> tuple[dict, int]:  # type: ignore[type-arg]
    """Run the load generator in its own process."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    process = ctx.Process(target=_load, args=(port, requests_, concurrency, rate, out))
    process.start()
    summary = out.get()
    process.join()
    return summary


def serve(app: str, port: int, env: dict[str, str], factory: bool) -> subprocess.Popen[bytes]:
    extra = ["--no-access-log", "--factory"] if factory else ["--no-access-log"]
    args = uvicorn_command(port, *extra, app=app)
    process = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.post(f"http://{HOST}:{port}/webhooks/stripe", data=b"{}", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"{app} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=4000, help="requests per scenario")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rates", default="250,500", help="open-loop rates, requests/s")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    database = "relink_bench"
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {database}")
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    from shared import migrate

    migrate.upgrade(db_url)
    redis.Redis.from_url(args.redis).flushdb()
    env = {
        "DATABASE_URL": db_url,
        "CELERY_BROKER_URL": args.redis,
        "STRIPE_WEBHOOK_SECRETS": SECRET,
        "STRIPE_API_KEY": "sk_test_benchmark",
        "LINK_SIGNING_KEYS": "receiver-link-key",
    }
    relink_port, bare_port = 18401, 18402
    servers = [
        serve("api.app:create_app", relink_port, env, factory=True),
        serve("benchmarks.bare_app:app", bare_port, env, factory=False),
    ]
    scenarios: list[tuple[str, int, float | None]] = [("closed", args.concurrency, None)]
    scenarios += [("open", args.concurrency, float(rate)) for rate in args.rates.split(",") if rate]
    rows = []
    accepted = 0
    try:
        for name, port in (("bare", bare_port), ("relink", relink_port)):
            load(port, signed_requests(port, 300, uuid.uuid4().hex[:8]), 8, None)  # warm-up
            if name == "relink":
                accepted += 300
        for kind, concurrency, rate in scenarios:
            for name, port in (("bare", bare_port), ("relink", relink_port)):
                batch = signed_requests(port, args.events, uuid.uuid4().hex[:8])
                summary, ok = load(port, batch, concurrency, rate)
                if name == "relink":
                    accepted += ok
                rows.append((kind, rate, concurrency, name, summary))
    finally:
        for server in servers:
            server.terminate()
            server.wait()

    print(
        f"\nreceiver benchmark: {args.events} signed ~0.8 KB events per run, one uvicorn "
        f"process each, {os.cpu_count()} cores\n"
    )
    print(
        f"{'load':>14} {'server':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f" {'non-200':>8}"
    )
    baseline: dict[tuple[str, float | None], float] = {}
    for kind, rate, concurrency, name, summary in rows:
        load_name = f"{kind} c={concurrency}" if rate is None else f"{rate:.0f}/s c={concurrency}"
        if name == "bare":
            baseline[(kind, rate)] = summary["rps"]
        print(
            f"{load_name:>14} {name:>7} {summary['rps']:>9.0f} {summary['p50_ms']:>8.2f} "
            f"{summary['p99_ms']:>8.2f} {summary['max_ms']:>8.2f} "
            f"{summary['requests'] - summary['ok'] + summary['errors']:>8}"
        )
    for kind, rate, _c, name, summary in rows:
        if name == "relink" and rate is None:
            print(
                f"\nratio relink/bare (closed loop): {summary['rps'] / baseline[(kind, rate)]:.3f}"
            )
    with psycopg.connect(args.pg.rsplit("/", 1)[0] + f"/{database}") as conn:
        stored = conn.execute("SELECT count(*) FROM webhook_event").fetchone()[0]
    verdict = "OK" if stored == accepted else "MISMATCH"
    print(f"inbox rows: {stored}, answered 200: {accepted} -> {verdict}")
    if stored != accepted:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
