"""Fault injection with events flowing: a background thread keeps deactivating fresh
authorizations through the simulator while one piece of relink's infrastructure fails
underneath it. Afterwards every accepted event is processed exactly once in effect, every due
email is sent exactly once, no case is in a wrong state, and every platform webhook the traffic
causes reached the receiver, as tests/faults/webhooks.py spells out."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable

import psycopg

from sim.client import SimClient
from sim.testing import SimServer
from tests.faults import webhooks
from tests.faults.conftest import REMINDERS, FaultRow
from tests.integration.smtp import SmtpSink
from tests.integration.stack import RedisServer, Stack, TcpProxy, wait_until
from tests.platform_webhooks.receiver import Receiver

DEACTIVATED = "financial_connections.account.deactivated"
ACCOUNTS_PER_AUTHORIZATION = 2
EMAILS_PER_CASE = 1 + REMINDERS  # the relink email, then the reminders (seconds apart here)


class Traffic:
    """Deactivates a fresh authorization (own customer and address, two accounts) every
    `interval` seconds until stopped; remembers each authorization's recipient and accounts."""

    def __init__(self, sim: SimServer, interval: float = 0.4) -> None:
        self.client = SimClient(sim.base_url)
        self.interval = interval
        self.recipients: dict[str, str] = {}  # authorization id -> email
        self.accounts: dict[str, list[str]] = {}  # authorization id -> its account ids
        self.deactivated_at: dict[str, float] = {}  # authorization id -> time.time()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-traffic", daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            email = f"holder{n:04d}-{time.monotonic_ns()}@example.com"
            try:
                customer = self.client.create_customer(email)["id"]
                auth = self.client.create_authorization(
                    {"type": "customer", "customer": customer},
                    institution="First Platypus Bank",
                    n_accounts=ACCOUNTS_PER_AUTHORIZATION,
                )
                self.client.deactivate_authorization(str(auth["id"]))
                self.deactivated_at[str(auth["id"])] = time.time()
                self.recipients[str(auth["id"])] = email
                self.accounts[str(auth["id"])] = [str(a) for a in auth["accounts"]]
            except Exception as exc:  # the control plane is never faulted; note and go on
                self.errors.append(repr(exc))
            self._stop.wait(self.interval)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.client.close()


def start(stack: Stack, sim: SimServer, workers: int = 2) -> None:
    stack.env["QUIET_PERIOD_SECONDS"] = "1"
    stack.env["EMAIL_SWEEP_EVERY_SECONDS"] = "1"
    # Stripe retries for days; here a little over a minute, so a down api gets redelivered.
    sim.client.configure_delivery(retry=[0.5, 1, 2, 4, 8, 16, 32])
    stack.start_worker()
    for _ in range(workers - 1):
        stack.start_worker(beat=False)


def sim_deactivations(sim: SimServer) -> set[str]:
    with sim.state.lock:
        return {e.id for e in sim.state.events.values() if e.type == DEACTIVATED}


def drained(
    pg: psycopg.Connection, sim: SimServer, smtp: SmtpSink, traffic: Traffic, receiver: Receiver
) -> bool:
    expected = sim_deactivations(sim)
    processed = {
        row[0]
        for row in pg.execute(
            "SELECT id FROM webhook_event WHERE status = 'processed' AND type = %s",
            (DEACTIVATED,),
        ).fetchall()
    }
    got = Counter(str(m["To"]) for m in smtp.received())
    return (
        expected <= processed
        and all(got[email] >= EMAILS_PER_CASE for email in traffic.recipients.values())
        and webhooks.drained(pg, receiver, webhooks.expected_events(traffic.accounts, REMINDERS))
    )


