"""Burst benchmark: one bank changes its login and N accounts over N/3 authorizations
deactivate at once. relink must drain the burst inside Stripe's rate limit, with exactly one
email per authorization.

    .venv/bin/python benchmarks/burst.py [--n 10000,100000] [--concurrency 3]
        [--sim-limit 100] [--relink-limit 90]

Real processes: the api (uvicorn), one Celery worker (prefork, `--concurrency`, with beat),
PostgreSQL, a Redis server of the benchmark's own, and, in this process, an SMTP sink
(aiosmtpd) and the Stripe simulator, which sends the webhooks (the load generator), enforces
a rate limit (default 100 requests/s, Stripe's live limit; 25 is test mode) and answers 2 %
of API calls with a 500. relink runs at STRIPE_RATE_LIMIT = `--relink-limit` (default 90/s,
its live default), so the run shows the shared limiter keeping every worker process under
the simulator's limit (no 429) and how close the drain gets to the limiter's rate.

Prints, per N, each figure with the tool that measured it: drain time (first webhook
delivered -> last email received), the bound (Stripe calls / relink's limit) and the ratio,
Stripe calls per event, emails per authorization, 429s and 500s, events lost, the webhook
sender's rate, the RSS of every process at the checkpoint (N/10 events processed) and at
the end, the CPU seconds of each, relink's PostgreSQL sessions by state, the database's size
and its largest tables, where the drain's time went, and the machine's load average at the
start and the end. relink's sweeps and redrive run at their defaults (30 s; redrive after
120 s): shorter intervals re-publish work that is still queued in a large backlog. Exits 1
if any authorization got other than one email, any event was not processed, or the
simulator answered a 429.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import psycopg
import requests
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import profile  # noqa: E402
from sim import scenarios  # noqa: E402
from sim.testing import SimServer, run_sim_server  # noqa: E402
from tests.integration.smtp import SmtpSink  # noqa: E402
from tests.integration.stack import (  # noqa: E402
    RedisServer,
    celery_worker_command,
    free_port,
    uvicorn_command,
    wait_until,
)

SECRET = "whsec_burst_benchmark"
DEACTIVATED = "financial_connections.account.deactivated"
ERROR_RATE = 0.02
PROGRESS_EVERY_S = 15.0


class CountingSink(SmtpSink):
    """The SMTP sink keeping only each message's recipient, Message-ID and arrival time:
    33,000 parsed messages would be the largest thing in this process's memory."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.per_recipient: dict[str, int] = {}
        self.message_ids: set[str] = set()
        self.duplicate_ids = 0
        self.count = 0
        self.last_at = 0.0

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        head = BytesHeaderParser(policy=default_policy).parsebytes(envelope.content)
        with self._lock:
            to, message_id = str(head["To"]), str(head["Message-ID"])
            self.per_recipient[to] = self.per_recipient.get(to, 0) + 1
            self.duplicate_ids += message_id in self.message_ids
            self.message_ids.add(message_id)
            self.count += 1
            self.last_at = time.time()
        return "250 OK"


@contextlib.contextmanager
def counting_sink() -> Iterator[CountingSink]:
    sink = CountingSink(free_port())
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


