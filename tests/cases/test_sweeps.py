"""The stale-case sweep: open cases not heard of for a while are claimed in bounded batches,
oldest first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.db import session_scope, utcnow
from shared.events.catalog import ASSESS_MONEY_AT_STAKE, RECONCILE_AUTHORIZATION
from shared.models import RelinkCase
from shared.settings import get_settings
from worker.cases import sweeps, tasks


def test_stale_cases_are_claimed_oldest_first_in_bounded_batches(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STALE_CASE_BATCH_SIZE", "2")
    get_settings.cache_clear()
    now = utcnow()
    with session_scope() as session:
        for n, state in enumerate(["open", "proactive", "no_contact", "resolved", "open"]):
            session.add(
                RelinkCase(
                    authorization_id=f"fcauth_{n}",
                    state=state,
                    last_heard_at=now - timedelta(days=1, minutes=n),
                )
            )
        session.add(RelinkCase(authorization_id="fcauth_fresh", last_heard_at=now))
    with session_scope() as session:
        first = sweeps.claim_stale_cases(session, now=now)
    with session_scope() as session:
        second = sweeps.claim_stale_cases(session, now=now)
    with session_scope() as session:
        third = sweeps.claim_stale_cases(session, now=now)
    assert first == [("", "fcauth_2"), ("", "fcauth_4")]
    assert second == [("", "fcauth_0"), ("", "fcauth_1")]
    assert third == []


def test_the_sweep_reconciles_each_stale_case_on_its_stripe_account(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONEY_AT_STAKE", "true")
    get_settings.cache_clear()
    published: list[tuple[str, list[Any]]] = []
    monkeypatch.setattr(tasks, "publish", lambda name, args, **_: published.append((name, args)))
    stale = utcnow() - timedelta(days=1)
    with session_scope() as session:
        for account in ("", "acct_A", "acct_B"):  # the same authorization id on each
            session.add(
                RelinkCase(
                    authorization_id="fcauth_same", stripe_account=account, last_heard_at=stale
                )
            )
    assert tasks.sweep_stale_cases() == 3
    assert sorted(args for name, args in published if name == RECONCILE_AUTHORIZATION) == [
        ["fcauth_same", "sweep", ""],
        ["fcauth_same", "sweep", "acct_A"],
        ["fcauth_same", "sweep", "acct_B"],
    ]
    # each still broken: its money at stake is read again
    assert sorted(args for name, args in published if name == ASSESS_MONEY_AT_STAKE) == [
        [1],
        [2],
        [3],
    ]