def check(
    fault: str,
    world: tuple[psycopg.Connection, SimServer, SmtpSink, Receiver],
    traffic: Traffic,
    table: list[FaultRow],
    started: float,
    note: str = "",
    timeout: float = 150,
) -> FaultRow:
    """Wait for the backlog to drain, then count: the row goes in the table, then asserts."""
    pg, sim, smtp, receiver = world
    with contextlib.suppress(AssertionError):
        wait_until(
            lambda: drained(pg, sim, smtp, traffic, receiver), timeout, "the backlog to drain"
        )
    time.sleep(3)  # a duplicate email, case or webhook would show up by now
    expected = sim_deactivations(sim)
    events = dict(
        pg.execute(
            "SELECT id, status FROM webhook_event WHERE type = %s", (DEACTIVATED,)
        ).fetchall()
    )
    processed = {evt for evt, status in events.items() if status == "processed"}
    messages = smtp.received()
    per_recipient = Counter(str(m["To"]) for m in messages)
    message_ids = Counter(str(m["Message-ID"]) for m in messages)
    due = traffic.recipients
    cases_per_auth = Counter(
        row[0] for row in pg.execute("SELECT authorization_id FROM relink_case").fetchall()
    )
    outbox_per_case = Counter(
        row[0]
        for row in pg.execute("SELECT case_id FROM email_outbox WHERE kind = 'relink'").fetchall()
    )
    accounts = pg.execute("SELECT status, count(*) FROM fc_account GROUP BY status").fetchall()
    wrong_cases = pg.execute(
        "SELECT id, state, emails_sent FROM relink_case WHERE state <> 'open' OR emails_sent <> %s",
        (EMAILS_PER_CASE,),
    ).fetchall()
    wrong_outbox = pg.execute(
        "SELECT id, kind, status, attempts, last_error FROM email_outbox WHERE status <> 'sent' "
        "AND (kind = 'relink' OR send_after <= now())"  # later reminders may wait
    ).fetchall()
    duplicates = (
        sum(
            max(0, n - EMAILS_PER_CASE)
            for email, n in per_recipient.items()
            if email in due.values()
        )
        + sum(count - 1 for count in message_ids.values())
        + sum(count - 1 for count in cases_per_auth.values())
        + sum(count - 1 for count in outbox_per_case.values())
    )
    lost = len(expected - processed) + sum(
        max(0, EMAILS_PER_CASE - per_recipient[email]) for email in due.values()
    )
    inactive = sum(count for status, count in accounts if status == "inactive")
    wrong = len(wrong_cases) + len(wrong_outbox) + (len(expected) - inactive)
    hooks = webhooks.count(pg, receiver, webhooks.expected_events(traffic.accounts, REMINDERS))
    row = FaultRow(
        fault=fault,
        accepted=len(events),
        processed=len(processed),
        emails_due=len(due) * EMAILS_PER_CASE,
        sent=sum(per_recipient[email] for email in due.values()),
        duplicates=duplicates,
        lost=lost,
        wrong_state=wrong,
        webhooks_expected=hooks.expected,
        webhooks_delivered=hooks.delivered,
        duplicate_deliveries=hooks.duplicate_deliveries,
        duplicate_events=hooks.duplicate_events,
        webhooks_lost=hooks.lost,
        gaps=hooks.gaps,
        out_of_order=hooks.out_of_order,
        seconds=time.monotonic() - started,
        note=note,
    )
    table.append(row)
    assert traffic.errors == []
    assert len(due) >= 5, "too little traffic flowed during the fault"
    assert len(events) == len(expected), "an event the simulator sent never reached the inbox"
    assert (row.duplicates, row.lost) == (0, 0), (row, wrong_cases, wrong_outbox)
    assert wrong_cases == [], wrong_cases
    assert wrong_outbox == [], wrong_outbox
    assert len(cases_per_auth) == len(due)
    assert inactive == len(expected) == len(due) * ACCOUNTS_PER_AUTHORIZATION
    # Platform webhooks: at least once (a duplicate delivery is allowed, a duplicate event is
    # not), nothing lost, sequences gapless; arrival order is not promised (receivers order
    # by data.sequence), so out_of_order is counted, not asserted.
    assert (hooks.duplicate_events, hooks.lost, hooks.gaps) == (0, 0, 0), hooks
    assert hooks.problems == [], hooks.problems
    assert hooks.delivered == hooks.written == hooks.expected, hooks
    return row


def during(traffic_seconds_before: float, fault: Callable[[], None]) -> None:
    time.sleep(traffic_seconds_before)
    fault()
    time.sleep(2)  # traffic keeps flowing after the fault too


