# pyright: strict
"""What a deactivation means for the customer: repairable by a relink, or not at all.

Stripe's enums are open: an unknown cause is kept as it is and the action decides; an
unknown action is treated as not repairable (nothing tells us a relink would help).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.stripe_objects import Action, InactiveCause


class EmailTemplate(StrEnum):
    """Which email template a case's email is written from (a cause family, or the proactive
    and reconnected emails)."""

    ACCESS = "access"  # expired or revoked access: access_expired, access_denied
    INSTITUTION = "institution"  # a change at the bank: institution_requirement
    UNKNOWN = "unknown"  # every other cause, including ones Stripe adds later
    UNREPAIRABLE = "unrepairable"  # action none: the customer needs a new payment method
    PROACTIVE = "proactive"  # still working, but will need a relink before a date
    RECONNECTED = "reconnected"  # the optional "your bank is reconnected" email


_FAMILY_OF_CAUSE: dict[str, EmailTemplate] = {
    InactiveCause.ACCESS_EXPIRED: EmailTemplate.ACCESS,
    InactiveCause.ACCESS_DENIED: EmailTemplate.ACCESS,
    InactiveCause.INSTITUTION_REQUIREMENT: EmailTemplate.INSTITUTION,
}


@dataclass(frozen=True)
class Deactivation:
    cause: str
    action: str
    family: EmailTemplate

    @property
    def repairable(self) -> bool:
        return self.family is not EmailTemplate.UNREPAIRABLE


def classify_deactivation(cause: str | None, action: str | None) -> Deactivation:
    """Classify `status_details.inactive.{cause, action}`; missing values become `unspecified`
    (cause) and `none` (action)."""
    cause = cause or InactiveCause.UNSPECIFIED
    action = action or Action.NONE
    if action != Action.RELINK_REQUIRED:
        return Deactivation(cause, action, EmailTemplate.UNREPAIRABLE)
    return Deactivation(cause, action, _FAMILY_OF_CAUSE.get(cause, EmailTemplate.UNKNOWN))
