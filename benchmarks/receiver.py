"""Receiver benchmark: relink's POST /webhooks/stripe (PostgreSQL + Redis) against an empty
FastAPI endpoint (benchmarks/bare_app.py) and a raw ASGI app (benchmarks/raw_app.py) on the
same server, in one run.

    .venv/bin/python benchmarks/receiver.py [--tool auto|wrk|python] [--duration 15]
        [--concurrency 32] [--events 4000] [--rates half,250] [--profile DIR]

Each server is one uvicorn process. The closed loop (`--concurrency` connections) is driven by
wrk when it is installed (one thread, `--duration` seconds, unique pre-signed events from
benchmarks/wrk_post.lua), else by the Python generator (benchmarks/loadgen.py, `--events`
requests), and the output says which. Open-loop rates always use the Python generator. Prints
requests/s, p50/p99 latency, relink's ratio to the FastAPI and the raw endpoints, PostgreSQL's
commit latency timed on its own connection during the open-loop runs, and checks
that the inbox holds exactly the events answered 200. With `--profile DIR`, py-spy samples the
relink server during its closed-loop run, keeps the collapsed stacks in DIR (for a flame
graph) and the summary says where its time goes (benchmarks/profile.py).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
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

from benchmarks import loadgen, profile  # noqa: E402
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


def write_events(path: Path, port: int, count: int, run_id: str) -> None:
    """`count` unique signed events, one "<Stripe-Signature>\t<body>" line each (wrk_post.lua)."""
    with open(path, "w") as out:
        for n in range(count):
            body = fc_event(n, run_id).decode()
            header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
            out.write(f"{header}\t{body}\n")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(port: int, events: Path, connections: int, duration: int) -> dict[str, float]:
    """One closed-loop wrk run; its summary in loadgen's shape."""
    script = str(ROOT / "benchmarks" / "wrk_post.lua")
    url = f"http://{HOST}:{port}/webhooks/stripe"
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script, url]
    output = subprocess.run(
        command,
        env={**os.environ, "WRK_EVENTS": str(events)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(percent: int) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)$", output, re.M)
        return float(found[1]) * _UNITS[found[2]] if found else float("nan")

    requests_ = int(re.search(r"(\d+) requests in", output)[1])  # type: ignore[index]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = int(non_2xx[1]) if non_2xx else 0
    return {
        "requests": requests_,
        "ok": requests_ - failed,
        "errors": sum(int(n) for n in errors.groups()) if errors else 0,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),  # type: ignore[index]
        "p50_ms": latency(50),
        "p99_ms": latency(99),
        "max_ms": float("nan"),
    }


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


