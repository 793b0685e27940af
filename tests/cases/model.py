"""A model checker for the cases core (worker/cases/core/): small worlds of one authorization
whose Stripe story is told first (deactivations, reactivations, disconnections, warnings,
relinks), then every ordering and duplication of its facts (the events, the page's relink
result, timers) delivered to `decide`, the Stripe reads it asks for answered from Stripe's
final state, and the invariants checked after every step and at the end.

The search is a depth-first walk over the multiset of facts (each value chosen once per
level, so every ordering is distinct and counted once); `decide` is pure, so a prefix's
state is shared by every ordering that starts with it.

    python -m tests.cases.model --facts 7 --duplicates 1    # the long run (README figures)
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from shared.cases.lifecycle import OPEN_CASE_STATES, EmailKind, OutboxStatus
from shared.events.header import EventHeader
from shared.stripe_objects import (
    AccountNumber,
    AccountSnapshot,
    AccountStatus,
    ActiveDetails,
    AuthorizationSnapshot,
    Holder,
)
from worker.cases.core import facts as f
from worker.cases.core.decide import decide
from worker.cases.core.effects import (
    ConfirmAccount,
    Effect,
    PublishReconcile,
    ReadAuthorization,
    RereadAccount,
    SendEmail,
)
from worker.cases.core.standing import is_broken, is_warned
from worker.cases.core.state import DAY, Account, AuthorizationState, Policy

AUTHORIZATION = "fcauth_model"
HOLDER = Holder("customer", "cus_model")
POLICY = Policy(quiet_period=60, reminder_delays=(3 * DAY,), reconcile_window=30)
START = 1_000_000  # Stripe's clock when the story starts; relink's deliveries come after it
FIRST_EMAILS = (EmailKind.RELINK, EmailKind.PROACTIVE)


@dataclass
class StripeAccount:
    status: str = AccountStatus.ACTIVE
    cause: str | None = None
    action: str | None = None
    active_action: str | None = None
    expected: int | None = None
    number_expiry: int | None = None

    def snapshot(self, account_id: str, index: int) -> AccountSnapshot:
        inactive = self.status == AccountStatus.INACTIVE
        return AccountSnapshot(
            id=account_id,
            status=self.status,
            authorization=AUTHORIZATION,
            holder=HOLDER,
            last4=f"{index:04d}",
            inactive_cause=self.cause if inactive else None,
            inactive_action=self.action if inactive else None,
            active=ActiveDetails(self.active_action, self.expected),
            number=AccountNumber("transactable", self.number_expiry),
            has_inactive_details=inactive,
            has_authorization_key=True,
        )


@dataclass(frozen=True)
class Timer:
    """A fact relink's clock brings: `due` (an email key), `sweep` or `link_expired`."""

    kind: str
    key: str = ""


@dataclass(frozen=True)
class Relinked:
    """The page read back a relink session's result."""

    result: str


Template = AccountSnapshot | Timer | Relinked  # with its header, for an event
Item = tuple[EventHeader | None, Template]


@dataclass
class World:
    """A story told to Stripe: `step` changes it and records the events; `facts` are what
    relink will be told, in any order."""

    n_accounts: int
    accounts: dict[str, StripeAccount] = field(default_factory=dict)
    facts: list[Item] = field(default_factory=list)
    clock: int = START

    def __post_init__(self) -> None:
        self.accounts = {f"fca_{i}": StripeAccount() for i in range(1, self.n_accounts + 1)}

    def _event(self, kind: str, account_id: str) -> None:
        index = list(self.accounts).index(account_id) + 1
        number = len(self.facts) + 1
        header = EventHeader(f"evt_{number:03d}", kind, self.clock, False, None, None)
        self.facts.append((header, self.accounts[account_id].snapshot(account_id, index)))

    def step(self, verb: str, target: int | None = None, arg: str = "") -> World:
        self.clock += 100
        chosen = [list(self.accounts)[target]] if target is not None else list(self.accounts)
        for account_id in chosen:
            account = self.accounts[account_id]
            if verb == "deactivate" and account.status == AccountStatus.ACTIVE:
                account.status, account.cause, account.action = "inactive", "access_expired", arg
                self._event(f.DEACTIVATED, account_id)
            elif verb in ("reactivate", "relink") and account.status == AccountStatus.INACTIVE:
                if verb == "relink" and account.action != "relink_required":
                    continue
                account.status, account.active_action, account.expected = "active", None, None
                self._event(f.REACTIVATED, account_id)
            elif verb == "disconnect" and account.status != AccountStatus.DISCONNECTED:
                account.status = AccountStatus.DISCONNECTED
                self._event(f.DISCONNECTED, account_id)
            elif verb == "warn" and account.status == AccountStatus.ACTIVE:
                account.active_action, account.expected = "relink_required", self.clock + 9 * DAY
                self._event(f.ACCOUNT_WARNINGS[0], account_id)
            elif verb == "tan" and account.status == AccountStatus.ACTIVE:
                account.number_expiry = self.clock + 9 * DAY
                self._event(f.ACCOUNT_WARNINGS[2], account_id)
        if verb == "relink":
            self.facts.append((None, Relinked("account" if arg == "success" else arg)))
        return self

    def timer(self, kind: str, key: str = "") -> World:
        self.facts.append((None, Timer(kind, key)))
        return self

    def live(self) -> tuple[AccountSnapshot, ...]:
        return tuple(a.snapshot(i, n) for n, (i, a) in enumerate(self.accounts.items(), 1))

    def initial(self) -> AuthorizationState:
        """What relink knew before the story: every account working (its `created` seen)."""
        fresh = [StripeAccount().snapshot(i, n) for n, i in enumerate(self.accounts, 1)]
        accounts = tuple(Account.of(s, START, "evt_000") for s in fresh)
        return AuthorizationState(AUTHORIZATION, accounts)


