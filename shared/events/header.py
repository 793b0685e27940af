"""A Stripe event's header: the few fields the receiver checks and records, and every
handler reads (no database here: the cases core takes it as it is)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from shared.errors import InvalidRequestError

MAX_ID_LENGTH = 255
# A `created` further than this from now is no Stripe event (and 2**63 would overflow the
# BIGINT column and fail the whole group-commit batch).
MAX_CLOCK_DISTANCE_SECONDS = 10 * 365 * 86400
THIN_EVENT_OBJECT = "v2.core.event"


class NotAnEvent(InvalidRequestError):
    """A payload that is not a Stripe event relink can record; the message names the field."""

    code = "not_an_event"


def _short_text(value: object, *, prefix: str = "") -> bool:
    """A non-empty printable string (PostgreSQL text cannot hold NUL) of a Stripe id's size."""
    return (
        isinstance(value, str)
        and value.startswith(prefix)
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.isprintable()
    )


def iso_seconds(value: object) -> int | None:
    """A thin event's `created` (ISO 8601, `2026-12-02T08:00:00.000Z`) as Unix seconds."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return int(moment.timestamp()) if moment.tzinfo is not None else None


def _json_object(value: object) -> dict[str, Any] | None:
    """`value` if it is a decoded JSON object (isinstance leaves its types unknown)."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def _related_object(value: object) -> bool:
    found = _json_object(value)
    return found is not None and all(_short_text(found.get(key)) for key in ("id", "type", "url"))


@dataclass(frozen=True)
class EventHeader:
    """The few fields of an event the receiver reads; the rest stays in `payload`."""

    id: str
    type: str
    created: int
    livemode: bool
    api_version: str | None
    account: str | None

    @classmethod
    def from_event(cls, event: object, *, now: float) -> EventHeader:
        """The header of a decoded event, or NotAnEvent naming every field that is wrong."""
        event = _json_object(event) or {}
        if event.get("object") != "event":
            raise NotAnEvent("the body is not a Stripe event object")
        created = event.get("created")
        data = event.get("data")
        checks = {
            "id": _short_text(event.get("id"), prefix="evt_"),
            "type": _short_text(event.get("type")),
            "created": isinstance(created, int)
            and not isinstance(created, bool)
            and abs(created - now) <= MAX_CLOCK_DISTANCE_SECONDS,
            "livemode": isinstance(event.get("livemode"), bool),
            "api_version": event.get("api_version") is None
            or _short_text(event.get("api_version")),
            "account": event.get("account") is None or _short_text(event.get("account")),
            "data.object": isinstance((_json_object(data) or {}).get("object"), dict),
        }
        if bad := [name for name, ok in checks.items() if not ok]:
            raise NotAnEvent(f"the event lacks a valid {', '.join(bad)}")
        return cls(
            id=event["id"],
            type=event["type"],
            created=event["created"],
            livemode=event["livemode"],
            api_version=event.get("api_version"),
            account=event.get("account"),
        )

    @classmethod
    def from_thin_event(
        cls, event: dict[str, Any], *, now: float, handled: frozenset[str]
    ) -> EventHeader:
        """The header of a decoded thin event (`v2.core.event`): unversioned, its `created`
        an ISO time, `context` the connected account (one `acct_` segment, or null), and
        for a `handled` type the `related_object` to fetch; NotAnEvent names every field
        that is wrong."""
        created = iso_seconds(event.get("created"))
        context, related = event.get("context"), event.get("related_object")
        checks = {
            "id": _short_text(event.get("id"), prefix="evt_"),
            "type": _short_text(event.get("type")),
            "created": created is not None and abs(created - now) <= MAX_CLOCK_DISTANCE_SECONDS,
            "livemode": isinstance(event.get("livemode"), bool),
            "context": context is None
            or (_short_text(context, prefix="acct_") and "/" not in context),
            "related_object": _related_object(related)
            if event.get("type") in handled
            else related is None or isinstance(related, dict),
        }
        if bad := [name for name, ok in checks.items() if not ok]:
            raise NotAnEvent(f"the thin event lacks a valid {', '.join(bad)}")
        return cls(
            id=event["id"],
            type=event["type"],
            created=created or 0,
            livemode=event["livemode"],
            api_version=None,
            account=context,
        )
