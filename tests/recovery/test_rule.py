"""The rule choosing which invoices relink pays again after a repair."""

from __future__ import annotations

from typing import Any

from worker.recovery.rule import InvoiceFacts, choose, is_recent, payment_method_for, skip_reason

NOW = 1_800_000_000
DAY = 86400
BROKEN = frozenset({"fca_broken"})


def facts(
    invoice_id: str = "in_1",
    *,
    status: str = "open",
    age_days: float = 1,
    last_attempt: str | None = "requires_payment_method",
    failed_on: str | None = "pm_old",
    account: str | None = "fca_broken",
) -> InvoiceFacts:
    return InvoiceFacts(
        id=invoice_id,
        status=status,
        created=int(NOW - age_days * DAY),
        amount_due=1000,
        currency="usd",
        last_attempt=last_attempt,
        failed_payment_method=failed_on,
        failed_account=account,
    )


def reason(invoice: InvoiceFacts, max_age_days: float = 30) -> str | None:
    return skip_reason(invoice, broken_accounts=BROKEN, now=NOW, max_age_days=max_age_days)


def test_an_open_invoice_that_failed_on_the_broken_account_is_retried() -> None:
    assert reason(facts()) is None


def test_paid_void_and_uncollectible_invoices_are_never_retried() -> None:
    for status in ("paid", "void", "uncollectible", "draft"):
        assert reason(facts(status=status)) == status


def test_an_invoice_older_than_the_max_age_is_left_alone() -> None:
    assert reason(facts(age_days=31)) == "too_old"
    assert reason(facts(age_days=29)) is None
    assert reason(facts(age_days=5), max_age_days=3) == "too_old"


def test_only_a_last_attempt_that_failed_counts() -> None:
    assert reason(facts(last_attempt="processing")) == "last_attempt_not_failed"
    assert reason(facts(last_attempt=None, failed_on=None)) == "last_attempt_not_failed"
    assert reason(facts(failed_on=None)) == "last_attempt_not_failed"


def test_a_failure_on_another_account_is_not_relinks_to_retry() -> None:
    assert reason(facts(account="fca_other")) == "failed_on_another_account"
    assert reason(facts(account=None)) == "failed_on_another_account"  # a card, say


def choose_from(
    invoices: list[InvoiceFacts], *, max_invoices: int = 3, attempted: Any = ()
) -> list[str]:
    chosen = choose(
        invoices,
        broken_accounts=BROKEN,
        now=NOW,
        max_age_days=30,
        max_invoices=max_invoices,
        attempted=frozenset(attempted),
    )
    return [invoice.id for invoice in chosen]


def test_at_most_the_max_oldest_first_counting_those_attempted_for_the_case() -> None:
    invoices = [
        facts("in_new", age_days=1),
        facts("in_old", age_days=9),
        facts("in_mid", age_days=5),
    ]
    assert choose_from(invoices) == ["in_old", "in_mid", "in_new"]
    assert choose_from(invoices, max_invoices=2) == ["in_old", "in_mid"]
    assert choose_from(invoices, max_invoices=2, attempted={"in_old"}) == ["in_mid"]
    assert choose_from(invoices, max_invoices=2, attempted={"in_x", "in_y"}) == []


def test_choose_skips_what_the_rule_skips() -> None:
    invoices = [facts("in_ok"), facts("in_void", status="void"), facts("in_far", age_days=60)]
    assert choose_from(invoices) == ["in_ok"]


def test_the_working_payment_method_is_the_switchs_or_the_repaired_one() -> None:
    assert payment_method_for(facts(), "pm_new") == "pm_new"
    assert payment_method_for(facts(), None) == "pm_old"


def invoice_body(*intents: dict[str, Any]) -> dict[str, Any]:
    payments = [
        {"payment": {"type": "payment_intent", "payment_intent": intent}} for intent in intents
    ]
    return {
        "id": "in_1",
        "status": "open",
        "created": NOW,
        "amount_due": 2500,
        "currency": "usd",
        "payments": {"data": payments},
    }


def test_facts_are_read_from_the_newest_payment_intent() -> None:
    failed = {
        "id": "pi_1",
        "created": NOW - 10,
        "status": "requires_payment_method",
        "last_payment_error": {
            "payment_method": {
                "id": "pm_old",
                "us_bank_account": {"financial_connections_account": "fca_broken"},
            }
        },
    }
    parsed = InvoiceFacts.parse(invoice_body(failed))
    assert (parsed.failed_payment_method, parsed.failed_account) == ("pm_old", "fca_broken")
    assert (parsed.amount_due, parsed.currency, parsed.last_attempt) == (
        2500,
        "usd",
        "requires_payment_method",
    )
    processing = {"id": "pi_2", "created": NOW, "status": "processing"}
    assert InvoiceFacts.parse(invoice_body(failed, processing)).last_attempt == "processing"
    same_second = {**processing, "id": "pi_0", "created": NOW - 10}  # listed first: newest
    assert InvoiceFacts.parse(invoice_body(same_second, failed)).last_attempt == "processing"
    not_expanded = InvoiceFacts.parse({**invoice_body(), "payments": None})
    assert not_expanded.last_attempt is None


def test_is_recent_reads_a_listed_invoice_created() -> None:
    assert is_recent({"created": NOW - 2 * DAY}, now=NOW, max_age_days=3)
    assert not is_recent({"created": NOW - 4 * DAY}, now=NOW, max_age_days=3)