class InvariantBroken(AssertionError):
    pass


@dataclass
class Walk:
    """One world's search: the live answers, and the figures."""

    world: World
    live: dict[str, AccountSnapshot]
    orderings: int = 0
    steps: int = 0
    sent: Counter[str] = field(default_factory=Counter)

    @property
    def broken(self) -> bool:
        return any(is_broken(_account(s)) for s in self.live.values())

    @property
    def quiet(self) -> bool:
        """Stripe ends with every account working and none warned: nothing to email."""
        end = POLICY.horizon_end(START)
        return all(
            s.status == AccountStatus.ACTIVE and not is_warned(_account(s), end)
            for s in self.live.values()
        )


def _account(snapshot: AccountSnapshot) -> Account:
    return Account.of(snapshot, 0, "")


def deliver(
    walk: Walk, state: AuthorizationState, item: Item, clock: int
) -> tuple[AuthorizationState, int, list[Effect]]:
    """One step: the fact, then the Stripe reads it asks for, answered from the final state."""
    header, template = item
    clock += 1
    if isinstance(template, Timer):
        due = {"sweep": POLICY.stale_after + 1, "due": POLICY.quiet_period + 1}
        jump = POLICY.reminder_delays[0] + 1 if template.key.startswith("reminder") else 0
        clock += max(jump, due.get(template.kind, 0))
    fact = _fact(header, template, clock)
    done: list[Effect] = []
    pending: list[f.Fact] = [fact]
    while pending:
        decision = decide(state, pending.pop(0), POLICY)
        state = decision.state
        done.extend(decision.effects)
        pending.extend(a for e in decision.effects if (a := _answer(walk, e, clock)) is not None)
    return state, clock, done


def _fact(header: EventHeader | None, template: Template, now: int) -> f.Fact:
    if isinstance(template, AccountSnapshot):
        assert header is not None
        return f.AccountEvent(header, template, now)
    if isinstance(template, Relinked):
        return f.RelinkResult(template.result, now)
    if template.kind == "due":
        return f.EmailDue(template.key, now)
    return f.StaleSweep(now) if template.kind == "sweep" else f.LinkExpired(now)


def _answer(walk: Walk, effect: Effect, now: int) -> f.Fact | None:
    match effect:
        case ReadAuthorization(trigger):
            live = AuthorizationSnapshot(AUTHORIZATION, AccountStatus.ACTIVE, HOLDER)
            return f.AuthorizationRead(trigger, live, tuple(walk.live.values()), now)
        case PublishReconcile(trigger):
            return f.ReconcileDue(trigger, now)
        case RereadAccount(header, account):
            return f.AccountRead(header, walk.live[account], now)
        case ConfirmAccount(case, key, account):
            return f.EmailConfirmed(case, key, walk.live[account], now)
        case _:
            return None


def check_step(walk: Walk, state: AuthorizationState, effects: list[Effect]) -> None:
    ids = {a.id for a in state.accounts}
    for case in state.cases:
        firsts = [e for e in case.emails if e.kind in FIRST_EMAILS]
        if len(firsts) > 1:
            raise InvariantBroken(f"case {case.number} has {len(firsts)} first emails")
    if len([c for c in state.cases if c.state in OPEN_CASE_STATES]) > 1:
        raise InvariantBroken("two open cases")
    for effect in effects:
        if not isinstance(effect, SendEmail):
            continue
        walk.sent[effect.kind] += 1
        if walk.quiet:
            raise InvariantBroken(f"{effect.kind} sent for an authorization working again")
        if not effect.named or not set(effect.named) <= ids:
            raise InvariantBroken(f"{effect.kind} names {effect.named}, not its case's accounts")


