"""M4: what stdlib loggers print is scrubbed like structlog's events: uvicorn's "Exception in
ASGI application" traceback and Celery's task-failure trace (an SQLAlchemy IntegrityError whose
`[parameters: …]` hold an email address and a `whsec_…`), and query-string secrets in
uvicorn's access log (`?api_key=rlk_…`)."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from celery import Celery
from celery.app.trace import build_tracer
from celery.utils.log import ColorFormatter

from shared.logging import configure_logging
from tests.security.failing_app import EMAIL, WEBHOOK_SECRET, violate_unique_constraint
from tests.security.test_log_redaction import free_port

ROOT = Path(__file__).resolve().parents[2]
KEY_SECRET = "S" * 43
API_KEY = f"rlk_0123456789ab_{KEY_SECRET}"  # relink's format: the part after the prefix is secret
SECRETS = (EMAIL, WEBHOOK_SECRET, KEY_SECRET, "ada.lovelace")


def assert_scrubbed(output: str) -> None:
    for secret in SECRETS:
        assert secret not in output, secret
    assert "IntegrityError" in output  # the traceback is there…
    assert "[parameters: [redacted]]" in output  # …with SQLAlchemy's parameter line blanked


def test_uvicorns_traceback_and_access_log_hold_no_secret(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path}/relink.db",
        "STRIPE_WEBHOOK_SECRETS": "whsec_test",
        "STRIPE_API_KEY": "sk_test_x",
        "LINK_SIGNING_KEYS": "unit-test-link-key",
    }
    app = "tests.security.failing_app:create_app"  # uvicorn's defaults: its access log on
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--factory", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("uvicorn did not start")
                time.sleep(0.1)
        assert requests.get(f"{base}/boom?api_key={API_KEY}", timeout=10).status_code == 500
        query = f"api_key={API_KEY}&email={EMAIL.replace('@', '%40')}&page=2"
        assert requests.get(f"{base}/healthz?{query}", timeout=10).status_code == 200
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert "Exception in ASGI application" in output
    assert_scrubbed(output)
    # the access log lines are there, their secrets replaced
    assert "GET /boom?api_key=[redacted] HTTP/1.1" in output
    assert "GET /healthz?api_key=[redacted]&email=[email]&page=2 HTTP/1.1" in output


@pytest.fixture
def celery_log() -> Iterator[io.StringIO]:
    """What a Celery worker's handler (its ColorFormatter, on the root logger, where the
    `celery.*` loggers propagate) prints, after relink's logging set-up."""
    configure_logging()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ColorFormatter("[%(levelname)s/%(processName)s] %(message)s", False))
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def test_celerys_task_failure_trace_holds_no_secret(celery_log: io.StringIO) -> None:
    app = Celery("redaction", broker="memory://", set_as_current=False)

    @app.task(name="relink.test_fails")
    def fails(email: str) -> None:
        violate_unique_constraint()

    trace = build_tracer(fails.name, fails, app=app, eager=False, propagate=False)
    trace("task-id-1", [EMAIL], {}, {"id": "task-id-1", "args": [EMAIL], "kwargs": {}})

    output = celery_log.getvalue()
    assert "Task relink.test_fails[task-id-1] raised unexpected: IntegrityError" in output
    assert "Traceback (most recent call last)" in output
    assert_scrubbed(output)


def test_every_stdlib_record_is_scrubbed_whatever_its_logger(celery_log: io.StringIO) -> None:
    """Not only the loggers relink knows by name: a library's own, with the secret in its
    arguments, its message or its exception."""
    library = logging.getLogger("some.library")
    library.warning("retrying %s with %r", f"https://x/?token={KEY_SECRET}", {"to": EMAIL})
    library.warning(f"contact {EMAIL} changed")
    library.warning("GET /x?api_key=%s took %.1f ms", KEY_SECRET, 2.0)  # only joined a secret
    library.warning("%d%% of %s sent", 50, "the batch")  # nothing to scrub: formats as ever
    try:
        violate_unique_constraint()
    except Exception:
        library.exception("insert failed")
    output = celery_log.getvalue()
    assert "retrying https://x/?token=[redacted] with {'to': '[email]'}" in output
    assert "contact [email] changed" in output
    assert "GET /x?api_key=[redacted] took 2.0 ms" in output
    assert "50% of the batch sent" in output
    assert_scrubbed(output)
