"""`relink demo` from a fresh directory, right after the README's first command: the scripted
story runs to its end and what it narrates is what happened (files, link, states)."""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.integration.stack import free_port
from tests.test_docs import quick_start_commands

RELINK_VARIABLES = ("DATABASE_URL", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRETS", "LINK_SIGNING_KEYS")


def test_the_readme_first_command_then_relink_demo_tells_the_whole_story(tmp_path: Path) -> None:
    # The README's first command installs the project in a venv and starts `relink dev`;
    # this venv is that install, so its `relink` script is the one the README runs.
    assert quick_start_commands()[0] == (
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/relink dev"
    )
    relink = Path(sys.executable).parent / "relink"
    env = {k: v for k, v in os.environ.items() if k not in RELINK_VARIABLES}
    port, sim_port = free_port(), free_port()
    done = subprocess.run(
        [str(relink), "demo", "--fast", "--port", str(port), "--sim-port", str(sim_port)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    demo_dir = tmp_path / "var" / "demo"
    log = (demo_dir / "demo.log").read_text() if (demo_dir / "demo.log").exists() else ""
    assert done.returncode == 0, done.stdout + done.stderr + log
    out = done.stdout
    steps = [line for line in out.splitlines() if re.match(r"\[\s*\d+\.\ds \+\s*\d+\.\ds\] ", line)]
    assert len(steps) == 15, out
    assert "3 account.deactivated webhooks" in out
    [ada_email] = re.findall(r"one email written for all 3 accounts: (\S+\.eml)", out)
    [link] = re.findall(r"link: (http://127\.0\.0\.1:\d+/relink/\S+)", out)
    message = email.message_from_bytes(Path(ada_email).read_bytes(), policy=email.policy.default)
    assert message["To"] == "ada@example.com"
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert link in body
    assert all(last4 in body for last4 in ("6789", "4321", "1111"))
    assert "the page says: Your bank is reconnected" in out
    for last4 in ("6789", "4321", "1111"):
        assert f"…{last4} active" in out
    [grace_email] = re.findall(r"one email written: (\S+\.eml)", out)
    grace = email.message_from_bytes(Path(grace_email).read_bytes(), policy=email.policy.default)
    assert grace["To"] == "grace@example.com"
    assert "/relink/" not in grace.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    engine = create_engine(f"sqlite:///{demo_dir / 'var' / 'relink.db'}")
    with engine.connect() as db:
        cases = db.execute(
            text("SELECT state, resolution, emails_sent FROM relink_case ORDER BY id")
        )
        rows = [tuple(row) for row in cases]
        relink_emails = db.execute(
            text("SELECT count(*) FROM email_outbox WHERE kind = 'relink'")
        ).scalar_one()
    engine.dispose()
    assert [row[0] for row in rows] == ["resolved", "unrepairable"]
    assert rows[0][1] == "reactivated"
    assert relink_emails == 1  # one email for the three accounts
    assert "the end: 2 cases, 1 repaired, 1 unrepairable" in out
    for used in (port, sim_port):  # every process the demo started has stopped
        with socket.socket() as sock:  # a port in TIME_WAIT binds; a listening one does not
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", used))