def test_worker_sigkilled_mid_task(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    pg: psycopg.Connection,
    receiver: Receiver,
    fault_table: list[FaultRow],
) -> None:
    started = time.monotonic()
    stack.env["EMAIL_CLAIM_TIMEOUT_SECONDS"] = "5"  # a killed worker's claim is stale soon
    start(stack, sim)
    with Traffic(sim) as traffic:

        def kill() -> None:
            # Slow Stripe down so send_email sits inside its Stripe call with the outbox row
            # claimed, then SIGKILL every worker: each dies mid-task.
            sim.client.set_faults(slow_s=1.5)
            wait_until(
                lambda: (
                    pg.execute(
                        "SELECT count(*) FROM email_outbox WHERE status = 'sending'"
                    ).fetchone()[0]  # type: ignore[index]
                    > 0
                ),
                30,
                "a worker mid-send",
            )
            for worker in list(stack.workers):
                stack.kill_worker(worker)
            sim.client.set_faults()
            time.sleep(2)
            stack.start_worker()
            stack.start_worker(beat=False)

        during(3, kill)
    check(
        "1 worker SIGKILLed mid-task",
        (pg, sim, smtp, receiver),
        traffic,
        fault_table,
        started,
        note="both solo workers killed while an outbox row was claimed; two new ones started",
    )


def test_redis_restarted(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    pg: psycopg.Connection,
    redis_server: RedisServer,
    receiver: Receiver,
    fault_table: list[FaultRow],
) -> None:
    started = time.monotonic()
    start(stack, sim)
    with Traffic(sim) as traffic:

        def restart() -> None:
            redis_server.stop()
            time.sleep(5)
            redis_server.start()  # empty: every queued task is gone
            time.sleep(3)
            # Celery 5.7 workers can exit on the lost connection (AttributeError: 'NoneType'
            # object has no attribute 'hostname'); compose restarts them, so does this test.
            for worker in list(stack.workers):
                if worker.poll() is not None:
                    exited.append(worker.pid)
                    stack.workers.remove(worker)
                    stack.start_worker(beat=worker is first)

        exited: list[int] = []
        first = stack.workers[0]
        during(3, restart)
    check(
        "2 Redis restarted (5 s, data lost)",
        (pg, sim, smtp, receiver),
        traffic,
        fault_table,
        started,
        note="the private redis-server, no persistence: the queue is emptied; "
        f"{len(exited)} worker(s) exited on the lost connection and were restarted",
    )


def test_postgresql_unreachable(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    pg: psycopg.Connection,
    pg_proxy: TcpProxy,
    receiver: Receiver,
    fault_table: list[FaultRow],
) -> None:
    started = time.monotonic()
    start(stack, sim)
    with Traffic(sim) as traffic:

        def outage() -> None:
            pg_proxy.cut()
            time.sleep(5)
            pg_proxy.restore()

        during(3, outage)
    check(
        "3 PostgreSQL down (5 s)",
        (pg, sim, smtp, receiver),
        traffic,
        fault_table,
        started,
        note="the TCP proxy cut and restored (every connection dropped, new ones refused); "
        "the machine's real PostgreSQL is not restarted, other tests share it",
    )


SMTP_DOWN_SECONDS = float(os.environ.get("RELINK_FAULT_SMTP_DOWN_SECONDS", "60"))


def test_smtp_down(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    pg: psycopg.Connection,
    receiver: Receiver,
    fault_table: list[FaultRow],
) -> None:
    started = time.monotonic()
    start(stack, sim)
    with Traffic(sim, interval=1.0) as traffic:

        def outage() -> None:
            smtp.stop()
            time.sleep(SMTP_DOWN_SECONDS)
            smtp.start()

        during(3, outage)
    check(
        f"4 SMTP sink down ({SMTP_DOWN_SECONDS:.0f} s)",
        (pg, sim, smtp, receiver),
        traffic,
        fault_table,
        started,
        timeout=240,
    )


