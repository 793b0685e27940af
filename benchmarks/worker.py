"""Worker benchmark: relink events processed per second against an empty Celery task, drained
by the same `celery worker` flags in the same run.

    .venv/bin/python benchmarks/worker.py [--events 3000] [--concurrency 2] [--batch 100]
        [--profile DIR]

N deactivation events (one authorization each; QUIET_PERIOD_SECONDS an hour, so no email is
due and Stripe is never called) are recorded in PostgreSQL while no worker runs and queued as
the receiver queues them under load: one `relink.process_events` message per `--batch` events
(`--batch 1`: one `relink.process_event` each). Then `celery -A worker worker --concurrency C`
drains them. In the same run, N no-op tasks (one message each; the task only increments a
Redis counter, benchmarks/noop_worker.py) are drained by `celery -A benchmarks.noop_worker
worker` with the same flags, broker and configuration. Rates count from the first completion
to the last (polled every 10 ms), so process start-up is left out of both. Prints both rates
and relink/no-op, and with `--profile DIR` where relink's worker processes spend their time
(py-spy, benchmarks/profile.py; the collapsed stacks kept in DIR). Exits 1 if an event is not
processed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import orjson
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import profile  # noqa: E402
from tests.factories import event, fc_account  # noqa: E402
from tests.integration.stack import RedisServer  # noqa: E402

DATABASE = "relink_bench_worker"


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


def drain_rate(
    app: str, count: Callable[[], int], n: int, args: argparse.Namespace, env: dict[str, str]
) -> float:
    """Start `celery -A app worker` with the benchmark's flags; completions/s once it runs."""
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


def record_events(n: int, batch: int) -> None:
    """N deactivations, one authorization each, in the inbox and queued (this process's env)."""
    from shared.db import session_scope
    from shared.inbox import EventHeader, InboxItem
    from shared.inbox import record_events as record
    from shared.queue import events_task, publish

    run = f"{int(time.time())}"
    events = [
        event(obj=fc_account(id=f"fca_{run}{i:08d}", authorization=f"fcauth_{run}{i:08d}"))
        for i in range(n)
    ]
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
    for start in range(0, n, batch):
        publish(*events_task(ids[start : start + batch]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--batch", type=int, default=100, help="events per queued message")
    parser.add_argument("--timeout", type=float, default=900.0, help="per drain, seconds")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the relink drain; stacks kept in DIR"
    )
    args = parser.parse_args()
    n = args.events
    if args.profile and profile.py_spy() is None:
        print("--profile: py-spy is not installed (.venv/bin/pip install py-spy); not profiled")
        args.profile = None
    elif args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

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
                "STRIPE_WEBHOOK_SECRETS": "whsec_worker_benchmark",
                "LINK_SIGNING_KEYS": "worker-benchmark-key",
                "QUIET_PERIOD_SECONDS": "3600",  # no email due: the inbox and cases only
                "REDRIVE_AFTER_SECONDS": "3600",
                "LOG_LEVEL": "WARNING",
            }
            os.environ.update(env)  # this process records and publishes as relink would
            from shared import migrate

            migrate.upgrade(env["DATABASE_URL"])
            record_events(n, args.batch)
            with psycopg.connect(dsn, autocommit=True) as conn:

                def processed() -> int:
                    row = conn.execute(
                        "SELECT count(*) FROM webhook_event WHERE status = 'processed'"
                    ).fetchone()
                    return int(row[0]) if row else 0

                if args.profile:
                    args.profile_out = args.profile / "worker.collapsed"
                relink = drain_rate("worker", processed, n, args, env)
                args.profile_out = None  # the no-op drain is not profiled

            from benchmarks.noop_worker import COUNTER, NOOP

            counter = redis.Redis.from_url(broker.url)
            counter.delete(COUNTER)
            from shared.queue import publish

            for _ in range(n):
                publish(NOOP, [])
            noop = drain_rate(
                "benchmarks.noop_worker", lambda: int(counter.get(COUNTER) or 0), n, args, env
            )
            if args.profile:
                profile.print_summary("relink worker processes", args.profile / "worker.collapsed")
        finally:
            broker.stop()
    print(
        f"worker benchmark: {os.cpu_count()} cores; {n} events, {args.batch} per message; "
        f"celery --pool {args.pool} --concurrency {args.concurrency}\n"
        f"  relink deactivations  {relink:8.1f} events/s\n"
        f"  no-op Celery task     {noop:8.1f} tasks/s\n"
        f"  relink / no-op        {relink / noop:8.2f}"
    )


if __name__ == "__main__":
    main()
