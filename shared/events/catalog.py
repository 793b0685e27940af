"""What relink handles and what it queues: the Stripe event types with a handler and the
Celery task names. The receiver, the sweeps and the worker read them here, so the API never
imports the worker to know them (a test checks the worker's registry against this list)."""

from __future__ import annotations

SNAPSHOT_EVENT_TYPES = frozenset(
    {
        "financial_connections.account.created",
        "financial_connections.account.deactivated",
        "financial_connections.account.reactivated",
        "financial_connections.account.disconnected",
        "financial_connections.account.upcoming_deactivation",
        "financial_connections.account.expected_deactivation_date_updated",
        "financial_connections.account.upcoming_account_number_expiry",
        "financial_connections.account.account_numbers_updated",
        "financial_connections.authorization.upcoming_deactivation",
        "financial_connections.authorization.expected_deactivation_date_updated",
    }
)
# A thin event (`v2.core.event`, from an event destination with `event_payload: thin`) of a
# snapshot type is named `v1.<type>`; Stripe publishes them for accounts, not authorizations.
THIN_EVENT_PREFIX = "v1."
THIN_EVENT_TYPES = frozenset(
    THIN_EVENT_PREFIX + event_type
    for event_type in SNAPSHOT_EVENT_TYPES
    if event_type.startswith("financial_connections.account.")
)
# An invoice paid again after a repair settles later (ACH): relink reads its outcome from
# these when the endpoint sends them (RECOVER_FAILED_PAYMENTS), or from a sweep.
INVOICE_EVENT_TYPES = frozenset({"invoice.paid", "invoice.payment_failed"})
HANDLED_EVENT_TYPES = SNAPSHOT_EVENT_TYPES | THIN_EVENT_TYPES | INVOICE_EVENT_TYPES

PROCESS_EVENT = "relink.process_event"
PROCESS_EVENTS = "relink.process_events"
REDRIVE = "relink.redrive"
PRUNE_INBOX = "relink.prune_inbox"
SEND_EMAIL = "relink.send_email"
SWEEP_OUTBOX = "relink.sweep_outbox"
RECONCILE_AUTHORIZATION = "relink.reconcile_authorization"
SWEEP_STALE_CASES = "relink.sweep_stale_cases"
BACKFILL_EVENTS = "relink.backfill_events"
DELIVER_PLATFORM_EVENT = "relink.deliver_platform_event"
SWEEP_PLATFORM_EVENTS = "relink.sweep_platform_events"
SWITCH_PAYMENT_METHOD = "relink.switch_payment_method"
SWEEP_PAYMENT_SWITCHES = "relink.sweep_payment_switches"
RECOVER_PAYMENTS = "relink.recover_payments"
SWEEP_PAYMENT_RECOVERIES = "relink.sweep_payment_recoveries"
ASSESS_MONEY_AT_STAKE = "relink.assess_money_at_stake"

TASK_MODULES = (
    "worker.inbox.tasks",
    "worker.emails.tasks",
    "worker.cases.tasks",
    "worker.platform_webhooks.tasks",
    "worker.payments.tasks",
    "worker.recovery.tasks",
    "worker.money.tasks",
)
