"""Every (cause, action) pair from the reference, plus causes Stripe may add later."""

from __future__ import annotations

import pytest

from worker.cases.core.classification import EmailTemplate, classify_deactivation

CAUSES = {
    "access_denied": EmailTemplate.ACCESS,
    "access_expired": EmailTemplate.ACCESS,
    "account_closed": EmailTemplate.UNKNOWN,
    "account_unavailable": EmailTemplate.UNKNOWN,
    "institution_requirement": EmailTemplate.INSTITUTION,
    "unspecified": EmailTemplate.UNKNOWN,
    "bank_merged_into_another": EmailTemplate.UNKNOWN,  # an unknown (future) cause
}


@pytest.mark.parametrize(("cause", "family"), CAUSES.items())
def test_relink_required_is_repairable_in_the_cause_family(
    cause: str, family: EmailTemplate
) -> None:
    result = classify_deactivation(cause, "relink_required")
    assert result.repairable
    assert result.family is family
    assert (result.cause, result.action) == (cause, "relink_required")  # kept as they are


@pytest.mark.parametrize("cause", CAUSES)
def test_action_none_is_unrepairable_whatever_the_cause(cause: str) -> None:
    result = classify_deactivation(cause, "none")
    assert not result.repairable
    assert result.family is EmailTemplate.UNREPAIRABLE
    assert result.cause == cause


def test_an_unknown_action_is_not_treated_as_repairable() -> None:
    assert (
        classify_deactivation("access_expired", "contact_bank").family is EmailTemplate.UNREPAIRABLE
    )


def test_missing_values_default_to_unspecified_and_none() -> None:
    result = classify_deactivation(None, None)
    assert (result.cause, result.action, result.repairable) == ("unspecified", "none", False)
