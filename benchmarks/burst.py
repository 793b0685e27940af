"""Burst benchmark: one bank changes its login and N accounts over N/3 authorizations
deactivate at once. relink must drain the burst inside Stripe's rate limit, with exactly one
email per authorization.

    .venv/bin/python benchmarks/burst.py [--n 1000,10000] [--concurrency 4]

Real processes: the api (uvicorn), one Celery worker (prefork, `--concurrency`, with beat),
PostgreSQL, a Redis server of the benchmark's own, an SMTP sink (aiosmtpd) and the Stripe
simulator, which enforces Stripe's test-mode limit (25 requests/s) and answers 2 % of API
calls with a 500. relink runs at its own default for a test key, STRIPE_RATE_LIMIT = 20/s,
so the run shows the shared limiter keeping every worker process under Stripe's limit (the
429 column should be 0) and how close the drain gets to the limiter's rate.

Prints, per N: drain time (first webhook delivered -> last email received by the sink),
events/s, Stripe calls per event, emails per authorization, 429s and 500s seen, peak RSS of
the api and the worker processes, the minimum drain time (Stripe calls / rate limit) and the
achieved fraction of it, and how the time per event grows with N. Exits 1 if any
authorization got other than one email, or any event was not processed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
SIM_RATE_LIMIT = 25.0  # Stripe's test-mode limit, enforced by the simulator
RELINK_RATE_LIMIT = 20.0  # relink's default STRIPE_RATE_LIMIT for a test key
ERROR_RATE = 0.02


def read_status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """pid and every process below it (from /proc/*/stat parent ids)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


@dataclass
class RssSampler:
    """Peak RSS (kernel VmHWM) per process of a process tree, and the peak of the tree's sum."""

    root: int
    peak_per_pid: dict[int, int] = field(default_factory=dict)
    peak_total_kb: int = 0

    def sample(self) -> None:
        total = 0
        for pid in descendants(self.root):
            total += read_status_kb(pid, "VmRSS")
            hwm = read_status_kb(pid, "VmHWM")
            self.peak_per_pid[pid] = max(self.peak_per_pid.get(pid, 0), hwm)
        self.peak_total_kb = max(self.peak_total_kb, total)

    @property
    def peak_process_kb(self) -> int:
        return max(self.peak_per_pid.values(), default=0)


@dataclass
class Result:
    n: int
    authorizations: int
    drain_s: float
    stripe_calls: int
    calls_by_route: dict[str, int]
    status_429: int
    status_500: int
    emails: int
    per_auth: dict[int, int]
    bad_auths: list[tuple[str, int]]
    processed: int
    lost: int
    api_rss_kb: int
    worker_rss_kb: int
    worker_process_rss_kb: int
    worker_processes: int

    @property
    def events_per_s(self) -> float:
        return self.n / self.drain_s

    @property
    def min_drain_s(self) -> float:
        return self.stripe_calls / RELINK_RATE_LIMIT


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


def setup_world(sim: SimServer, authorizations: int) -> list[tuple[str, str]]:
    """One customer (own email) per authorization, three checking accounts each."""
    made = []
    with sim.state.lock:
        for i in range(authorizations):
            email = f"holder{i:06d}@example.com"
            customer = scenarios.create_customer(sim.state, email)
            auth, _ = scenarios.create_authorization(
                sim.state,
                {"type": "customer", "customer": customer.id},
                "First Platypus Bank",
                [{"last4": f"{k}{i % 1000:03d}", "subcategory": "checking"} for k in (1, 2, 3)],
            )
            made.append((auth.id, email))
    return made


def run_once(
    n: int, args: argparse.Namespace, database: str, redis_server: RedisServer, logs: Path
) -> Result:
    authorizations = max(1, n // 3)
    n = authorizations * 3
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {database}")
    pg_base = args.pg.rsplit("/", 1)[0]
    db_url = pg_base.replace("postgresql://", "postgresql+psycopg://") + f"/{database}"
    from shared import migrate

    migrate.upgrade(db_url)
    import redis

    redis.Redis.from_url(redis_server.url).flushall()

    with (
        run_sim_server(webhook_secret=SECRET, rate_limit_per_second=SIM_RATE_LIMIT) as sim,
        SmtpSink.running() as smtp,
    ):
        made = setup_world(sim, authorizations)
        api_port = free_port()
        base_url = f"http://127.0.0.1:{api_port}"
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": redis_server.url,
            "STRIPE_WEBHOOK_SECRETS": SECRET,
            "STRIPE_API_KEY": sim.api_key,
            "STRIPE_API_BASE": sim.base_url,
            "LINK_SIGNING_KEYS": "burst-test-link-key",
            "PUBLIC_BASE_URL": base_url,
            "EMAIL_URL": smtp.url,
            "EMAIL_FROM": "relink <relink@example.com>",
            "QUIET_PERIOD_SECONDS": str(args.quiet_period),
            "EMAIL_SWEEP_EVERY_SECONDS": "2",
            "REDRIVE_AFTER_SECONDS": "60",
            "REDRIVE_EVERY_SECONDS": "10",
            "SMTP_RATE_LIMIT": str(args.smtp_rate),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("STRIPE_RATE_LIMIT", None)  # relink's default for a test key: 20/s
        api = spawn(
            uvicorn_command(api_port, "--factory", "--no-access-log"),
            env,
            logs / f"api-{n}.log",
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
            api_rss, worker_rss = RssSampler(api.pid), RssSampler(worker.pid)
            sim.client.configure_webhooks(f"{base_url}/webhooks/stripe", SECRET)
            sim.client.configure_delivery(retry=[1, 2, 4, 8, 16, 32])
            sim.client.clear_requests()
            sim.client.set_faults(error_rate=ERROR_RATE)
            with sim.state.lock:  # the bank changes its login: everything breaks at once
                for auth_id, _ in made:
                    scenarios.deactivate_authorization(
                        sim.state, auth_id, "access_expired", "relink_required"
                    )
            dsn = f"{pg_base}/{database}"
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    api_rss.sample()
                    worker_rss.sample()
                    done.wait(1.0)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            deadline = time.monotonic() + args.timeout
            with psycopg.connect(dsn, autocommit=True) as conn:
                last_report = 0.0
                while time.monotonic() < deadline:
                    processed = conn.execute(
                        "SELECT count(*) FROM webhook_event WHERE status = 'processed' "
                        "AND type = %s",
                        (DEACTIVATED,),
                    ).fetchone()[0]  # type: ignore[index]
                    sent = len(smtp.received())
                    if processed >= n and sent >= authorizations:
                        break
                    if time.monotonic() - last_report > 15:
                        last_report = time.monotonic()
                        print(f"  n={n}: {processed} processed, {sent} emails", flush=True)
                    time.sleep(0.5)
                time.sleep(args.settle)  # a duplicate would show up by now
                done.set()
                sampler.join()
                statuses = dict(
                    conn.execute(
                        "SELECT status, count(*) FROM webhook_event WHERE type = %s "
                        "GROUP BY status",
                        (DEACTIVATED,),
                    ).fetchall()
                )
            with sim.state.lock:
                first_delivery = min(d["at"] for d in sim.state.deliveries)
                sim_events = {e.id for e in sim.state.events.values() if e.type == DEACTIVATED}
                counts = dict(sim.state.request_counts)
                status_429 = sum(1 for r in sim.state.requests if r.status == 429)
                status_500 = sum(1 for r in sim.state.requests if r.status == 500)
            with psycopg.connect(dsn, autocommit=True) as conn:
                stored = {
                    row[0]
                    for row in conn.execute(
                        "SELECT id FROM webhook_event WHERE status = 'processed' AND type = %s",
                        (DEACTIVATED,),
                    ).fetchall()
                }
            messages = smtp.received()
            by_recipient: dict[str, int] = {}
            for message in messages:
                by_recipient[str(message["To"])] = by_recipient.get(str(message["To"]), 0) + 1
            per_auth: dict[int, int] = {}
            bad = []
            for auth_id, email in made:
                got = by_recipient.get(email, 0)
                per_auth[got] = per_auth.get(got, 0) + 1
                if got != 1:
                    bad.append((auth_id, got))
            message_ids = [str(m["Message-ID"]) for m in messages]
            if len(set(message_ids)) != len(message_ids):
                bad.append(("duplicate Message-ID", len(message_ids) - len(set(message_ids))))
            last_email = max(smtp.received_at, default=time.time())
            return Result(
                n=n,
                authorizations=authorizations,
                drain_s=last_email - first_delivery,
                stripe_calls=sum(counts.values()),
                calls_by_route=counts,
                status_429=status_429,
                status_500=status_500,
                emails=len(messages),
                per_auth=per_auth,
                bad_auths=bad,
                processed=statuses.get("processed", 0),
                lost=len(sim_events - stored),
                api_rss_kb=api_rss.peak_total_kb,
                worker_rss_kb=worker_rss.peak_total_kb,
                worker_process_rss_kb=worker_rss.peak_process_kb,
                worker_processes=len(worker_rss.peak_per_pid),
            )
        finally:
            stop(worker)
            stop(api)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", default="1000,10000", help="accounts to deactivate, per run")
    parser.add_argument("--concurrency", type=int, default=4, help="prefork worker processes")
    parser.add_argument("--quiet-period", type=float, default=2.0, help="QUIET_PERIOD_SECONDS")
    parser.add_argument(
        "--smtp-rate", type=float, default=100.0, help="SMTP_RATE_LIMIT (local sink)"
    )
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to watch for extras")
    parser.add_argument("--timeout", type=float, default=1500.0, help="per run, seconds")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    sizes = [int(part) for part in args.n.split(",") if part]

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="relink-burst-") as tmp:
        logs = Path(tmp)
        redis_server = RedisServer(logs)
        redis_server.start()
        try:
            for n in sizes:
                print(f"burst: N={n} ...", flush=True)
                results.append(run_once(n, args, "relink_burst", redis_server, logs))
        except BaseException:
            for log in sorted(logs.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
            raise
        finally:
            redis_server.stop()
    report(results, args)
    if any(r.bad_auths or r.lost or r.processed != r.n for r in results):
        raise SystemExit(1)


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"\nburst benchmark: {os.cpu_count()} cores; simulator at {SIM_RATE_LIMIT:.0f} req/s "
        f"(Stripe test mode) with {ERROR_RATE:.0%} 500s; relink STRIPE_RATE_LIMIT "
        f"{RELINK_RATE_LIMIT:.0f}/s; SMTP_RATE_LIMIT {args.smtp_rate:.0f}/s; one prefork worker "
        f"--concurrency {args.concurrency} with beat; QUIET_PERIOD_SECONDS {args.quiet_period}\n"
    )
    header = (
        f"{'N':>6} {'auths':>6} {'drain s':>8} {'ev/s':>7} {'calls':>6} {'calls/ev':>8} "
        f"{'429':>4} {'500':>4} {'min s':>7} {'of limit':>8} {'emails':>6} {'≠1':>4} "
        f"{'lost':>4} {'api MB':>7} {'wrk MB':>7} {'wrk/proc MB':>11}"
    )
    print(header)
    for r in results:
        print(
            f"{r.n:>6} {r.authorizations:>6} {r.drain_s:>8.1f} {r.events_per_s:>7.1f} "
            f"{r.stripe_calls:>6} {r.stripe_calls / r.n:>8.3f} {r.status_429:>4} "
            f"{r.status_500:>4} {r.min_drain_s:>7.1f} {r.min_drain_s / r.drain_s:>8.1%} "
            f"{r.emails:>6} {len(r.bad_auths):>4} {r.lost:>4} {r.api_rss_kb / 1024:>7.0f} "
            f"{r.worker_rss_kb / 1024:>7.0f} {r.worker_process_rss_kb / 1024:>11.0f}"
        )
    for r in results:
        print(f"\nN={r.n}: Stripe calls by route: {r.calls_by_route}")
        print(f"N={r.n}: emails per authorization: {dict(sorted(r.per_auth.items()))}")
        for auth_id, got in r.bad_auths[:20]:
            print(f"  authorization {auth_id}: {got} emails")
        print(
            f"N={r.n}: worker tree peak {r.worker_rss_kb / 1024:.0f} MB over "
            f"{r.worker_processes} processes (max one process {r.worker_process_rss_kb / 1024:.0f}"
            f" MB); events processed {r.processed}/{r.n}, lost {r.lost}"
        )
    if len(results) > 1:
        base = results[0]
        for r in results[1:]:
            per_base, per_r = base.drain_s / base.n, r.drain_s / r.n
            print(
                f"\ngrowth N={base.n} -> N={r.n} (x{r.n / base.n:.0f}): drain time "
                f"x{r.drain_s / base.drain_s:.2f}, time per event x{per_r / per_base:.2f} "
                f"({per_base * 1000:.1f} -> {per_r * 1000:.1f} ms/event)"
            )


if __name__ == "__main__":
    main()
