"""Read the money at stake on a case from Stripe and store it (`case_money`): when the case
opens and each time the stale sweep looks at it again. Three list or retrieve calls for the
customer (its bank PaymentMethods, the Customer, its subscriptions with their items) and one
per open invoice (its attempts), on the case's Stripe account, under the workers' shared rate
limit; the rule is worker/money/rule.py. Holder-less accounts bill no Customer: nothing at
stake is read."""

from __future__ import annotations

import stripe
import structlog
from sqlalchemy import delete
from sqlmodel import Session, col, select

from shared.db import session_scope, utcnow
from shared.models import RelinkCase
from shared.payments.money import AT_RISK_STATES
from shared.payments.money_models import CaseMoney
from shared.settings import get_settings
from shared.stripe_client import make_stripe_client
from worker import stripe_payments
from worker.money import rule
from worker.recovery.rule import InvoiceFacts
from worker.recovery.service import customer_and_accounts

log = structlog.get_logger(__name__)

Figures = dict[str, CaseMoney]


def assess(case_id: int, *, client: stripe.StripeClient | None = None) -> Figures | None:
    """Read and store the case's money at stake, per currency; None when the case is no
    longer broken (repaired or closed: its last figures stay), bills no Customer, or
    MONEY_AT_STAKE is off."""
    settings = get_settings()
    if not settings.money_at_stake:
        return None
    with session_scope() as session:
        case = session.get(RelinkCase, case_id)
        if case is None or case.state not in AT_RISK_STATES:
            return None
        customer, broken = customer_and_accounts(session, case)
        stripe_account = case.stripe_account
    if customer is None:
        log.info("money_at_stake_nothing", case_id=case_id, reason="no_customer")
        return None
    client = client or make_stripe_client(settings, stripe_account=stripe_account)
    figures = read(client, customer, broken)
    with session_scope() as session:
        store(session, case_id, figures)
    log.info(
        "money_at_stake",
        case_id=case_id,
        currencies=sorted(figures),
        subscriptions=sum(f.subscriptions for f in figures.values()),
        failed_invoices=sum(f.failed_invoices for f in figures.values()),
    )
    return figures


def read(client: stripe.StripeClient, customer: str, broken: frozenset[str]) -> Figures:
    """The customer's figures per currency, as Stripe has them now."""
    broken_pms = frozenset(
        str(pm["id"])
        for pm in stripe_payments.list_bank_payment_methods(client, customer)
        if (pm.get("us_bank_account") or {}).get("financial_connections_account") in broken
    )
    default = stripe_payments.customer_default_payment_method(client, customer)
    subscriptions = [
        rule.SubscriptionFacts.parse(s)
        for s in stripe_payments.list_subscriptions(client, customer)
    ]
    if truncated := [s.id for s in subscriptions if s.more_items]:
        log.warning("money_at_stake_items_not_all_read", subscriptions=truncated)
    invoices = [
        InvoiceFacts.parse(stripe_payments.retrieve_invoice(client, str(invoice["id"])))
        for invoice in stripe_payments.list_open_invoices(client, customer)
    ]
    monthly = rule.monthly_at_risk(subscriptions, default, broken_pms)
    failed = rule.failed_due(invoices, broken)
    now = utcnow()
    figures: Figures = {}
    for currency in sorted(set(monthly) | set(failed)):
        amount, subscribed = monthly.get(currency, (0, 0))
        due, count = failed.get(currency, (0, 0))
        figures[currency] = CaseMoney(
            case_id=0,
            currency=currency,
            monthly_at_risk=amount,
            failed_due=due,
            subscriptions=subscribed,
            failed_invoices=count,
            assessed_at=now,
        )
    return figures


def store(session: Session, case_id: int, figures: Figures) -> None:
    """Replace the case's figures (a currency no longer at stake goes)."""
    session.execute(delete(CaseMoney).where(col(CaseMoney.case_id) == case_id))
    for figure in figures.values():
        figure.case_id = case_id
        session.add(figure)


def broken_case_ids(session: Session, authorizations: list[tuple[str, str]]) -> list[int]:
    """The still-broken cases of these (Stripe account, authorization) pairs."""
    found: list[int] = []
    for stripe_account, authorization_id in authorizations:
        query = select(RelinkCase.id).where(
            col(RelinkCase.stripe_account) == stripe_account,
            col(RelinkCase.authorization_id) == authorization_id,
            col(RelinkCase.state).in_(AT_RISK_STATES),
        )
        found.extend(case_id for case_id in session.exec(query) if case_id is not None)
    return sorted(found)
