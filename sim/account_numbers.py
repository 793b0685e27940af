"""Tokenized account numbers (TANs): the number an FC account's payments use, its status
(`pending`, `transactable`, `deactivated`, `expired`) and `expected_expiry_date`, the two
events about it, and the PaymentMethods blocked while it cannot move money. A relink
refreshes it (Stripe's relink guide: relinking "refreshes deactivated tokenized account
numbers"). Call with the lock held."""

from __future__ import annotations

from sim.errors import invalid
from sim.events import emit_account
from sim.state import Account, SimState

STATUSES = ("pending", "transactable", "deactivated", "expired")
UPCOMING_EXPIRY = "financial_connections.account.upcoming_account_number_expiry"
UPDATED = "financial_connections.account.account_numbers_updated"
BLOCKED_REASON = "tokenized_account_number_deactivated"


def _with_numbers(state: SimState, account_id: str) -> Account:
    account = state.accounts.get(account_id)
    if account is None or "payment_method" not in account.permissions:
        raise invalid(f"{account_id} has no account numbers", "account")
    return account


def mark_upcoming_expiry(state: SimState, account_id: str, expected_expiry_date: int) -> Account:
    """The TAN will expire on `expected_expiry_date`: `upcoming_account_number_expiry`."""
    account = _with_numbers(state, account_id)
    if account.status != "active":
        raise invalid("Only an active account's number can be about to expire", "account")
    account.account_number_status = "transactable"
    account.account_number_expiry = int(expected_expiry_date)
    emit_account(state, UPCOMING_EXPIRY, account)
    return account


def set_number_status(state: SimState, account_id: str, status: str) -> Account:
    """The TAN changes status (`account_numbers_updated`); a `deactivated` or `expired` one
    blocks the account's PaymentMethods, a `transactable` one unblocks them."""
    if status not in STATUSES:
        raise invalid(f"Invalid status: must be one of {', '.join(STATUSES)}", "status")
    account = _with_numbers(state, account_id)
    account.account_number_status = status
    if status == "transactable":
        account.account_number_expiry = None
    _block(state, account, status in ("deactivated", "expired"))
    emit_account(state, UPDATED, account)
    return account


def refresh_on_relink(state: SimState, account: Account) -> None:
    """A relink issues a fresh TAN: transactable, no expiry, its PaymentMethods unblocked;
    `account_numbers_updated` when that changed anything."""
    if account.account_number_status is None and account.account_number_expiry is None:
        return
    account.account_number_status = None
    account.account_number_expiry = None
    _block(state, account, False)
    emit_account(state, UPDATED, account)


def _block(state: SimState, account: Account, blocked: bool) -> None:
    for method in state.payment_methods.values():
        if method.financial_connections_account == account.id:
            method.blocked_reason = BLOCKED_REASON if blocked else None
