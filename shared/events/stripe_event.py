"""What relink's handlers need of a Stripe event beside its object (the object is parsed into
shared/stripe_objects.py's snapshots): its id and its Stripe time, parsed once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EventRef:
    id: str
    created: int  # Stripe time: orders an object's snapshots

    @classmethod
    def of(cls, event: dict[str, Any]) -> EventRef:
        return cls(str(event["id"]), int(event["created"]))
