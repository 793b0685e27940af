"""More faults under the same traffic and the same end checks as test_faults.py: RabbitMQ (quorum
queues) losing every connection, a private PostgreSQL restarted mid-batch, a platform endpoint
that trickles its answer, and the workers' (only the workers') PostgreSQL cut for 10 s."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from statistics import median

import psycopg
import pytest

from sim.testing import SimServer
from tests.faults.conftest import FaultRow
from tests.faults.postgres import PostgresServer
from tests.faults.test_faults import Traffic, check, during, start
from tests.integration.conftest import PG_HOST, PG_PORT
from tests.integration.smtp import SmtpSink
from tests.integration.stack import RedisServer, Stack, TcpProxy, wait_until
from tests.platform_webhooks.receiver import Receiver

TRAFFIC_EVERY = 0.8  # half test_faults.py's pace: each row drains within a minute


def restart_api(stack: Stack, **env: str) -> None:
    """The api again, with `env` (the workers started after it get `env` too)."""
    assert stack.api is not None
    os.killpg(stack.api.pid, signal.SIGTERM)
    stack.api.wait(timeout=15)
    stack.env.update(env)
    stack.start_api()


def restart_exited_workers(stack: Stack) -> int:
    """Start a worker for each one that exited (compose's `restart: unless-stopped`)."""
    beat = stack.workers[0]
    exited = [worker for worker in stack.workers if worker.poll() is not None]
    for worker in exited:
        stack.workers.remove(worker)
        stack.start_worker(beat=worker is beat)
    return len(exited)


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout


@pytest.fixture
def rabbitmq_proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", 5672)
    yield proxy
    proxy.close()


def test_rabbitmq_restarted_with_quorum_queues(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    pg: psycopg.Connection,
    redis_server: RedisServer,
    rabbitmq_url: str,
    rabbitmq_proxy: TcpProxy,
    receiver: Receiver,
    fault_table: list[FaultRow],
) -> None:
    """The shared RabbitMQ is not restarted: every connection of this test's vhost is closed
    by the server (as a stopping node does), then refused for 5 s by the proxy in front."""
    started = time.monotonic()
    vhost = rabbitmq_url.rsplit("/", 1)[1]
    broker = rabbitmq_url.replace(":5672/", f":{rabbitmq_proxy.port}/")
    restart_api(stack, CELERY_BROKER_URL=broker, RATE_LIMIT_REDIS_URL=redis_server.url)
    start(stack, sim)
    restarted = 0
    with Traffic(sim, interval=TRAFFIC_EVERY) as traffic:

        def restart() -> None:
            nonlocal restarted
            rabbitmqctl("close_all_connections", "--vhost", vhost, "--limit", "1000", "fault")
            rabbitmq_proxy.cut()
            time.sleep(5)
            rabbitmq_proxy.restore()
            time.sleep(1)
            restarted = restart_exited_workers(stack)

        during(3, restart)
    queues = rabbitmqctl("list_queues", "-p", vhost, "name", "type", "--no-table-headers")
    assert "relink\tquorum" in queues, queues  # published to and consumed from a quorum queue
    check(
        "8 RabbitMQ restarted (quorum, 5 s)",
        (pg, sim, smtp, receiver),
        traffic,
        fault_table,
        started,
        note="the shared server is not restarted: close_all_connections on the test's vhost, "
        f"then the TCP proxy refused connections for 5 s; {restarted} worker(s) exited and "
        "were restarted",
    )


@pytest.fixture
def private_pg() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    server.create_database()
    yield server
    server.stop()


def test_postgresql_restarted_mid_batch(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    private_pg: PostgresServer,
    receiver: Receiver,
    fault_table: list[FaultRow],
) -> None:
    started = time.monotonic()
    restart_api(stack, DATABASE_URL=private_pg.sqlalchemy_url)
    start(stack, sim)
    with psycopg.connect(private_pg.url, autocommit=True) as watch:

        def mid_batch() -> bool:
            """Ten events in, and a worker's transaction open on the cases or accounts."""
            accepted = watch.execute("SELECT count(*) FROM webhook_event").fetchone()
            busy = watch.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND xact_start IS NOT NULL AND query ~ '(relink_case|fc_account|email_outbox)'"
            ).fetchone()
            return accepted is not None and accepted[0] >= 10 and busy is not None and busy[0] > 0

        with Traffic(sim, interval=TRAFFIC_EVERY) as traffic:

            def restart() -> None:
                wait_until(mid_batch, 30, "ten events accepted, a worker mid-transaction")
                private_pg.restart()
                time.sleep(3)  # and traffic goes on after the restart

            during(0, restart)
    with psycopg.connect(private_pg.url, autocommit=True) as pg:
        check(
            "9 PostgreSQL restarted mid-batch",
            (pg, sim, smtp, receiver),
            traffic,
            fault_table,
            started,
            note="a private server (initdb in a tmp dir): pg_ctl restart -m immediate once 10 "
            "events were accepted, with a worker's transaction open on cases or accounts",
        )


