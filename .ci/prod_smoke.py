"""Production-install smoke test: run with the python of a venv that holds only the runtime lock
(`requirements/runtime.txt` + `pip install --no-deps -e .`), or, for `embedded`, a plain
`pip install -e .`. No dev package is importable there, so this file uses only the stdlib and
relink's runtime dependencies.

    python .ci/prod_smoke.py stack redis   # relink migrate, uvicorn, celery worker, celery beat
    python .ci/prod_smoke.py stack amqp    # the same on RabbitMQ (limits in Redis)
    python .ci/prod_smoke.py embedded      # relink dev

Each posts one signed deactivation webhook (the simulator signs and delivers it) and fails
unless the worker processes it within a few seconds, with no `enqueue_failed` in the api's log
(so the redrive sweep, which would hide a broken publish, cannot be what processed it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import redis
import requests

from sim.client import SimClient
from sim.testing import run_sim_server

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
WEBHOOK_SECRET = "whsec_prod_smoke_secret"
PROCESS_WITHIN_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took; raises SystemExit when `check` is still false after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        with contextlib.suppress(Exception):
            if check():
                return time.monotonic() - start
        time.sleep(0.1)
    raise SystemExit(f"FAIL: timed out after {timeout}s waiting for {what}")


class Processes:
    """Child processes in their own sessions, each logging to a file; all stopped on exit."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            child = subprocess.Popen(
                list(args), cwd=self.log_dir, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.children.append(child)
        return child

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def check_alive(self) -> None:
        for child in self.children:
            if child.poll() is not None:
                raise SystemExit(f"FAIL: {child.args} exited with {child.returncode}")

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)

    def dump(self) -> None:
        for path in sorted(self.log_dir.glob("*.log")):
            print(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")


@contextlib.contextmanager
def processes(env: dict[str, str]) -> Iterator[Processes]:
    with tempfile.TemporaryDirectory(prefix="relink-smoke-") as tmp:
        running = Processes(env, Path(tmp))
        try:
            yield running
        except BaseException:
            running.dump()
            raise
        finally:
            running.stop()


@contextlib.contextmanager
def database(name: str) -> Iterator[str]:
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def rabbitmq_vhost(name: str) -> Iterator[str]:
    def ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, timeout=60)
    ctl("add_vhost", name)
    ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    finally:
        ctl("delete_vhost", name)


def deactivate_one(sim_client: SimClient) -> None:
    """A customer with one account whose authorization Stripe deactivates: one webhook."""
    customer = sim_client.create_customer("ada@example.com")
    authorization = sim_client.create_authorization(
        {"type": "customer", "customer": customer["id"]},
        accounts=[{"last4": "6789", "subcategory": "checking"}],
    )
    sim_client.deactivate_authorization(authorization["id"])


def smoke_stack(broker: str) -> None:
    """The production processes by their documented commands (docs/operating.md)."""
    redis_url = "redis://127.0.0.1:6379/12"
    redis.Redis.from_url(redis_url).flushdb()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        database(f"relink_smoke_{broker}") as database_url,
        contextlib.ExitStack() as stack,
        run_sim_server(webhook_secret=WEBHOOK_SECRET, rate_limit_per_second=0) as sim,
    ):
        broker_url = (
            redis_url if broker == "redis" else stack.enter_context(rabbitmq_vhost("relink_smoke"))
        )
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "RATE_LIMIT_REDIS_URL": redis_url,
            "STRIPE_API_KEY": sim.api_key,
            "STRIPE_API_BASE": sim.base_url,
            "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET,
            "STRIPE_PUBLISHABLE_KEY": "pk_test_sim",
            "LINK_SIGNING_KEYS": "prod-smoke-link-signing-key-0123456789",
            "PUBLIC_BASE_URL": base,
            "EMAIL_FROM": "relink <relink@example.com>",
            "QUIET_PERIOD_SECONDS": "1",
        }
        with processes(env) as procs:
            migrate = subprocess.run(
                [str(BIN / "relink"), "migrate"], env=env, capture_output=True, text=True
            )
            if migrate.returncode:
                raise SystemExit(f"FAIL: relink migrate\n{migrate.stdout}{migrate.stderr}")
            procs.start(
                "api", str(BIN / "uvicorn"), "api.app:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(port), "--http", "httptools",
                "--limit-concurrency", "200", "--backlog", "1024", "--timeout-keep-alive", "5",
                "--no-access-log",
            )  # fmt: skip
            procs.start("worker", str(BIN / "celery"), "-A", "worker", "worker", "-l", "INFO")
            procs.start("beat", str(BIN / "celery"), "-A", "worker", "beat", "-l", "INFO")
            wait_until(lambda: requests.get(f"{base}/readyz", timeout=1).ok, 30, "the api")
            wait_until(lambda: "ready." in procs.log("worker"), 60, "the worker")
            wait_until(lambda: "beat: Starting" in procs.log("beat"), 30, "beat")
            procs.check_alive()
            sim.client.configure_webhooks(f"{base}/webhooks/stripe", WEBHOOK_SECRET)
            deactivate_one(sim.client)
            plain_url = database_url.replace("+psycopg", "")

            inbox: list[tuple[str, str]] = []

            def processed() -> bool:
                with psycopg.connect(plain_url) as conn:
                    inbox[:] = conn.execute("SELECT type, status FROM webhook_event").fetchall()
                return ("financial_connections.account.deactivated", "processed") in inbox

            try:
                took = wait_until(processed, PROCESS_WITHIN_S, "the worker to process the event")
            finally:
                print(f"inbox (type, status): {inbox}")
            procs.check_alive()
            if "enqueue_failed" in procs.log("api"):
                raise SystemExit("FAIL: the api logged enqueue_failed")
            print(f"ok: {broker}: the deactivation was processed {took:.1f}s after it was sent")


def smoke_embedded() -> None:
    """`relink dev` as the README's first command runs it: a deactivation becomes an email."""
    port, sim_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_"))}
    env["QUIET_PERIOD_SECONDS"] = "1"
    with processes(env) as procs:
        procs.start(
            "dev", str(BIN / "relink"), "dev", "--port", str(port), "--sim-port", str(sim_port)
        )
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: requests.get(f"{base}/readyz", timeout=1).ok, 90, "relink dev")
        deactivate_one(SimClient(f"http://127.0.0.1:{sim_port}"))
        outbox = procs.log_dir / "var" / "outbox"
        took = wait_until(lambda: any(outbox.glob("*.eml")), 30, "the email file")
        procs.check_alive()
        print(f"ok: embedded: relink dev wrote the email {took:.1f}s after the deactivation")


def main() -> None:
    for module in ("pytest", "hypothesis", "fakeredis"):
        with contextlib.suppress(ImportError):
            __import__(module)
            raise SystemExit(f"FAIL: {module} is importable: this is not a runtime-only install")
    match sys.argv[1:]:
        case ["stack", ("redis" | "amqp") as broker]:
            smoke_stack(broker)
        case ["embedded"]:
            smoke_embedded()
        case _:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
