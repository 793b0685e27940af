"""The platform-webhook half of the fault suite's count: what the receiver accepted (each
delivery verified with the `standardwebhooks` library) against what the traffic must cause and
what relink wrote to its `platform_event` outbox.

What relink guarantees (docs/platform-webhooks.md), and so what is asserted:
- at least once: a webhook-id may arrive more than once (a *duplicate delivery*, counted, not
  failed), always with the same body;
- exactly one webhook-id per logical event: two ids for one case's `opened`, one account's
  change to `inactive`, or one (case, sequence) are a *duplicate event*, and fail;
- nothing lost: every expected event and every row written arrives, and every row ends
  `delivered`;
- `data.sequence` numbers one case's (one account's) events from 1 without gaps: a gap fails;
- no arrival order: each event is delivered on its own, with its own retries, and receivers
  order by `data.sequence`; a key whose arrivals went backwards is counted as out of order,
  not failed."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tests.platform_webhooks.receiver import Receiver

CASE_OPENED = "relink.case.opened"
REMINDER_DUE = "relink.case.reminder_due"
STATUS_CHANGED = "relink.account.status_changed"

Identity = tuple[str, str]  # (type, authorization) or (type, "account:status")


def identity(payload: Mapping[str, Any]) -> Identity:
    """The logical event a payload is: at most one webhook-id each (times its multiplicity)."""
    data = payload["data"]
    if payload["type"] == STATUS_CHANGED:
        return STATUS_CHANGED, f"{data['account']['id']}:{data['account']['status']}"
    return str(payload["type"]), str(data["case"]["authorization"])


def sequence_key(payload: Mapping[str, Any]) -> str:
    data = payload["data"]
    if payload["type"] == STATUS_CHANGED:
        return f"account:{data['account']['id']}"
    return f"case:{data['case']['id']}"


def expected_events(accounts: Mapping[str, list[str]], reminders: int) -> Counter[Identity]:
    """Per deactivated authorization: its case opened, `reminders` reminders due, and each
    of its accounts seen inactive."""
    expected: Counter[Identity] = Counter()
    for authorization, account_ids in accounts.items():
        expected[CASE_OPENED, authorization] += 1
        if reminders:
            expected[REMINDER_DUE, authorization] += reminders
        for account in account_ids:
            expected[STATUS_CHANGED, f"{account}:inactive"] += 1
    return expected


@dataclass
class WebhookCount:
    expected: int = 0
    written: int = 0
    delivered: int = 0  # distinct webhook-ids accepted
    duplicate_deliveries: int = 0  # a webhook-id accepted again (at least once allows it)
    duplicate_events: int = 0  # a second webhook-id for one logical event
    lost: int = 0
    gaps: int = 0  # sequence keys whose numbers are not 1..n
    out_of_order: int = 0  # sequence keys whose arrivals went backwards
    problems: list[str] = field(default_factory=list)


def outbox(pg: psycopg.Connection) -> list[tuple[str, str, str]]:
    """(webhook_id, status, payload) of every row relink wrote."""
    rows = pg.execute("SELECT webhook_id, status, payload FROM platform_event").fetchall()
    return [(str(webhook_id), str(status), str(payload)) for webhook_id, status, payload in rows]


def drained(pg: psycopg.Connection, receiver: Receiver, expected: Counter[Identity]) -> bool:
    rows = outbox(pg)
    received = {d.webhook_id: d for d in receiver.received()}
    got = Counter(identity(json.loads(d.body)) for d in received.values())
    return (
        all(status == "delivered" and webhook_id in received for webhook_id, status, _ in rows)
        and not expected - got
    )


def count(pg: psycopg.Connection, receiver: Receiver, expected: Counter[Identity]) -> WebhookCount:
    """Count (and list the problems of) what the receiver got; call once drained."""
    result = WebhookCount(expected=sum(expected.values()))
    rows = outbox(pg)
    result.written = len(rows)
    accepted = receiver.received()  # in arrival order; each one verified
    first: dict[str, dict[str, Any]] = {}  # webhook-id -> payload, at its first acceptance
    bodies: defaultdict[str, set[bytes]] = defaultdict(set)
    for delivery in receiver.received(None):
        bodies[delivery.webhook_id].add(delivery.body)
    for delivery in accepted:
        payload = delivery.verified(receiver.secret)
        first.setdefault(delivery.webhook_id, payload)
    result.delivered = len(first)
    result.duplicate_deliveries = len(accepted) - len(first)
    result.problems += [
        f"{key}: {len(sent)} bodies" for key, sent in bodies.items() if len(sent) > 1
    ]
    result.problems += [
        f"{d.webhook_id}: answered {d.answer}" for d in receiver.received("bad_signature")
    ]

    got = Counter(identity(payload) for payload in first.values())
    numbered = Counter((sequence_key(p), p["data"]["sequence"]) for p in first.values())
    result.duplicate_events = sum(n for key, n in (got - expected).items() if key in expected)
    result.duplicate_events += sum(n - 1 for n in numbered.values())
    result.problems += [f"unexpected {key} x{n}" for key, n in got.items() if key not in expected]
    written = {webhook_id: identity(json.loads(payload)) for webhook_id, _, payload in rows}
    result.lost = sum((expected - got).values()) + sum(
        1 for webhook_id, key in written.items() if webhook_id not in first and key not in expected
    )
    result.problems += [
        f"{webhook_id} {status}" for webhook_id, status, _ in rows if status != "delivered"
    ]
    result.problems += [f"{webhook_id} never written" for webhook_id in first.keys() - written]

    arrivals: defaultdict[str, list[int]] = defaultdict(list)
    for payload in first.values():  # dicts keep insertion (first arrival) order
        arrivals[sequence_key(payload)].append(int(payload["data"]["sequence"]))
    for sequences in arrivals.values():
        if sorted(set(sequences)) != list(range(1, max(sequences) + 1)):
            result.gaps += 1
        if sequences != sorted(sequences):
            result.out_of_order += 1
    return result
