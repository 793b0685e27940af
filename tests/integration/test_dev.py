"""The README's first command: `relink dev` runs the whole story on the embedded default
(SQLite, a file broker, a worker beside the API, emails as files, the bundled simulator)."""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import requests

from sim.client import SimClient
from tests.integration.stack import free_port, wait_until

RELINK_VARIABLES = ("DATABASE_URL", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRETS", "LINK_SIGNING_KEYS")


def test_relink_dev_turns_a_deactivation_into_an_email_file(tmp_path: Path) -> None:
    port, sim_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in RELINK_VARIABLES}
    env["QUIET_PERIOD_SECONDS"] = "1"
    relink = [sys.executable, "-c", "from cli.main import main; main()"]
    with open(tmp_path / "dev.log", "wb") as log:
        process = subprocess.Popen(
            [*relink, "dev", "--port", str(port), "--sim-port", str(sim_port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: requests.get(f"{base}/readyz", timeout=1).ok, 60, "relink dev")
        sim = SimClient(f"http://127.0.0.1:{sim_port}")
        customer = sim.create_customer("ada@example.com")
        authorization = sim.create_authorization(
            {"type": "customer", "customer": customer["id"]},
            institution="StripeBank",
            accounts=[{"last4": "6789", "subcategory": "checking"}],
        )
        sim.deactivate_authorization(authorization["id"])
        outbox = tmp_path / "var" / "outbox"
        wait_until(lambda: any(outbox.glob("*.eml")), 60, "the email file")
        [eml] = outbox.glob("*.eml")
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert message["To"] == "ada@example.com"
        assert "6789" in text
        assert f"{base}/relink/" in text
        output = (tmp_path / "dev.log").read_text()
        assert f"{base}/webhooks/stripe" in output
        assert "whsec_" in output
        for name in ("dev-webhook-secret", "dev-link-signing-key", "relink.db"):
            assert stat.S_IMODE((tmp_path / "var" / name).stat().st_mode) == 0o600, name
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def children_of(pid: int) -> list[int]:
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_sigterm_to_relink_dev_stops_the_simulator_and_the_worker(tmp_path: Path) -> None:
    """L11: uvicorn re-raised the SIGTERM under the default handler; the children lived on."""
    port, sim_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in RELINK_VARIABLES}
    relink = [sys.executable, "-c", "from cli.main import main; main()"]
    process = subprocess.Popen(
        [*relink, "dev", "--port", str(port), "--sim-port", str(sim_port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).ok, 60, "relink dev"
        )
        children = children_of(process.pid)
        assert len(children) == 2  # the simulator, the worker with beat
        process.send_signal(signal.SIGTERM)  # to relink dev alone, as a supervisor sends it
        assert process.wait(timeout=30) != 0
        wait_until(lambda: not any(alive(child) for child in children), 15, "children gone")
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the group
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