def read_status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc/*/stat)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def processes(api: int, worker: int, redis_pid: int) -> dict[str, int]:
    """Label → pid of every process of the run (one of the worker's children is beat)."""
    table = {"api (uvicorn)": api, "worker main": worker}
    for child in children_of(worker):
        table[f"worker child {child} (pool or beat)"] = child
    table["redis-server"] = redis_pid
    table["this process (simulator, webhook sender, SMTP sink)"] = os.getpid()
    return table


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat utime, stime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(table: dict[str, int]) -> dict[str, float]:
    return {label: cpu_seconds(pid) for label, pid in table.items()}


def rss_snapshot(table: dict[str, int]) -> dict[str, int]:
    """Label → VmRSS (kB) now."""
    return {label: read_status_kb(pid, "VmRSS") for label, pid in table.items()}


@dataclass
class Progress:
    t: float  # seconds since the first webhook delivery
    delivered: int
    processed: int
    stripe_calls: int
    emails: int


@dataclass
class Result:
    n: int
    authorizations: int
    relink_limit: float
    setup_s: float
    deactivate_s: float
    drain_s: float
    stripe_calls: int
    calls_by_route: dict[str, int]
    status_429: int
    status_500: int
    call_times: list[float]  # seconds since the first delivery, per Stripe call
    emails: int
    per_auth: dict[int, int]
    bad_auths: list[tuple[str, int]]
    duplicate_message_ids: int
    processed: int
    lost: int
    posted_ok: int
    inbox_rows: int
    deliveries: int
    delivery_failures: int
    delivery_s: float
    delivery_p50_ms: float
    delivery_p99_ms: float
    last_call_to_email_s: float
    checkpoint: int
    rss_checkpoint: dict[str, int]
    rss_end: dict[str, int]
    rss_peak: dict[str, int]
    cpu_s: dict[str, float]  # CPU seconds spent from the deactivation to the end
    backends: dict[str, int]  # relink's PostgreSQL sessions by state, sampled once a second
    db_empty_bytes: int
    db_end_bytes: int
    largest_tables: list[tuple[str, int]]
    timeline: list[Progress]
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]

    @property
    def min_drain_s(self) -> float:
        return self.stripe_calls / self.relink_limit


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def email_of(i: int) -> str:
    return f"holder{i:06d}@example.com"


def setup_world(sim: SimServer, authorizations: int) -> list[str]:
    """One customer (own email) per authorization, three checking accounts each; the
    authorization ids, in the order of `email_of`."""
    made = []
    with sim.state.lock:
        for i in range(authorizations):
            customer = scenarios.create_customer(sim.state, email_of(i))
            auth, _ = scenarios.create_authorization(
                sim.state,
                {"type": "customer", "customer": customer.id},
                "First Platypus Bank",
                [{"last4": f"{k}{i % 1000:03d}", "subcategory": "checking"} for k in (1, 2, 3)],
            )
            made.append(auth.id)
        sim.state.events.clear()  # the account.created events: never delivered, not needed
    return made


def count(conn: psycopg.Connection[Any], sql: str, *params: object) -> int:
    row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row else 0


BACKENDS = (
    "SELECT CASE WHEN state = 'active' THEN coalesce(wait_event_type || ' wait', 'running') "
    "ELSE state END FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = "
    "'client backend'"
)
PROCESSED = "SELECT count(*) FROM webhook_event WHERE status = 'processed' AND type = %s"


def run_once(
    n: int, args: argparse.Namespace, database: str, redis_server: RedisServer, logs: Path
) -> Result:
    load_start = os.getloadavg()
    authorizations = max(1, n // 3)
    n = authorizations * 3
    with psycopg.connect(args.pg, autocommit=True) as admin:
        name = sql.Identifier(database)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    pg_base = args.pg.rsplit("/", 1)[0]
    dsn = f"{pg_base}/{database}"
    db_url = dsn.replace("postgresql://", "postgresql+psycopg://")
    from shared import migrate

    migrate.upgrade(db_url)
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    assert redis_server.process is not None
    checkpoint = args.checkpoint or max(1, n // 10)

    with (
        run_sim_server(webhook_secret=SECRET, rate_limit_per_second=args.sim_limit) as sim,
        counting_sink() as smtp,
    ):
        started = time.monotonic()
        made = setup_world(sim, authorizations)
        setup_s = time.monotonic() - started
        api_port = free_port()
        base_url = f"http://127.0.0.1:{api_port}"
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": redis_server.url,
            "STRIPE_WEBHOOK_SECRETS": SECRET,
            "STRIPE_API_KEY": sim.api_key,
            "STRIPE_API_BASE": sim.base_url,
            "STRIPE_RATE_LIMIT": str(args.relink_limit),
            "LINK_SIGNING_KEYS": "burst-test-link-key",
            "PUBLIC_BASE_URL": base_url,
            "EMAIL_URL": smtp.url,
            "EMAIL_FROM": "relink <relink@example.com>",
            "QUIET_PERIOD_SECONDS": str(args.quiet_period),
            "SMTP_RATE_LIMIT": str(args.smtp_rate),
            "LOG_LEVEL": "WARNING",
        }
        api = spawn(
            uvicorn_command(api_port, "--factory", "--no-access-log"), env, logs / f"api-{n}.log"
        )
        worker = spawn(
            celery_worker_command(
                "--pool",
                "prefork",
                "--concurrency",
                str(args.concurrency),
                "--loglevel",
                "WARNING",
                "--beat",
                "--schedule",
                str(logs / f"beat-{n}"),
            ),
            env,
            logs / f"worker-{n}.log",
        )
        try:
            wait_until(lambda: requests.get(f"{base_url}/healthz", timeout=1).ok, 30, "the api")
            time.sleep(3)  # the worker's pool is up
            table = processes(api.pid, worker.pid, redis_server.process.pid)
            with psycopg.connect(dsn, autocommit=True) as conn:
                db_empty = count(conn, "SELECT pg_database_size(current_database())")
            sim.client.configure_webhooks(f"{base_url}/webhooks/stripe", SECRET)
            sim.client.configure_delivery(retry=[1, 2, 4, 8, 16, 32], concurrency=args.senders)
            sim.client.clear_requests()
            sim.client.set_faults(error_rate=ERROR_RATE)
            samplers = []
            if args.profile:
                samplers = [
                    profile.start(worker.pid, args.profile / f"worker-{n}.collapsed", True),
                    profile.start(os.getpid(), args.profile / f"simulator-{n}.collapsed"),
                ]
            cpu_before = cpu_snapshot(table)
            started = time.monotonic()
            with sim.state.lock:  # the bank changes its login: everything breaks at once
                for auth_id in made:
                    scenarios.deactivate_authorization(
                        sim.state, auth_id, "access_expired", "relink_required"
                    )
            deactivate_s = time.monotonic() - started
            timeout = args.timeout or 600 + 3 * n * 0.7 / args.relink_limit
            deadline = time.monotonic() + timeout
            timeline: list[Progress] = []
            backends: dict[str, int] = {}
            rss_checkpoint: dict[str, int] = {}
            with psycopg.connect(dsn, autocommit=True) as conn:
                while time.monotonic() < deadline:
                    processed = count(conn, PROCESSED, DEACTIVATED)
                    for (state,) in conn.execute(BACKENDS):
                        backends[state] = backends.get(state, 0) + 1
                    if processed >= checkpoint and not rss_checkpoint:
                        rss_checkpoint = rss_snapshot(table)
                    if processed >= n and smtp.count >= authorizations:
                        break
                    with sim.state.lock:
                        first = sim.state.deliveries[0]["at"] if sim.state.deliveries else None
                        delivered, calls = len(sim.state.deliveries), len(sim.state.requests)
                    if first is not None:
                        t = time.time() - first
                        if not timeline or t - timeline[-1].t >= PROGRESS_EVERY_S:
                            timeline.append(Progress(t, delivered, processed, calls, smtp.count))
                            print(
                                f"  n={n} t={t:5.0f}s: {delivered} delivered, {processed} "
                                f"processed, {calls} Stripe calls, {smtp.count} emails",
                                flush=True,
                            )
                    time.sleep(1.0)
                rss_end = rss_snapshot(table)
                cpu_after = cpu_snapshot(table)
                for sampler in samplers:
                    profile.finish(sampler)
                rss_peak = {label: read_status_kb(pid, "VmHWM") for label, pid in table.items()}
                time.sleep(args.settle)  # a duplicate would show up by now
                processed = count(conn, PROCESSED, DEACTIVATED)
                inbox_rows = count(
                    conn, "SELECT count(*) FROM webhook_event WHERE type = %s", DEACTIVATED
                )
                stored = {
                    row[0]
                    for row in conn.execute(
                        "SELECT id FROM webhook_event WHERE status = 'processed' AND type = %s",
                        (DEACTIVATED,),
                    )
                }
                db_end = count(conn, "SELECT pg_database_size(current_database())")
                tables = [
                    (str(name), int(size))
                    for name, size in conn.execute(
                        "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                        "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
                        "ORDER BY 2 DESC LIMIT 6"
                    )
                ]
            with sim.state.lock:
                deliveries = list(sim.state.deliveries)
                sim_events = [e.id for e in sim.state.events.values() if e.type == DEACTIVATED]
                counts = dict(sim.state.request_counts)
                stamps = [(r.at, r.status) for r in sim.state.requests]
        finally:
            stop(worker)
            stop(api)
        first_at = deliveries[0]["at"]
        durations = sorted(d["duration_s"] for d in deliveries)
        ok_ids = {d["event_id"] for d in deliveries if d["ok"]}
        per_auth: dict[int, int] = {}
        bad: list[tuple[str, int]] = []
        for i, auth_id in enumerate(made):
            got = smtp.per_recipient.get(email_of(i), 0)
            per_auth[got] = per_auth.get(got, 0) + 1
            if got != 1:
                bad.append((auth_id, got))
        call_times = [at - first_at for at, _ in stamps]
        return Result(
            n=n,
            authorizations=authorizations,
            relink_limit=args.relink_limit,
            setup_s=setup_s,
            deactivate_s=deactivate_s,
            drain_s=smtp.last_at - first_at,
            stripe_calls=sum(counts.values()),
            calls_by_route=counts,
            status_429=sum(1 for _, status in stamps if status == 429),
            status_500=sum(1 for _, status in stamps if status == 500),
            call_times=call_times,
            emails=smtp.count,
            per_auth=per_auth,
            bad_auths=bad,
            duplicate_message_ids=smtp.duplicate_ids,
            processed=processed,
            lost=len(set(sim_events) - stored),
            posted_ok=len(ok_ids),
            inbox_rows=inbox_rows,
            deliveries=len(deliveries),
            delivery_failures=sum(1 for d in deliveries if not d["ok"]),
            delivery_s=deliveries[-1]["at"] + deliveries[-1]["duration_s"] - first_at,
            delivery_p50_ms=durations[len(durations) // 2] * 1000,
            delivery_p99_ms=durations[min(len(durations) - 1, len(durations) * 99 // 100)] * 1000,
            last_call_to_email_s=smtp.last_at - first_at - max(call_times, default=0.0),
            checkpoint=checkpoint,
            rss_checkpoint=rss_checkpoint,
            rss_end=rss_end,
            rss_peak=rss_peak,
            backends=backends,
            cpu_s={label: cpu_after[label] - cpu_before[label] for label in cpu_after},
            db_empty_bytes=db_empty,
            db_end_bytes=db_end,
            largest_tables=tables,
            timeline=timeline,
            load_start=load_start,
            load_end=os.getloadavg(),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", default="10000", help="accounts to deactivate, per run")
    parser.add_argument("--concurrency", type=int, default=3, help="prefork worker processes")
    parser.add_argument("--sim-limit", type=float, default=100.0, help="simulator requests/s")
    parser.add_argument("--relink-limit", type=float, default=90.0, help="STRIPE_RATE_LIMIT")
    parser.add_argument("--quiet-period", type=float, default=2.0, help="QUIET_PERIOD_SECONDS")
    parser.add_argument(
        "--smtp-rate", type=float, default=100.0, help="SMTP_RATE_LIMIT (local sink)"
    )
    parser.add_argument(
        "--senders", type=int, default=4, help="the simulator's deliveries in flight at once"
    )
    parser.add_argument("--checkpoint", type=int, help="events processed at the first RSS")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to watch for extras")
    parser.add_argument("--timeout", type=float, help="per run, seconds (default from N)")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the worker and the simulator"
    )
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    sizes = [int(part) for part in args.n.split(",") if part]
    if args.profile and profile.py_spy() is None:
        print("--profile: py-spy is not installed (.venv/bin/pip install py-spy); not profiled")
        args.profile = None
    elif args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="relink-burst-") as tmp:
        logs = Path(tmp)
        redis_server = RedisServer(logs)
        redis_server.start()
        try:
            for n in sizes:
                print(f"burst: N={n} ...", flush=True)
                results.append(run_once(n, args, "relink_burst", redis_server, logs))
                if args.json:
                    args.json.write_text(json.dumps([asdict(r) for r in results]))
                report(results[-1], args)
        except BaseException:
            for log in sorted(logs.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
            raise
        finally:
            redis_server.stop()
    growth(results)
    if any(r.bad_auths or r.lost or r.processed != r.n or r.status_429 for r in results):
        raise SystemExit(1)


def where_time_went(r: Result) -> list[str]:
    """The drain minus its bound, split: before the first Stripe call, seconds below the
    limiter's pace while calls ran, and after the last call."""
    if not r.call_times:
        return ["no Stripe calls"]
    first, last = min(r.call_times), max(r.call_times)
    per_second: dict[int, int] = {}
    for t in r.call_times:
        per_second[int(t)] = per_second.get(int(t), 0) + 1
    seconds = range(int(first), int(last) + 1)
    short = sum(max(0.0, r.relink_limit - per_second.get(s, 0)) for s in seconds)
    at_pace = sum(1 for s in seconds if per_second.get(s, 0) >= 0.9 * r.relink_limit)
    busiest = max(per_second.values())
    return [
        f"first delivery -> first Stripe call: {first:.1f} s (events processed, quiet period)",
        f"Stripe calls from {first:.1f} to {last:.1f} s: {len(seconds)} one-second windows, "
        f"{at_pace} ({at_pace / len(seconds):.0%}) at >= 90 % of {r.relink_limit:.0f}/s, "
        f"busiest {busiest}/s; calls missing below the pace: {short:.0f} "
        f"({short / r.relink_limit:.1f} s at the limit)",
        f"last Stripe call -> last email: {r.last_call_to_email_s:.1f} s",
    ]


def report(r: Result, args: argparse.Namespace) -> None:
    mb = 1024 * 1024
    ratio = r.drain_s / r.min_drain_s
    print(
        f"\nburst N={r.n} ({r.authorizations} authorizations of 3 accounts): {os.cpu_count()} "
        f"cores, load average {r.load_start[0]:.2f} at the start, {r.load_end[0]:.2f} at the "
        f"end (os.getloadavg); simulator at {args.sim_limit:.0f} req/s with {ERROR_RATE:.0%} "
        f"500s; relink STRIPE_RATE_LIMIT {r.relink_limit:.0f}/s; SMTP_RATE_LIMIT "
        f"{args.smtp_rate:.0f}/s; {args.senders} webhook senders; one api; one prefork worker "
        f"--concurrency {args.concurrency} "
        f"with beat; QUIET_PERIOD_SECONDS {args.quiet_period}"
    )
    rows = [
        ("world set up (simulator, in this process)", f"{r.setup_s:.1f} s", "time.monotonic"),
        (
            "deactivation of every authorization (simulator)",
            f"{r.deactivate_s:.1f} s",
            "time.monotonic",
        ),
        (
            "drain: first delivery -> last email",
            f"{r.drain_s:.1f} s",
            "simulator delivery log, SMTP sink",
        ),
        (
            "Stripe calls",
            f"{r.stripe_calls} ({r.stripe_calls / r.n:.3f}/event)",
            "simulator request log",
        ),
        (f"bound: calls / {r.relink_limit:.0f} per s", f"{r.min_drain_s:.1f} s", "arithmetic"),
        ("drain / bound (goal <= 1.1)", f"{ratio:.3f}", "arithmetic"),
        ("events/s drained", f"{r.n / r.drain_s:.1f}", "arithmetic"),
        ("429 answered", f"{r.status_429}", "simulator request log"),
        ("500 answered (injected)", f"{r.status_500}", "simulator request log"),
        (
            "emails",
            f"{r.emails}; per authorization {dict(sorted(r.per_auth.items()))}",
            "SMTP sink",
        ),
        ("duplicate Message-IDs", f"{r.duplicate_message_ids}", "SMTP sink"),
        ("events processed", f"{r.processed}/{r.n}", "PostgreSQL webhook_event"),
        ("events lost (simulator's events not processed)", f"{r.lost}", "simulator, PostgreSQL"),
        (
            "events answered 2xx / inbox rows",
            f"{r.posted_ok} / {r.inbox_rows}",
            "simulator delivery log, PostgreSQL",
        ),
        (
            "webhook sender (load generator)",
            f"{r.deliveries} POSTs ({r.delivery_failures} not 2xx) in {r.delivery_s:.1f} s = "
            f"{r.deliveries / r.delivery_s:.0f}/s; api answer p50 {r.delivery_p50_ms:.1f} ms, "
            f"p99 {r.delivery_p99_ms:.1f} ms",
            "simulator delivery log",
        ),
        (
            "database size",
            f"{r.db_empty_bytes / mb:.1f} MB empty (baseline) -> {r.db_end_bytes / mb:.1f} MB; "
            f"{(r.db_end_bytes - r.db_empty_bytes) / r.n * 100_000 / mb:.0f} MB per 100,000 events",
            "pg_database_size",
        ),
    ]
    width = max(len(name) for name, _, _ in rows)
    for name, value, tool in rows:
        print(f"  {name:<{width}}  {value}  [{tool}]")
    largest = ", ".join(f"{name} {size / mb:.1f}" for name, size in r.largest_tables)
    print(f"  largest tables, MB with indexes: {largest}  [pg_total_relation_size]")
    print(f"  Stripe calls by route: {r.calls_by_route}  [simulator request counts]")
    for auth_id, got in r.bad_auths[:20]:
        print(f"  authorization {auth_id}: {got} emails")
    print("  where the drain's time went [simulator request log]:")
    for line in where_time_went(r):
        print(f"    {line}")
    print(
        f"  RSS per process [/proc/<pid>/status VmRSS; peak VmHWM], at {r.checkpoint} events "
        f"processed -> at the end:"
    )
    for label, end_kb in r.rss_end.items():
        at = r.rss_checkpoint.get(label, 0)
        print(
            f"    {label:<52} {at / 1024:7.1f} -> {end_kb / 1024:7.1f} MB "
            f"(growth {(end_kb - at) / 1024:+6.1f} MB, peak {r.rss_peak.get(label, 0) / 1024:.1f})"
        )
    done = max(1, r.processed)  # per event processed: a run cut by --timeout did not drain
    print("  CPU seconds from the deactivation to the last email [/proc/<pid>/stat]:")
    for label, seconds in r.cpu_s.items():
        print(
            f"    {label:<52} {seconds:7.1f} s ({seconds / done * 1000:.2f} ms per event, "
            f"{seconds / r.drain_s:.2f} cores)"
        )
    worker = sum(v for k, v in r.cpu_s.items() if k.startswith("worker"))
    print(
        f"    worker, all processes: {worker:.1f} s = {worker / done * 1000:.2f} ms per event "
        f"processed, i.e. {done / worker:.0f} events/s per core if the core were its own"
    )
    total = sum(r.backends.values()) or 1
    shares = ", ".join(
        f"{k} {v / total:.0%}" for k, v in sorted(r.backends.items(), key=lambda kv: -kv[1])
    )
    print(f"  relink's PostgreSQL sessions, sampled once a second [pg_stat_activity]: {shares}")
    if args.profile:
        profile.print_summary("  worker", args.profile / f"worker-{r.n}.collapsed")
        profile.print_summary("  this process", args.profile / f"simulator-{r.n}.collapsed")
    print("  timeline (t from the first delivery) [simulator logs, PostgreSQL, SMTP sink]:")
    for p in r.timeline:
        print(
            f"    t={p.t:6.0f}s delivered {p.delivered:>7} processed {p.processed:>7} "
            f"Stripe calls {p.stripe_calls:>6} emails {p.emails:>6}"
        )


def growth(results: list[Result]) -> None:
    for base, r in itertools.pairwise(results):
        per_base, per_r = base.drain_s / base.n, r.drain_s / r.n
        print(
            f"\ngrowth N={base.n} -> N={r.n} (x{r.n / base.n:.0f}): drain time "
            f"x{r.drain_s / base.drain_s:.2f}, time per event x{per_r / per_base:.2f} "
            f"({per_base * 1000:.2f} -> {per_r * 1000:.2f} ms/event)"
        )


if __name__ == "__main__":
    main()
