"""When the money at stake is read: a case opened by a deactivation (after the quiet period,
so its sibling accounts are known), a proactive case that breaks; not a deactivation that
joins a case already read."""

from __future__ import annotations

from typing import Any

import pytest

from shared import queue
from shared.db import session_scope
from shared.events.catalog import ASSESS_MONEY_AT_STAKE
from shared.models import CaseState, RelinkCase
from tests.payments.conftest import configure
from worker.cases.core.classification import classify_deactivation
from worker.cases.service import open_or_join_case
from worker.money.service import assess

Published = list[tuple[str, list[Any]]]


def assessed(published: Published) -> list[list[Any]]:
    return [args for name, args in published if name == ASSESS_MONEY_AT_STAKE]


def deactivate(authorization_id: str, account_id: str) -> int:
    with session_scope() as session:
        case, _ = open_or_join_case(
            session,
            authorization_id=authorization_id,
            account_id=account_id,
            deactivation=classify_deactivation("access_expired", "relink_required"),
        )
        assert case.id is not None
        return case.id


def test_a_new_case_is_read_once_its_siblings_joined(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, quiet_period_seconds="45")
    published: list[tuple[str, list[Any], float | None]] = []
    monkeypatch.setattr(
        queue,
        "publish",
        lambda name, args, countdown=None: published.append((name, args, countdown)),
    )
    case_id = deactivate("fcauth_1", "fca_1")
    assert [(a, c) for n, a, c in published if n == ASSESS_MONEY_AT_STAKE] == [([case_id], 45)]
    assert deactivate("fcauth_1", "fca_2") == case_id  # a sibling joins: not read again
    assert len([n for n, _, _ in published if n == ASSESS_MONEY_AT_STAKE]) == 1


def test_a_proactive_case_that_breaks_is_read(db: None, published: Published) -> None:
    with session_scope() as session:
        case = RelinkCase(authorization_id="fcauth_p", state=CaseState.PROACTIVE)
        session.add(case)
        session.flush()
        case_id = case.id
    assert deactivate("fcauth_p", "fca_p") == case_id
    assert assessed(published) == [[case_id]]


def test_nothing_is_read_with_money_at_stake_off(
    db: None, published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, money_at_stake="false")
    case_id = deactivate("fcauth_off", "fca_off")
    assert assessed(published) == []
    assert assess(case_id) is None  # a message queued before: nothing read (no Stripe client)
