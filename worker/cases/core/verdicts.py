# pyright: strict
"""What an authorization's standing means for its open case: the review after a
reconciliation or a warning, and the verdict on a disconnection. Plain functions over the
standing (worker/cases/core/standing.py); the shell and the core's `decide` both apply them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic

from shared.cases.lifecycle import CaseState
from shared.stripe_objects import AccountStatus
from worker.cases.core.standing import WARNING_CLEARED, A, Standing, ending_of

DISCONNECTED = AccountStatus.DISCONNECTED  # the status, and the case's cause or resolution


class Step(StrEnum):
    NONE = "none"  # no case, none to open
    KEEP = "keep"  # the open case stays as it is
    OPEN = "open"  # open or join a case for a broken account (the normal flow)
    OPEN_PROACTIVE = "open_proactive"  # a proactive case for a warned account
    RESOLVE = "resolve"
    RETARGET = "retarget"  # kept, its link now about another account still to relink
    UNREPAIRABLE = "unrepairable"  # nothing repairable left: a new payment method is needed


@dataclass(frozen=True)
class Verdict(Generic[A]):
    step: Step
    account: A | None = None  # the account to open for, or to point the case at
    resolution: str | None = None
    reconnected_email: bool = False  # write the optional "your bank is reconnected" email


@dataclass(frozen=True)
class OpenCase:
    """What the verdicts read of the authorization's open case."""

    state: str
    account_id: str | None
    emails_sent: int


def review(
    standing: Standing[A],
    case: OpenCase | None,
    *,
    live: bool,
    resolution: str,
    reconnected_email: bool = False,
) -> Verdict[A]:
    """Bring the open case in line with the stored accounts:

    - a broken account and no case (a missed `deactivated`), or only a proactive one: the
      normal flow opens (or turns the proactive case into) a case;
    - a warned account and no case: a proactive case with one "reconnect before" email;
    - a proactive case whose warning went away: resolved (`warning_cleared`);
    - a case with nothing left to repair: resolved with `resolution` (`replaced` if a new
      account took the place of those still down), but only when `live` (the accounts were
      just read from the API), since resolving is irreversible.
    """
    if standing.broken:
        if case is None or case.state == CaseState.PROACTIVE:
            return Verdict(Step.OPEN, standing.broken[0])
        return Verdict(Step.KEEP)
    if standing.warned:
        if case is None:
            return Verdict(Step.OPEN_PROACTIVE, standing.warned[0])
        return Verdict(Step.KEEP)
    if case is None:
        return Verdict(Step.NONE)
    if case.state == CaseState.PROACTIVE:
        return Verdict(Step.RESOLVE, resolution=WARNING_CLEARED)
    if not live:
        return Verdict(Step.KEEP)
    ending = ending_of(case.account_id, standing, resolution)
    reconnected = reconnected_email and case.emails_sent > 0
    return Verdict(Step.RESOLVE, resolution=ending, reconnected_email=reconnected)


def disconnection(standing: Standing[A], case: OpenCase, disconnected_id: str) -> Verdict[A]:
    """A disconnected account leaves its open case: kept while something is left to relink
    (pointed at such an account if it was about the one gone), resolved when what is left
    works, unrepairable when nothing is."""
    if to_relink := standing.accounts_to_relink:
        if case.account_id == disconnected_id:  # the link now points at an account still there
            return Verdict(Step.RETARGET, to_relink[0])
        return Verdict(Step.KEEP)
    if standing.active:  # what is left works: nothing to ask of the customer
        return Verdict(Step.RESOLVE, resolution=DISCONNECTED)
    return Verdict(Step.UNREPAIRABLE)
