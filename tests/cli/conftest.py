"""CLI fixtures: commands driven through typer's CliRunner, an inbox and cases with known
contents, and `relink dev` with its processes faked."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from cli.main import cli
from shared.db import session_scope, utcnow
from shared.models import (
    CaseState,
    EmailKind,
    EmailOutbox,
    EventStatus,
    FcAccount,
    FcAuthorization,
    OutboxStatus,
    RelinkAttempt,
    RelinkCase,
    WebhookEvent,
)
from shared.settings import get_settings

runner = CliRunner()
DEACTIVATED = "financial_connections.account.deactivated"
REACTIVATED = "financial_connections.account.reactivated"


def relink(*args: str) -> Any:
    return runner.invoke(cli, list(args))


def add_event(
    event_id: str,
    status: str = EventStatus.PROCESSED,
    type_: str = DEACTIVATED,
    *,
    age_minutes: int = 0,
    payload: str | None = "default",
    last_error: str | None = None,
) -> None:
    received = utcnow() - timedelta(minutes=age_minutes)
    with session_scope() as session:
        session.add(
            WebhookEvent(
                id=event_id,
                type=type_,
                livemode=False,
                created=1_767_225_600,
                payload=json.dumps({"id": event_id, "object": "event"})
                if payload == "default"
                else payload,
                status=status,
                attempts=3 if status == EventStatus.DEAD else 1,
                last_error=last_error,
                received_at=received,
                processed_at=received if status != EventStatus.RECEIVED else None,
            )
        )


def stored(event_id: str) -> WebhookEvent:
    with session_scope() as session:
        row = session.get(WebhookEvent, event_id)
        assert row is not None
        return row


@pytest.fixture
def inbox(db: None) -> None:
    add_event("evt_dead_1", EventStatus.DEAD, age_minutes=30, last_error="APIError: boom")
    add_event("evt_dead_2", EventStatus.DEAD, age_minutes=20, last_error="APIError: boom")
    add_event("evt_done", EventStatus.PROCESSED, age_minutes=10)
    add_event("evt_reactivated", EventStatus.PROCESSED, REACTIVATED, age_minutes=5)
    add_event("evt_other", EventStatus.IGNORED, "customer.created", age_minutes=1)


ADDRESS = "ada.lovelace@example.com"


def add_case(
    case_id: int,
    authorization: str,
    *,
    state: str = CaseState.OPEN,
    institution: str = "StripeBank",
    age_minutes: int = 0,
) -> None:
    opened = utcnow() - timedelta(minutes=age_minutes)
    with session_scope() as session:
        session.add(FcAuthorization(id=authorization, institution_name=institution))
        for n in (1, 2):
            session.add(
                FcAccount(
                    id=f"fca_{authorization}_{n}",
                    authorization_id=authorization,
                    institution_name=institution,
                    display_name=f"Account {n}",
                    last4=f"000{n}",
                    status="inactive",
                    inactive_cause="access_expired",
                    inactive_action="relink_required",
                )
            )
        resolved = state == CaseState.RESOLVED
        session.add(
            RelinkCase(
                id=case_id,
                authorization_id=authorization,
                account_id=f"fca_{authorization}_1",
                state=state,
                cause="access_expired",
                action="relink_required",
                opened_at=opened,
                last_heard_at=opened,
                resolved_at=utcnow() if resolved else None,
                resolution="reactivated" if resolved else None,
            )
        )


@pytest.fixture
def cases(db: None) -> None:
    add_case(1, "fcauth_a", age_minutes=60)
    add_case(2, "fcauth_b", institution="Other Bank", age_minutes=30)
    add_case(3, "fcauth_c", state=CaseState.RESOLVED, age_minutes=10)
    start = utcnow() - timedelta(minutes=60)
    add_event(
        "evt_a_deactivated",
        payload=json.dumps({"data": {"object": {"id": "fca_fcauth_a_1"}}}),
        age_minutes=59,
    )
    add_event("evt_b", payload=json.dumps({"data": {"object": {"id": "fca_fcauth_b_1"}}}))
    with session_scope() as session:
        session.add(
            EmailOutbox(
                case_id=1,
                kind=EmailKind.RELINK,
                recipient=ADDRESS,
                status=OutboxStatus.SENT,
                attempts=1,
                message_id="relink-case-1-relink",
                send_after=start + timedelta(minutes=2),
                sent_at=start + timedelta(minutes=3),
            )
        )
        session.add(
            EmailOutbox(
                case_id=1,
                kind=EmailKind.REMINDER,
                message_id="relink-case-1-reminder-1",
                send_after=start + timedelta(days=3),
            )
        )
        session.add(
            RelinkAttempt(
                case_id=1,
                session_id="fcsess_first",
                mode="account",
                result="no_account",
                created_at=start + timedelta(minutes=10),
            )
        )


# What `relink dev` reads from the environment, unset so that it makes its own.
DEV_VARIABLES = (
    "DATABASE_URL",
    "STRIPE_API_KEY",
    "STRIPE_WEBHOOK_SECRETS",
    "LINK_SIGNING_KEYS",
    "PUBLIC_BASE_URL",
)


@dataclass
class Started:
    """A process `relink dev` started: its command line and the environment it was given."""

    args: list[str]
    env: dict[str, str] | None


@dataclass
class Served:
    """A uvicorn.run call: its arguments and the environment the API would read."""

    kwargs: dict[str, Any]
    env: dict[str, str]


@dataclass
class DevRun:
    started: list[Started] = field(default_factory=list)
    served: list[Served] = field(default_factory=list)

    def child(self, module: str) -> Started:
        return next(s for s in self.started if s.args[1:3] == ["-m", module])


@contextmanager
def fake_dev(monkeypatch: pytest.MonkeyPatch) -> Iterator[DevRun]:
    """`relink dev` (really migrating its SQLite database) with the simulator, the worker and
    uvicorn recorded instead of run; the environment and umask it changes are put back."""
    run = DevRun()

    class Process:
        def __init__(self, args: list[str], env: dict[str, str] | None = None, **_: Any) -> None:
            run.started.append(Started(list(args), env))

        def terminate(self) -> None:
            pass

        def wait(self, timeout: float | None = None) -> int:
            return 0

    def serve(*_args: Any, **kwargs: Any) -> None:
        run.served.append(Served(kwargs, dict(os.environ)))

    monkeypatch.setattr(subprocess, "Popen", Process)
    monkeypatch.setattr(uvicorn, "run", serve)
    for name in DEV_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    saved = dict(os.environ)
    umask = os.umask(0o022)
    os.umask(umask)
    get_settings.cache_clear()
    try:
        yield run
    finally:
        os.environ.clear()
        os.environ.update(saved)
        os.umask(umask)
        get_settings.cache_clear()


@pytest.fixture
def dev_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[DevRun]:
    with fake_dev(monkeypatch) as run:
        yield run