def test_stripe_errors_and_timeouts(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    pg: psycopg.Connection,
    receiver: Receiver,
    fault_table: list[FaultRow],
) -> None:
    started = time.monotonic()
    start(stack, sim)
    with Traffic(sim, interval=0.6) as traffic:

        def outage() -> None:
            sim.client.set_faults(error_rate=1.0, drop_rate=0.3, slow_s=1.0)
            time.sleep(30)
            sim.client.set_faults()

        during(3, outage)
    check(
        "5 Stripe 500s/timeouts (30 s)",
        (pg, sim, smtp, receiver),
        traffic,
        fault_table,
        started,
        note="every /v1 call slowed 1 s, then 30 % dropped connections, the rest 500",
        timeout=240,
    )


def test_api_killed_between_commit_and_enqueue(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    pg: psycopg.Connection,
    receiver: Receiver,
    fault_table: list[FaultRow],
) -> None:
    started = time.monotonic()
    start(stack, sim)
    with Traffic(sim, interval=0.2) as traffic:

        def kill() -> None:
            for _ in range(3):
                assert stack.api is not None
                os.killpg(stack.api.pid, signal.SIGKILL)
                stack.api.wait(timeout=10)
                time.sleep(1)
                stack.start_api()
                time.sleep(1.5)

        during(3, kill)
    check(
        "6 api SIGKILLed x3 under deliveries",
        (pg, sim, smtp, receiver),
        traffic,
        fault_table,
        started,
        note="uvicorn killed three times with deliveries in flight and restarted; the "
        "simulator redelivers, the redrive queues what was committed but not published",
    )


PLATFORM_REFUSED_SECONDS, PLATFORM_503_SECONDS = 8.0, 8.0


def test_platform_endpoint_down(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    pg: psycopg.Connection,
    receiver: Receiver,
    fault_table: list[FaultRow],
) -> None:
    """The platform's endpoint refuses connections, then answers 503, then is back: every
    event arrives, without gaps, each retry with the same webhook-id and body."""
    started = time.monotonic()
    start(stack, sim)
    with Traffic(sim) as traffic:

        def outage() -> None:
            receiver.stop()  # connection refused
            time.sleep(PLATFORM_REFUSED_SECONDS)
            receiver.script = lambda _n, _headers: "503"
            receiver.start()  # the same port
            time.sleep(PLATFORM_503_SECONDS)
            receiver.script = lambda _n, _headers: "ok"

        during(3, outage)
    check(
        f"7 platform endpoint down ({PLATFORM_REFUSED_SECONDS + PLATFORM_503_SECONDS:.0f} s)",
        (pg, sim, smtp, receiver),
        traffic,
        fault_table,
        started,
        note=f"the receiver refused connections for {PLATFORM_REFUSED_SECONDS:.0f} s, then "
        f"answered 503 for {PLATFORM_503_SECONDS:.0f} s; retries 0.5 s doubling to 4 s, jittered",
    )
    answers: dict[str, list[str]] = {}
    for delivery in receiver.received(None):
        answers.setdefault(delivery.webhook_id, []).append(delivery.answer)
        delivery.verified(receiver.secret)  # a 503'd attempt was signed properly too
    retried = {webhook_id for webhook_id, got in answers.items() if "503" in got}
    assert len(retried) >= 5, "too few deliveries met the 503s"
    for webhook_id, got in answers.items():  # 503s, then accepted: never a 503 after a 204
        assert "ok" in got, (webhook_id, got)
        assert set(got[got.index("ok") :]) == {"ok"}, (webhook_id, got)
    refused = pg.execute(
        "SELECT count(DISTINCT event_id) FROM platform_event_attempt WHERE status_code IS NULL "
        "AND error = 'ConnectionError'"
    ).fetchone()
    assert refused is not None
    assert refused[0] >= 3, "too few deliveries met the refusals"
    attempts = dict(
        pg.execute(
            "SELECT e.webhook_id, count(a.id) FROM platform_event e "
            "JOIN platform_event_attempt a ON a.event_id = e.id GROUP BY e.webhook_id"
        ).fetchall()
    )
    for webhook_id, got in answers.items():  # every request the receiver saw was an attempt
        assert attempts[webhook_id] >= len(got), (webhook_id, attempts[webhook_id], got)
