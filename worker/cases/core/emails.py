# pyright: strict
"""What a claimed email is about: its cause family, the accounts it names, and whether a
live read of its account says it is still needed."""

from __future__ import annotations

from collections.abc import Sequence

from shared.cases.lifecycle import CaseState
from shared.stripe_objects import AccountSnapshot, AccountStatus, Action
from worker.cases.core.classification import EmailTemplate, classify_deactivation
from worker.cases.core.standing import A, AuthorizationFacts, standing


def family_of(
    state: str, cause: str | None, action: str | None, reconnected: bool
) -> EmailTemplate:
    """The family of a case's email (its template): from the case's state and cause."""
    if reconnected:
        return EmailTemplate.RECONNECTED
    if state == CaseState.UNREPAIRABLE:
        return EmailTemplate.UNREPAIRABLE
    if state == CaseState.PROACTIVE:
        return EmailTemplate.PROACTIVE
    return classify_deactivation(cause, action).family


def accounts_to_name(
    accounts: Sequence[A],
    family: EmailTemplate,
    authorization: AuthorizationFacts | None,
    horizon_end: int,
) -> list[A]:
    """The accounts the email is about: broken and repairable ones for a relink email, the
    warned ones for a proactive one (none without the authorization's row), the lost ones
    (not repairable, or disconnected) for an unrepairable one, the working ones for
    "reconnected"."""
    if family is EmailTemplate.RECONNECTED:
        return [a for a in accounts if a.status == AccountStatus.ACTIVE]
    if family is EmailTemplate.PROACTIVE:
        if authorization is None:
            return []
        return standing(accounts, authorization, horizon_end).warned
    inactive = [a for a in accounts if a.status == AccountStatus.INACTIVE]
    if family is EmailTemplate.UNREPAIRABLE:
        lost = [a for a in inactive if a.inactive_action != Action.RELINK_REQUIRED]
        return lost or [a for a in accounts if a.status == AccountStatus.DISCONNECTED]
    return [a for a in inactive if a.inactive_action == Action.RELINK_REQUIRED]


def still_needed(family: EmailTemplate, live: AccountSnapshot, horizon_end: int) -> bool:
    """Whether the live account still calls for this email: working for a "reconnected" one;
    inactive, or working but flagged for a relink or with a tokenized number to refresh, for a
    proactive one (a disconnected account is not relinked); not working for the others (a
    status Stripe adds later included)."""
    if family is EmailTemplate.RECONNECTED:
        return live.status == AccountStatus.ACTIVE
    if family is EmailTemplate.PROACTIVE:
        working = live.status == AccountStatus.ACTIVE
        return live.status == AccountStatus.INACTIVE or (working and live.needs_relink(horizon_end))
    return live.status != AccountStatus.ACTIVE
