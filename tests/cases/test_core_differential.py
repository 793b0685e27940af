"""The cases core against the real shell: sampled stories of one authorization in the
simulator (deactivations, warnings, relinks, disconnections), their events delivered in a
random order with one duplicated, once through process_event (tests/cases/world.py) on SQLite
and on PostgreSQL (the shell's row locks and SQL differ there) and once through the core's
`decide`, the Stripe reads it asks for answered by the simulator. Both must end with the same
accounts, the same cases (state, resolution) and the same email rows per case."""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import col, select

from shared.db import get_engine, session_scope
from shared.events.header import EventHeader
from shared.models import EmailOutbox, FcAccount, RelinkCase
from shared.settings import get_settings
from shared.stripe_client import make_stripe_client, retrieve_account, retrieve_authorization
from shared.stripe_objects import AccountSnapshot, AuthorizationSnapshot
from sim.client import SimControlError
from sim.testing import SimServer
from tests.cases.test_reactivation_properties import _sim_account, act, empty_database
from tests.cases.world import Authorization, events_of, feed, new_authorization
from tests.integration.conftest import PG_HOST, PG_PORT, migrated_database
from worker.cases import reconcile
from worker.cases.core import facts as f
from worker.cases.core.decide import decide
from worker.cases.core.effects import ReadAuthorization, RereadAccount
from worker.cases.core.state import RELINK, AuthorizationState, Policy, Trigger

EXAMPLES = int(os.environ.get("RELINK_DIFFERENTIAL_EXAMPLES", "40"))
POLICY = Policy(quiet_period=0)  # as the simulated world (QUIET_PERIOD_SECONDS=0)
STEPS = (
    ("deactivate_authorization", "relink_required"),
    ("deactivate_authorization", "none"),
    ("deactivate_account", 0),
    ("deactivate_account", 1),
    ("disconnect", 0),
    ("disconnect", 1),
    ("relink", "success"),
    ("relink", "other"),
    ("deactivate_account", 2),
)
WARNINGS = (("warn", 0), ("tan", 1), ("warn_authorization", 0))
STEPS += WARNINGS
Item = dict[str, Any] | str  # an event, or "reconcile" for the page's task after a relink
# The accounts' (status, inactive action), and each case's (state, resolution, email keys).
Answer = tuple[dict[str, tuple[str, str | None]], list[tuple[str, str | None, list[str]]]]


def tell(sim: SimServer, auth: Authorization, rng: random.Random) -> list[Item]:
    """A random story told to the simulator; the events and page tasks it makes."""
    items: list[Item] = []
    kind = rng.choice(("broken first", "any", "warnings"))
    if kind == "warnings":
        story = rng.sample(WARNINGS, 2)
    else:
        start = [("deactivate_authorization", "relink_required")] if kind == "broken first" else []
        story = [*start, *rng.sample(STEPS, 4)]
    for verb, arg in story:
        account = auth.accounts[int(arg) % len(auth.accounts)] if isinstance(arg, int) else ""
        working = bool(account) and _sim_account(sim, account)["status"] == "active"
        if verb == "warn" and working:
            sim.client.mark_upcoming_deactivation(account)
        elif verb == "tan" and working:
            sim.client.mark_account_number_expiry(account)
        elif verb == "warn_authorization":
            with contextlib.suppress(SimControlError):  # only an active one can be warned
                sim.client.mark_authorization_upcoming_deactivation(auth.id)
        elif verb not in ("warn", "tan") and act(sim, auth, (verb, arg)):
            items.append("reconcile")
    return [*events_of(sim, auth), *items]


def shell_answer(auth: Authorization, delivery: list[Item]) -> Answer:
    for item in delivery:
        if isinstance(item, str):
            reconcile.run_reconciliation(auth.id, reconcile.RELINK)
        else:
            assert feed(item) in ("processed", "ignored")
    with session_scope() as session:
        accounts = {
            a.id: (a.status, a.inactive_action) for a in session.exec(select(FcAccount)).all()
        }
        cases = []
        for case in session.exec(select(RelinkCase).order_by(col(RelinkCase.id))).all():
            rows = session.exec(select(EmailOutbox).where(EmailOutbox.case_id == case.id)).all()
            keys = sorted(r.message_id.rsplit("-", 1)[-1] for r in rows)
            cases.append((case.state, case.resolution, keys))
    return accounts, cases


def core_answer(auth: Authorization, delivery: list[Item]) -> Answer:
    client = make_stripe_client()
    live = {a: AccountSnapshot.parse(retrieve_account(client, a)) for a in auth.accounts}
    authorization = AuthorizationSnapshot.parse(retrieve_authorization(client, auth.id))
    state = AuthorizationState(auth.id)
    for item in delivery:
        now = int(time.time())
        if isinstance(item, str):
            pending: list[f.Fact] = [f.ReconcileDue(Trigger(RELINK), now)]
        else:
            header = EventHeader(item["id"], item["type"], item["created"], False, None, None)
            payload = item["data"]["object"]
            if payload["object"] == "financial_connections.authorization":
                warning = AuthorizationSnapshot.parse(payload)
                pending = [f.AuthorizationEvent(header, warning, now)]
            else:
                pending = [f.AccountEvent(header, AccountSnapshot.parse(payload), now)]
        while pending:
            decision = decide(state, pending.pop(0), POLICY)
            state = decision.state
            for effect in decision.effects:
                if isinstance(effect, ReadAuthorization):
                    read = (*live.values(),)
                    pending.append(f.AuthorizationRead(effect.trigger, authorization, read, now))
                elif isinstance(effect, RereadAccount):
                    pending.append(f.AccountRead(effect.header, live[effect.account], now))
    accounts = {a.id: (str(a.status), a.inactive_action) for a in state.accounts}
    cases = [(str(c.state), c.resolution, sorted(e.key for e in c.emails)) for c in state.cases]
    return accounts, cases


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def shell_database(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The shell's database: this test's SQLite (the `db` fixture) or a migrated PostgreSQL
    database of its own (an unreachable server fails the test)."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    for name in migrated_database("relink_differential"):
        monkeypatch.setenv(
            "DATABASE_URL", f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
        )
        get_settings.cache_clear()
        get_engine.cache_clear()
        yield "postgresql"
        get_engine().dispose()
        get_engine.cache_clear()


def test_the_core_decides_as_the_shell_on_sampled_orderings(
    sim: SimServer, shell_database: str
) -> None:
    assert get_engine().dialect.name == shell_database
    ends: set[str] = set()
    for seed in range(EXAMPLES):
        rng = random.Random(seed)
        empty_database()
        auth = new_authorization(sim, n_accounts=rng.randint(1, 3))
        items = tell(sim, auth, rng)
        delivery = [*items, rng.choice(items)]
        rng.shuffle(delivery)
        shell = shell_answer(auth, delivery)
        order = [i if isinstance(i, str) else (i["type"], i["id"]) for i in delivery]
        assert core_answer(auth, delivery) == shell, (seed, order)
        ends.update(state for state, _, _ in shell[1])
    assert {"open", "proactive", "resolved", "unrepairable"} <= ends  # each ending is reached