class CommitProbe:
    """Times a one-row INSERT + COMMIT every 20 ms on its own connection while a load runs:
    the disk's commit latency, which bounds the receiver's (it answers after its commit)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.seconds: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.dsn) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS commit_probe (at double precision)")
            conn.commit()
            while not self._stop.wait(0.02):
                started = time.perf_counter()
                conn.execute("INSERT INTO commit_probe VALUES (%s)", (started,))
                conn.commit()
                self.seconds.append(time.perf_counter() - started)

    def __enter__(self) -> CommitProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        if len(self.seconds) < 2:
            return "no commits timed"
        ms = sorted(t * 1000 for t in self.seconds)
        p = statistics.quantiles(ms, n=100)
        return (
            f"{len(ms)} commits: p50 {p[49]:.1f} ms, p90 {p[89]:.1f} ms, p99 {p[98]:.1f} ms, "
            f"max {ms[-1]:.1f} ms"
        )


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
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--duration", type=int, default=15, help="wrk: seconds per run")
    parser.add_argument("--wrk-events", type=int, default=60000, help="wrk: unique events per file")
    parser.add_argument("--events", type=int, default=4000, help="Python generator: requests")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--rates", default="half,250", help="open-loop requests/s (half: of relink's closed loop)"
    )
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the relink server; stacks kept in DIR"
    )
    args = parser.parse_args()
    if args.profile and profile.py_spy() is None:
        print("--profile: py-spy is not installed (.venv/bin/pip install py-spy); not profiled")
        args.profile = None
    elif args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    have_wrk = shutil.which("wrk") is not None
    if args.tool == "wrk" and not have_wrk:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    closed_tool = "wrk" if have_wrk and args.tool != "python" else "python"

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
    ports = {"raw": 18403, "bare": 18402, "relink": 18401}
    servers = [
        serve("api.app:create_app", ports["relink"], env, factory=True),
        serve("benchmarks.bare_app:app", ports["bare"], env, factory=False),
        serve("benchmarks.raw_app:app", ports["raw"], env, factory=False),
    ]
    rows: list[tuple[str, str, float | None, str, dict[str, float]]] = []
    dsn = args.pg.rsplit("/", 1)[0] + f"/{database}"
    commit_latency: list[tuple[float, str]] = []
    accepted = 0
    unique_bound = 0  # wrk runs: how many more rows in-flight requests may have added
    try:
        for name, port in ports.items():
            load(port, signed_requests(port, 300, uuid.uuid4().hex[:8]), 8, None)  # warm-up
            if name == "relink":
                accepted += 300
        with tempfile.TemporaryDirectory(prefix="relink-receiver-") as tmp:
            for name, port in ports.items():
                sampler = None
                if args.profile and name == "relink":
                    sampler = profile.start(servers[0].pid, args.profile / "receiver.collapsed")
                if closed_tool == "wrk":
                    events = Path(tmp) / f"{name}.tsv"
                    write_events(events, port, args.wrk_events, uuid.uuid4().hex[:8])
                    summary = wrk(port, events, args.concurrency, args.duration)
                    if name == "relink":
                        if summary["requests"] >= args.wrk_events:
                            raise SystemExit("wrk ran out of unique events: raise --wrk-events")
                        accepted += int(summary["ok"])
                        unique_bound += args.concurrency
                else:
                    batch = signed_requests(port, args.events, uuid.uuid4().hex[:8])
                    summary, ok = load(port, batch, args.concurrency, None)
                    if name == "relink":
                        accepted += ok
                if sampler is not None:
                    profile.finish(sampler)
                rows.append((closed_tool, "closed", None, name, summary))
            if args.profile:
                profile.print_summary(
                    "relink server, closed loop", args.profile / "receiver.collapsed"
                )
        saturation = next(row[4]["rps"] for row in rows if row[3] == "relink")
        rates = [saturation / 2 if r == "half" else float(r) for r in args.rates.split(",") if r]
        for rate in rates:
            for name in ("bare", "relink"):
                batch = signed_requests(ports[name], args.events, uuid.uuid4().hex[:8])
                with CommitProbe(dsn) as probe:
                    summary, ok = load(ports[name], batch, args.concurrency, rate)
                if name == "relink":
                    accepted += ok
                    commit_latency.append((rate, probe.summary()))
                rows.append(("python", "open", rate, name, summary))
    finally:
        for server in servers:
            server.terminate()
            server.wait()
    report(rows, args, closed_tool, have_wrk)
    print("\nPostgreSQL commit latency during the open-loop relink runs (one-row INSERT + COMMIT):")
    for rate, line in commit_latency:
        print(f"  at {rate:.0f}/s: {line}")
    with psycopg.connect(dsn) as conn:
        stored = conn.execute("SELECT count(*) FROM webhook_event").fetchone()[0]  # type: ignore[index]
    verdict = "OK" if accepted <= stored <= accepted + unique_bound else "MISMATCH"
    print(f"inbox rows: {stored}, answered 200: {accepted} -> {verdict}")
    if verdict != "OK":
        raise SystemExit(1)


def report(
    rows: list[tuple[str, str, float | None, str, dict[str, float]]],
    args: argparse.Namespace,
    closed_tool: str,
    have_wrk: bool,
) -> None:
    how = "wrk -t1" if closed_tool == "wrk" else "the Python generator"
    if closed_tool == "python" and not have_wrk:
        how += " (wrk not found)"
    print(
        f"\nreceiver benchmark: one uvicorn process per server, {os.cpu_count()} cores; "
        f"closed loop by {how}, open loop by the Python generator\n"
    )
    columns = ("tool", "load", "server", "req/s", "p50 ms", "p99 ms", "non-200")
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, (7, 12, 7, 9, 8, 8, 8), strict=True)))
    closed: dict[str, float] = {}
    for tool, kind, rate, name, summary in rows:
        load_name = f"c={args.concurrency}" if rate is None else f"{rate:.0f}/s"
        if kind == "closed":
            closed[name] = summary["rps"]
        print(
            f"{tool:>7} {load_name:>12} {name:>7} {summary['rps']:>9.0f} "
            f"{summary['p50_ms']:>8.2f} {summary['p99_ms']:>8.2f} "
            f"{summary['requests'] - summary['ok'] + summary['errors']:>8.0f}"
        )
    print(
        f"\nclosed loop ({closed_tool}): relink/FastAPI {closed['relink'] / closed['bare']:.3f}, "
        f"relink/raw ASGI {closed['relink'] / closed['raw']:.3f}"
    )


if __name__ == "__main__":
    main()