def check_end(walk: Walk, state: AuthorizationState) -> None:
    for account_id, live in walk.live.items():
        mine = state.account(account_id)
        assert mine is not None
        if (mine.status, mine.inactive_action) != (live.status, live.inactive_action):
            raise InvariantBroken(f"{account_id} stored {mine.status}, Stripe has {live.status}")
    open_cases = [c for c in state.cases if c.state in OPEN_CASE_STATES]
    if walk.broken and len(open_cases) != 1:
        raise InvariantBroken("an account needs a relink and no case is open")
    if walk.quiet and open_cases:
        raise InvariantBroken("a case is open for an authorization that works")
    for case in state.cases:
        sent = [e for e in case.emails if e.status == OutboxStatus.SENT]
        if len([e for e in sent if e.kind in FIRST_EMAILS]) > 1:
            raise InvariantBroken(f"case {case.number} sent two first emails")


def orderings(world: World, duplicates: int) -> Iterator[Counter[int]]:
    """The multisets to order: every fact once, plus up to `duplicates` of them again."""
    n = len(world.facts)
    base: Counter[int] = Counter(range(n))
    yield base
    if duplicates >= 1:
        for i in range(n):
            yield base + Counter([i])
    if duplicates >= 2:
        for i in range(n):
            for j in range(i, n):
                yield base + Counter([i, j])


def explore(world: World, duplicates: int = 1) -> Walk:
    """Walk every ordering of every multiset; raise InvariantBroken with the sequence."""
    walk = Walk(world, {s.id: s for s in world.live()})
    for multiset in orderings(world, duplicates):
        _walk(walk, world.initial(), START + 1000, multiset, [])
    return walk


def _walk(
    walk: Walk, state: AuthorizationState, clock: int, left: Counter[int], path: list[int]
) -> None:
    if not +left:
        walk.orderings += 1
        try:
            check_end(walk, state)
        except InvariantBroken as exc:
            raise InvariantBroken(f"{exc} after {_describe(walk.world, path)}") from None
        return
    for index in sorted(i for i, n in left.items() if n > 0):
        after, now, effects = deliver(walk, state, walk.world.facts[index], clock)
        walk.steps += 1
        try:
            check_step(walk, after, effects)
        except InvariantBroken as exc:
            raise InvariantBroken(f"{exc} after {_describe(walk.world, [*path, index])}") from None
        _walk(walk, after, now, left - Counter([index]), [*path, index])


def _describe(world: World, path: list[int]) -> str:
    names = []
    for index in path:
        header, template = world.facts[index]
        if header is not None and isinstance(template, AccountSnapshot):
            names.append(f"{header.type.rsplit('.', 1)[-1]}({template.id}@{header.created})")
        else:
            names.append(repr(template))
    return " → ".join(names)


def worlds(max_facts: int) -> list[World]:
    """The small worlds, each with 2..max_facts facts (1-3 accounts)."""
    rr, none = "relink_required", "none"
    stories = [
        World(1).step("deactivate", arg=rr).step("reactivate").timer("due", "relink"),
        World(2).step("deactivate", arg=rr).step("reactivate").timer("sweep"),
        World(2).step("deactivate", arg=rr).step("relink", arg="success"),
        World(2).step("deactivate", arg=none).step("reactivate").timer("due", "unrepairable"),
        World(2).step("deactivate", 0, rr).step("disconnect", 0).timer("due", "relink"),
        World(3).step("deactivate", 0, rr).step("disconnect", 1).step("reactivate"),
        World(1).step("warn", 0).step("deactivate", arg=rr).timer("due", "relink"),
        World(2).step("tan", 0).step("deactivate", 1, rr).step("reactivate"),
        World(1).step("deactivate", arg=rr).timer("due", "relink").timer("due", "reminder-1"),
        World(2).step("deactivate", arg=rr).step("relink", arg="other").timer("link_expired"),
        World(3).step("deactivate", arg=rr).step("relink", arg="success").step("deactivate", 2, rr),
        World(2)
        .step("deactivate", 0, rr)
        .step("reactivate")
        .step("deactivate", 1, none)
        .timer("due", "relink"),
        World(1)
        .step("warn", 0)
        .step("deactivate", arg=rr)
        .step("reactivate")
        .timer("due", "relink"),
        World(2).step("deactivate", arg=rr).step("disconnect").timer("due", "unrepairable"),
    ]
    return [w for w in stories if 2 <= len(w.facts) <= max_facts]


def run(max_facts: int, duplicates: int) -> tuple[int, int, float]:
    """Explore every world; return (orderings, steps, seconds)."""
    started = time.perf_counter()
    total = steps = 0
    for world in worlds(max_facts):
        walk = explore(world, duplicates)
        total, steps = total + walk.orderings, steps + walk.steps
    return total, steps, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description="Model-check the cases core.")
    parser.add_argument("--facts", type=int, default=7, help="the largest world's facts")
    parser.add_argument("--duplicates", type=int, default=1, help="facts delivered twice")
    args = parser.parse_args()
    total, steps, seconds = run(args.facts, args.duplicates)
    print(f"{total:,} orderings, {steps:,} steps, {seconds:.1f} s, 0 invariants broken")


if __name__ == "__main__":
    main()
