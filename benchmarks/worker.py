"""Worker benchmark: relink events processed per second against an empty Celery task, drained
by the same `celery worker` flags in the same run, with the events queued two ways.

    .venv/bin/python benchmarks/worker.py [--events 3000] [--concurrency 2] [--batch 100]
        [--receiver-concurrency 16] [--rss 10000] [--profile DIR]

N deactivation events (one authorization each; QUIET_PERIOD_SECONDS an hour, so no email is
due and Stripe is never called) are queued while no worker runs:
- `receiver`: POSTed, signed, to relink's real receiver (one uvicorn process, --receiver-
  concurrency connections, benchmarks/loadgen.py), which records them and queues one
  `relink.process_events` message per group commit, as in production;
- `batch`: recorded in PostgreSQL directly and queued one message per `--batch` events
  (`--batch 1`: one `relink.process_event` each).
Each time `celery -A worker worker --concurrency C` then drains them, and N no-op tasks (one
message each; the task only increments a Redis counter, benchmarks/noop_worker.py) are
drained right after by `celery -A benchmarks.noop_worker worker` with the same flags, broker
and configuration. Rates count from the first completion to the last (polled every 10 ms), so
process start-up is left out of both. With `--rss M`, M more events (batches of `--batch`)
are drained and the resident memory of the worker's processes (main + pool, VmRSS in
/proc) is read after 1,000 and after M. With `--profile DIR`, py-spy samples relink's worker
processes during the `batch` drain (benchmarks/profile.py; the collapsed stacks kept in DIR).
Exits 1 if an event is not processed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import redis
import requests
import stripe

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import loadgen, profile  # noqa: E402
from tests.factories import event, fc_account  # noqa: E402
from tests.integration.stack import (  # noqa: E402
    RedisServer,
    free_port,
    uvicorn_command,
    wait_until,
)

DATABASE = "relink_bench_worker"
SECRET = "whsec_worker_benchmark"


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` and its children (a prefork worker's pool), MB from /proc."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            pids.append(int(stat.parent.name))
    total = 0
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        total += next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
        )
    return total / 1024


def drain_rate(
    app: str,
    count: Callable[[], int],
    n: int,
    args: argparse.Namespace,
    env: dict[str, str],
    rss_at: dict[int, float] | None = None,
) -> float:
    """Start `celery -A app worker` with the benchmark's flags; completions/s once it runs.
    `rss_at`: counts of completions → the processes' memory (MB) read when each is reached."""
    command = [
        sys.executable, "-m", "celery", "-A", app, "worker", "--concurrency",
        str(args.concurrency), "--pool", args.pool, "--loglevel", "WARNING",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    worker = spawn(command, env, Path(args.logs) / f"{app}.log")
    sampler = profile.start(worker.pid, args.profile_out, True) if args.profile_out else None
    try:
        deadline = time.monotonic() + args.timeout
        first: tuple[float, int] | None = None
        done = 0
        while done < n:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit(f"{app}: {done}/{n} done; see {args.logs}/{app}.log")
            done = count()
            for mark, mb in (rss_at or {}).items():
                if done >= mark and not mb and rss_at is not None:
                    rss_at[mark] = rss_mb(worker.pid)
            if first is None and done > 0:
                first = (time.monotonic(), done)
            time.sleep(0.01)
        assert first is not None
        elapsed = time.monotonic() - first[0]
        return (n - first[1]) / elapsed if elapsed > 0 else float("inf")
    finally:
        if sampler is not None:
            profile.finish(sampler)
        stop(worker)


def deactivations(n: int, run: str) -> list[dict[str, Any]]:
    """N deactivation events, one authorization each."""
    return [
        event(
            id=f"evt_{run}{i:010d}",
            obj=fc_account(id=f"fca_{run}{i:08d}", authorization=f"fcauth_{run}{i:08d}"),
        )
        for i in range(n)
    ]


def record_events(events: list[dict[str, Any]], batch: int) -> None:
    """Record the events in the inbox and queue them `batch` per message (this process's env)."""
    from shared.db import session_scope
    from shared.events.inbox import EventHeader, InboxItem
    from shared.events.inbox import record_events as record
    from shared.queue import events_task, publish

    items = [
        InboxItem(
            EventHeader(e["id"], e["type"], e["created"], False, e["api_version"], None),
            orjson.dumps(e).decode(),
            handled=True,
        )
        for e in events
    ]
    with session_scope() as session:
        record(session, items, stale_after=timedelta(hours=1))
    ids = [e["id"] for e in events]
    for start in range(0, len(ids), batch):
        publish(*events_task(ids[start : start + batch]))


def post_events(events: list[dict[str, Any]], env: dict[str, str], concurrency: int) -> int:
    """POST the events, signed, to relink's receiver (one uvicorn process), which records and
    queues them as in production; return how many were answered 200."""
    port = free_port()
    server = subprocess.Popen(
        uvicorn_command(port, "--factory", "--no-access-log"), cwd=ROOT, env=env
    )
    try:
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok,
            30,
            "the receiver",
        )
        posts = []
        for e in events:
            body = orjson.dumps(e)
            header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
            posts.append(
                loadgen.build_request(
                    "127.0.0.1", port, "/webhooks/stripe", body, {"Stripe-Signature": header}
                )
            )
        result = asyncio.run(loadgen.run("127.0.0.1", port, posts, concurrency))
        return result.ok
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--batch", type=int, default=100, help="events per queued message")
    parser.add_argument("--receiver-concurrency", type=int, default=16, help="connections")
    parser.add_argument("--modes", default="receiver,batch", help="receiver, batch or both")
    parser.add_argument("--rss", type=int, default=0, metavar="M", help="RSS at 1,000 and M")
    parser.add_argument("--timeout", type=float, default=900.0, help="per drain, seconds")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the batch drain; stacks kept in DIR"
    )
    args = parser.parse_args()
    n = args.events
    modes = [m for m in args.modes.split(",") if m]
    if args.profile and profile.py_spy() is None:
        print("--profile: py-spy is not installed (.venv/bin/pip install py-spy); not profiled")
        args.profile = None
    elif args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    rows: list[tuple[str, float, float]] = []
    rss: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="relink-worker-bench-") as logs:
        args.logs = logs
        args.profile_out = None
        broker = RedisServer(Path(logs))
        broker.start()
        try:
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
                admin.execute(f"CREATE DATABASE {DATABASE}")
            dsn = f"{args.pg.rsplit('/', 1)[0]}/{DATABASE}"
            env = {
                **os.environ,
                "DATABASE_URL": dsn.replace("postgresql://", "postgresql+psycopg://"),
                "CELERY_BROKER_URL": broker.url,
                "STRIPE_API_KEY": "sk_test_worker_benchmark",
                "STRIPE_WEBHOOK_SECRETS": SECRET,
                "LINK_SIGNING_KEYS": "worker-benchmark-key",
                "QUIET_PERIOD_SECONDS": "3600",  # no email due: the inbox and cases only
                "REDRIVE_AFTER_SECONDS": "3600",
                "LOG_LEVEL": "WARNING",
            }
            os.environ.update(env)  # this process records and publishes as relink would
            from shared import migrate

            migrate.upgrade(env["DATABASE_URL"])
            from benchmarks.noop_worker import COUNTER, NOOP
            from shared.queue import publish

            counter = redis.Redis.from_url(broker.url)
            with psycopg.connect(dsn, autocommit=True) as conn:

                def processed() -> int:
                    row = conn.execute(
                        "SELECT count(*) FROM webhook_event WHERE status = 'processed'"
                    ).fetchone()
                    return int(row[0]) if row else 0

                def drain_relink(count: int, rss_at: dict[int, float] | None = None) -> float:
                    base = processed()
                    return drain_rate(
                        "worker", lambda: processed() - base, count, args, env, rss_at
                    )

                def drain_noop() -> float:
                    counter.delete(COUNTER)
                    for _ in range(n):
                        publish(NOOP, [])
                    return drain_rate(
                        "benchmarks.noop_worker",
                        lambda: int(counter.get(COUNTER) or 0),
                        n,
                        args,
                        env,
                    )

                for mode in modes:
                    events = deactivations(n, f"{mode[:1]}{int(time.time())}")
                    if mode == "receiver":
                        accepted = post_events(events, env, args.receiver_concurrency)
                        if accepted != n:
                            raise SystemExit(f"receiver: {accepted}/{n} answered 200")
                        label = f"receiver-published ({args.receiver_concurrency} connections)"
                    else:
                        record_events(events, args.batch)
                        label = f"batches of {args.batch}"
                        if args.profile:
                            args.profile_out = args.profile / "worker.collapsed"
                    relink = drain_relink(n)
                    args.profile_out = None  # the no-op drain is not profiled
                    rows.append((label, relink, drain_noop()))
                if args.rss:
                    rss = {min(1000, args.rss): 0.0, args.rss: 0.0}
                    record_events(deactivations(args.rss, f"m{int(time.time())}"), args.batch)
                    drain_relink(args.rss, rss)
            if args.profile:
                profile.print_summary("relink worker processes", args.profile / "worker.collapsed")
        finally:
            broker.stop()
    print(
        f"worker benchmark: {os.cpu_count()} cores; {n} deactivations per mode; "
        f"celery --pool {args.pool} --concurrency {args.concurrency}; "
        "rates from completions polled every 10 ms"
    )
    for label, relink, noop in rows:
        print(
            f"  {label:<40} relink {relink:8.1f} events/s, no-op {noop:8.1f} tasks/s, "
            f"relink / no-op {relink / noop:5.2f}"
        )
    for mark, mb in rss.items():
        print(f"  worker RSS (main + pool, VmRSS from /proc) after {mark:>6} events: {mb:7.1f} MB")


if __name__ == "__main__":
    main()
