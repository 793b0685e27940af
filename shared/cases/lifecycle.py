"""The words of a case's lifecycle: its states, how it may end, its emails' kinds and
statuses (every outbox's: shared/delivery.py's vocabulary). Plain enums (no database): the
tables store them (shared/models.py) and the cases core (worker/cases/core/) decides with
them."""

from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    OPEN = "open"
    PROACTIVE = "proactive"
    NO_CONTACT = "no_contact"
    UNREPAIRABLE = "unrepairable"
    RESOLVED = "resolved"


OPEN_CASE_STATES = (CaseState.OPEN, CaseState.PROACTIVE, CaseState.NO_CONTACT)
# A case that ended with its bank link working: reactivated, or replaced by a new account.
REPAIRED_RESOLUTIONS = ("reactivated", "sweep", "replaced")


class EmailKind(StrEnum):
    RELINK = "relink"
    REMINDER = "reminder"
    UNREPAIRABLE = "unrepairable"
    FRESH_LINK = "fresh_link"
    RECONNECTED = "reconnected"
    PROACTIVE = "proactive"  # "reconnect before <date>": the first email of a proactive case


class DeliveryStatus(StrEnum):
    """Every outbox row's status, as stored. The first three are the lifecycle all share."""

    PENDING = "pending"  # due at the outbox's due time (emails: also a row given back)
    SENDING = "sending"  # claimed by one worker (claimed_at); claimable again once stale
    FAILED = "failed"  # retries or the retry window ran out, or refused for good
    SENT = "sent"  # email: handed to SMTP (or to the platform, DELIVERY=webhook)
    CANCELLED = "cancelled"  # email: the case resolved (or reactivated) first
    NO_CONTACT = "no_contact"  # email: no address on file, nothing sent
    DELIVERED = "delivered"  # platform event: the endpoint answered 2xx
    HELD = "held"  # platform event: the endpoint disabled, or an earlier one of its key held
    SWITCHED = "switched"  # payment switch: every write done
    NOTHING_TO_SWITCH = "nothing_to_switch"  # payment switch: no customer to switch


# The email outbox's statuses are the delivery toolkit's (pending, sending, sent, cancelled,
# no_contact, failed); the name stays for the cases domain, which cancels pending rows.
OutboxStatus = DeliveryStatus


def resolution_step(resolution: str, payment_method_id: str | None) -> str | None:
    """The funnel step a case's resolution is: its accounts back (relinked), closed without a
    repair (gave up), or none (a proactive warning cleared; a saved new account is counted
    where it is saved)."""
    if payment_method_id is not None or resolution == "warning_cleared":
        return None
    return "relinked" if resolution in REPAIRED_RESOLUTIONS else "gave_up"
