"""The platform webhooks' bodies, one model per event type (issue 20):
shared/platform_webhooks/events.py validates every payload by its type's model in `PAYLOADS`, the
OpenAPI `webhooks` section documents them and docs/platform-webhooks/ holds their JSON Schemas,
written by `python -m shared.platform_webhooks.payloads`.

A field left out of a body rather than sent as null (a connected account's `stripe_account`,
a case's `blocked_payment_methods`, the relink link added at delivery) is `Omitted`."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

CASE_OPENED = "relink.case.opened"
CASE_REMINDER_DUE = "relink.case.reminder_due"
CASE_RESOLVED = "relink.case.resolved"
CASE_UNREPAIRABLE = "relink.case.unrepairable"
ACCOUNT_STATUS_CHANGED = "relink.account.status_changed"
PAYMENT_METHOD_CREATED = "relink.payment_method.created"
PAYMENT_METHOD_SWITCHED = "relink.payment_method.switched"
PAYMENT_METHOD_BLOCKED = "relink.payment_method.blocked"
INVOICE_RETRIED = "relink.invoice.retried"
INVOICE_RECOVERED = "relink.invoice.recovered"
INVOICE_RETRY_FAILED = "relink.invoice.retry_failed"
TEST = "relink.test"

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "platform-webhooks"


def _absent(value: object) -> bool:
    return not value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Holder(_Model):
    """An account holder (also the API's)."""

    type: str = Field(description="customer or account")
    id: str

    @classmethod
    def of(cls, holder_type: str | None, holder_id: str | None) -> Holder | None:
        return cls(type=holder_type, id=holder_id) if holder_type and holder_id else None


class BlockedPaymentMethod(_Model):
    id: str
    reason: str = Field(description="Stripe's us_bank_account.status_details.blocked.reason")
    fc_account: str


class CaseView(_Model):
    """The case as the platform sees it."""

    stripe_account: Annotated[str | None, Field(exclude_if=_absent)] = None
    blocked_payment_methods: Annotated[
        list[BlockedPaymentMethod] | None, Field(exclude_if=_absent)
    ] = None
    id: int
    state: str
    authorization: str
    account: str | None
    cause: str | None
    action: str | None
    opened_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None


class Replaces(_Model):
    account: str | None
    case: int


class Invoice(_Model):
    id: str
    customer: str
    amount_due: int
    currency: str


class Inactive(_Model):
    cause: str | None
    action: str | None


class AccountView(_Model):
    """relink's view of a Financial Connections account."""

    stripe_account: Annotated[str | None, Field(exclude_if=_absent)] = None
    id: str
    authorization: str | None
    status: str = Field(description="`active`, `inactive` or `disconnected`")
    previous_status: str | None
    inactive: Inactive | None
    institution_name: str | None
    last4: str | None
    as_of: int = Field(description="the Stripe time of the snapshot that says so")


class _Data(_Model):
    sequence: int = Field(description="numbers one case's (one account's) events from 1")


class CaseData(_Data):
    case: CaseView
    account_holder: Holder | None


class LinkedCaseData(CaseData):
    """The link is signed at delivery, for a case still open."""

    link: Annotated[str | None, Field(exclude_if=_absent)] = None
    link_expires_at: Annotated[datetime | None, Field(exclude_if=_absent)] = None


class ReminderDueData(LinkedCaseData):
    reason: Literal["reminder", "fresh_link"]


class PaymentMethodBlockedData(CaseData):
    payment_methods: list[BlockedPaymentMethod]


class PaymentMethodCreatedData(CaseData):
    payment_method: str | None
    fc_account: str | None
    replaces: Replaces


class PaymentMethodSwitchedData(CaseData):
    payment_method: str
    customer: str | None
    customer_default: bool
    subscriptions: list[str]
    detached: list[str]
    replaces: Replaces


class InvoiceData(CaseData):
    invoice: Invoice
    payment_method: str
    failed_payment_method: str
    status: str


class InvoiceRetryFailedData(InvoiceData):
    reason: str | None = Field(description="`payment_failed`, `void`, `uncollectible`, …")


class AccountStatusData(_Data):
    account: AccountView
    account_holder: Holder | None
    case_id: int | None


class HelloData(_Data):
    hello: str


class _Event(_Model):
    timestamp: datetime


class RelinkCaseOpened(_Event):
    """A case opens (deactivated and repairable, or warned: `state` `proactive`)."""

    type: Literal["relink.case.opened"]
    data: LinkedCaseData


class RelinkCaseReminderDue(_Event):
    """A reminder (or a fresh link the customer asked for) is due."""

    type: Literal["relink.case.reminder_due"]
    data: ReminderDueData


class RelinkCaseResolved(_Event):
    """The case closes (`resolution`)."""

    type: Literal["relink.case.resolved"]
    data: CaseData


class RelinkCaseUnrepairable(_Event):
    """Nothing a relink can fix (action `none`, or every broken account disconnected)."""

    type: Literal["relink.case.unrepairable"]
    data: CaseData


class RelinkAccountStatusChanged(_Event):
    """relink's view of an account changed."""

    type: Literal["relink.account.status_changed"]
    data: AccountStatusData


class RelinkPaymentMethodCreated(_Event):
    """The customer saved a new account on the relink page (`no_account`): switch to it."""

    type: Literal["relink.payment_method.created"]
    data: PaymentMethodCreatedData


class RelinkPaymentMethodSwitched(_Event):
    """relink made the new PaymentMethod the Customer's default (PAYMENT_METHOD_SWITCH)."""

    type: Literal["relink.payment_method.switched"]
    data: PaymentMethodSwitchedData


class RelinkPaymentMethodBlocked(_Event):
    """A stopped tokenized account number made Stripe block PaymentMethods."""

    type: Literal["relink.payment_method.blocked"]
    data: PaymentMethodBlockedData


class RelinkInvoiceRetried(_Event):
    """relink paid again an invoice that failed on the broken account."""

    type: Literal["relink.invoice.retried"]
    data: InvoiceData


class RelinkInvoiceRecovered(_Event):
    """That payment succeeded: the invoice is paid."""

    type: Literal["relink.invoice.recovered"]
    data: InvoiceData


class RelinkInvoiceRetryFailed(_Event):
    """That payment failed, Stripe refused it, or the invoice closed meanwhile."""

    type: Literal["relink.invoice.retry_failed"]
    data: InvoiceRetryFailedData


class RelinkTest(_Event):
    """`relink webhooks test`."""

    type: Literal["relink.test"]
    data: HelloData


def _type_of(model: type[_Event]) -> str:
    [event_type] = get_args(model.model_fields["type"].annotation)
    return event_type


PAYLOADS: dict[str, type[_Event]] = {
    _type_of(model): model
    for model in (
        RelinkCaseOpened,
        RelinkCaseReminderDue,
        RelinkCaseResolved,
        RelinkCaseUnrepairable,
        RelinkAccountStatusChanged,
        RelinkPaymentMethodCreated,
        RelinkPaymentMethodSwitched,
        RelinkPaymentMethodBlocked,
        RelinkInvoiceRetried,
        RelinkInvoiceRecovered,
        RelinkInvoiceRetryFailed,
        RelinkTest,
    )
}


def json_schemas() -> dict[str, str]:
    """Each type's JSON Schema (serialization mode: what is posted), as the file's text."""
    return {
        event_type: json.dumps(model.model_json_schema(mode="serialization"), indent=2) + "\n"
        for event_type, model in PAYLOADS.items()
    }


def write_json_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for event_type, text in json_schemas().items():
        path = directory / f"{event_type}.json"
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_json_schemas(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(path)
