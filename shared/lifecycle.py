"""The words of a case's lifecycle: its states, how it may end, its emails' kinds and
statuses. Plain enums (no database): the tables store them (shared/models.py) and the cases
core (worker/cases/core/) decides with them."""

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


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one worker (claimed_at); reclaimable when stale
    SENT = "sent"
    CANCELLED = "cancelled"  # the case resolved (or reactivated) first
    NO_CONTACT = "no_contact"  # no address on file: nothing sent
    FAILED = "failed"  # transport errors outlasted every retry


def resolution_step(resolution: str, payment_method_id: str | None) -> str | None:
    """The funnel step a case's resolution is: its accounts back (relinked), closed without a
    repair (gave up), or none (a proactive warning cleared; a saved new account is counted
    where it is saved)."""
    if payment_method_id is not None or resolution == "warning_cleared":
        return None
    return "relinked" if resolution in REPAIRED_RESOLUTIONS else "gave_up"
