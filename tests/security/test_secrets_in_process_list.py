"""A command line is readable by every user of the machine (`ps`, /proc/PID/cmdline): `relink
dev` hands the simulator its webhook secret in the environment, never as an argument."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import fake_dev, relink
from tests.integration.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_dev_puts_no_secret_on_a_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_dev(monkeypatch) as run:
        result = relink("dev")
    assert result.exit_code == 0, result.output
    secret = Path("var/dev-webhook-secret").read_text()
    link_key = Path("var/dev-link-signing-key").read_text()
    assert len(run.started) == 2  # the simulator and the worker
    for started in run.started:
        assert not any(secret in arg or link_key in arg for arg in started.args), started.args
    sim = run.child("sim")
    assert sim.env is not None
    assert sim.env["SIM_WEBHOOK_SECRET"] == secret


def test_the_simulator_signs_with_the_secret_from_its_environment(tmp_path: Path) -> None:
    env = {**os.environ, "SIM_WEBHOOK_SECRET": "whsec_from_the_environment"}
    args = [sys.executable, "-m", "sim", "--port", str(free_port()), "--rate-limit", "0"]
    with subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as sim:
        assert sim.stdout is not None
        try:
            announced = [sim.stdout.readline().strip() for _ in range(4)]
        finally:
            sim.terminate()
    assert "STRIPE_WEBHOOK_SECRET=whsec_from_the_environment" in announced
