"""Creating Stripe events (frozen at the endpoint's API version), their thin twins, and
listing them."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sim import objects
from sim.errors import invalid, parameters_exclusive
from sim.ids import now, sortable_id
from sim.pagination import paginate
from sim.state import Account, Authorization, Event, SimState

THIN_TWINNED = "financial_connections.account."
"""Stripe publishes these snapshot types also as thin `v1.<type>` events (stripe-python has
a notification class for each); `financial_connections.authorization.*` has none."""


def event_version(state: SimState) -> str:
    """Stripe renders with the endpoint's version, or the account default without one (the
    Connect endpoint's for the events of connected accounts)."""
    endpoint = state.connect_webhook if state.stripe_account else state.webhook
    return endpoint.api_version if endpoint else state.default_api_version


def emit(
    state: SimState,
    type: str,
    object_id: str,
    render: Callable[[str], dict[str, Any]],
) -> Event:
    """Record one event of the account acting now (`state.acting_as`) and hand it to the
    delivery hooks. Call with the lock held."""
    version = event_version(state)
    account = state.stripe_account or None
    event = Event(
        id=sortable_id("evt"),
        type=type,
        created=now(),
        api_version=version,
        object_id=object_id,
        account=account,
        thin_id=sortable_id("evt") if type.startswith(THIN_TWINNED) else None,
        body={},
    )
    pending = 1 if state.endpoint_for(event) else 0
    event.pending_webhooks = pending
    event.body = {
        "id": "",
        "object": "event",
        **({"account": account} if account else {}),
        "api_version": version,
        "created": 0,
        "data": {"object": render(version)},
        "livemode": False,
        "pending_webhooks": pending,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }
    event.body["id"] = event.id
    event.body["created"] = event.created
    state.events[event.id] = event
    if event.thin_id is not None:
        state.thin_events[event.thin_id] = event.id
    for hook in state.on_events:
        hook([event])
    return event


def thin_notification(event: Event) -> dict[str, Any]:
    """What a thin event destination receives: unversioned, the related object by reference,
    `context` the connected account (null for the platform's own)."""
    created = datetime.fromtimestamp(event.created, UTC)
    return {
        "id": event.thin_id,
        "object": "v2.core.event",
        "type": "v1." + event.type,
        "created": created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z",
        "livemode": False,
        "context": event.account,
        "reason": None,
        "related_object": {
            "id": event.object_id,
            "type": "financial_connections.account",
            "url": f"{objects.ACCOUNTS_URL}/{event.object_id}",
        },
    }


def thin_event(event: Event) -> dict[str, Any]:
    """`GET /v2/core/events/{id}`: the notification plus the id of its snapshot twin."""
    return {**thin_notification(event), "changes": None, "snapshot_event": event.id}


def emit_account(state: SimState, type: str, account: Account) -> Event:
    return emit(state, type, account.id, lambda version: objects.account(account, version))


def emit_authorization(state: SimState, type: str, record: Authorization) -> Event:
    return emit(state, type, record.id, lambda version: objects.authorization(record, version))


def _created_filter(value: Any) -> Callable[[int], bool]:
    if isinstance(value, str):
        try:
            exact = int(value)
        except ValueError:
            raise invalid(
                "Invalid integer: " + value, "created", "parameter_invalid_integer"
            ) from None
        return lambda created: created == exact
    if not isinstance(value, dict):
        raise invalid("Invalid created", "created")
    checks: list[Callable[[int], bool]] = []
    ops: dict[str, Callable[[int, int], bool]] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    for key, raw in value.items():
        if key not in ops:
            raise invalid(
                f"Received unknown parameter: created[{key}]",
                f"created[{key}]",
                "parameter_unknown",
            )
        try:
            bound = int(raw)
        except (TypeError, ValueError):
            raise invalid(
                f"Invalid integer: {raw}", f"created[{key}]", "parameter_invalid_integer"
            ) from None
        op = ops[key]
        checks.append(lambda created, op=op, bound=bound: op(created, bound))
    return lambda created: all(check(created) for check in checks)


def list_events(state: SimState, params: dict[str, Any]) -> dict[str, Any]:
    """`GET /v1/events`: `type` (with `*`), `types[]`, `created`, `delivery_success`."""
    if "type" in params and "types" in params:
        raise parameters_exclusive("type", "types")
    predicates: list[Callable[[Event], bool]] = []
    if "type" in params:
        pattern = str(params["type"])
        predicates.append(lambda e: fnmatch.fnmatchcase(e.type, pattern))
    if "types" in params:
        types = params["types"]
        if not isinstance(types, list) or not types:
            raise invalid("Invalid array", "types")
        if len(types) > 20:
            raise invalid("types may contain at most 20 entries", "types")
        predicates.append(lambda e: e.type in types)
    if "created" in params:
        check = _created_filter(params["created"])
        predicates.append(lambda e: check(e.created))
    if "delivery_success" in params:
        wanted = str(params["delivery_success"])
        if wanted not in ("true", "false"):
            raise invalid("Invalid boolean: " + wanted, "delivery_success")
        ok = wanted == "true"
        predicates.append(lambda e: (e.pending_webhooks == 0 and not e.failed) == ok)
    predicates.append(lambda e: e.account == (state.stripe_account or None))
    matching = [e for e in state.events.values() if all(p(e) for p in predicates)]
    return paginate(matching, params, "/v1/events", objects.event, lambda e: e.id, "event")