TRICKLE_SECONDS, TRICKLE_EVERY = 15.0, 0.5
EMAIL_BOUND_SECONDS = 30.0


def test_platform_endpoint_trickles(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    pg: psycopg.Connection,
    receiver: Receiver,
    fault_table: list[FaultRow],
) -> None:
    """M3: every attempt during the trickle ends at the 3 s deadline; with the in-flight cap (2)
    below the worker processes (3), the inbox keeps flowing and the relink emails go out."""
    started = time.monotonic()
    start(stack, sim, workers=3)
    with Traffic(sim, interval=TRAFFIC_EVERY) as traffic:
        receiver.trickle_every = TRICKLE_EVERY

        def trickle() -> None:
            window.append(time.time())
            receiver.script = lambda _n, _headers: "trickle"
            time.sleep(TRICKLE_SECONDS)
            receiver.script = lambda _n, _headers: "ok"
            window.append(time.time())

        window: list[float] = []

        during(3, trickle)
    row = check(
        f"10 platform endpoint trickles ({TRICKLE_SECONDS:.0f} s)",
        (pg, sim, smtp, receiver),
        traffic,
        fault_table,
        started,
        note="",
    )
    trickled = {d.webhook_id for d in receiver.received("trickle")}
    assert len(trickled) >= 3, "too few deliveries met the trickle"
    timeouts = pg.execute(
        "SELECT count(*), max(duration_ms) FROM platform_event_attempt WHERE error = 'timeout'"
    ).fetchone()
    assert timeouts is not None
    assert timeouts[0] >= len(trickled)
    assert timeouts[1] < 3000 + 1500, "an attempt outlived its wall-clock deadline"
    first_email = {}
    for message, at in zip(smtp.received(), smtp.received_at, strict=True):
        first_email.setdefault(str(message["To"]), at)
    latencies = {
        auth: first_email[email] - traffic.deactivated_at[auth]
        for auth, email in traffic.recipients.items()
    }
    in_window = {auth: window[0] <= at <= window[1] for auth, at in traffic.deactivated_at.items()}
    during_trickle = [v for auth, v in latencies.items() if in_window[auth]]
    outside = [v for auth, v in latencies.items() if not in_window[auth]]
    latency = max(latencies.values())
    row.note = (
        f"a 204 sent one byte every {TRICKLE_EVERY} s for {TRICKLE_SECONDS:.0f} s "
        f"({len(trickled)} deliveries met it, each attempt cut at the 3 s deadline, the longest "
        f"{timeouts[1] / 1000:.1f} s); 3 workers, in-flight cap 2; relink email after its "
        f"deactivation: median {median(during_trickle):.1f} s for those deactivated during the "
        f"trickle, {median(outside):.1f} s for the others, slowest {latency:.1f} s (bound "
        f"{EMAIL_BOUND_SECONDS:.0f} s)"
    )
    assert latency < EMAIL_BOUND_SECONDS, row.note


WORKER_PG_CUT_SECONDS = 10.0


def test_worker_postgresql_cut(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    pg: psycopg.Connection,
    pg_database: str,
    receiver: Receiver,
    fault_table: list[FaultRow],
) -> None:
    started = time.monotonic()
    database = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{pg_database}"
    restart_api(stack, DATABASE_URL=database)  # the api direct, the workers through `proxy`
    proxy = TcpProxy(PG_HOST, PG_PORT)
    stack.env["DATABASE_URL"] = database.replace(f":{PG_PORT}/", f":{proxy.port}/")
    start(stack, sim)
    restarted = 0
    try:
        with Traffic(sim, interval=TRAFFIC_EVERY) as traffic:

            def outage() -> None:
                nonlocal restarted
                proxy.cut()
                time.sleep(WORKER_PG_CUT_SECONDS)
                proxy.restore()
                time.sleep(2)
                restarted = restart_exited_workers(stack)

            during(3, outage)
        check(
            f"11 worker's PostgreSQL cut ({WORKER_PG_CUT_SECONDS:.0f} s)",
            (pg, sim, smtp, receiver),
            traffic,
            fault_table,
            started,
            note="a TCP proxy in front of PostgreSQL for the workers only (the api connects "
            f"directly), cut {WORKER_PG_CUT_SECONDS:.0f} s then restored; {restarted} worker(s) "
            "exited and were restarted",
        )
    finally:
        proxy.close()
