"""Control verbs: build the world and move it through deactivation, relink and reactivation.

Each verb changes state and emits the events Stripe would. Call them with the lock held.
"""

from __future__ import annotations

from typing import Any

from sim import account_numbers
from sim.errors import StripeError, invalid, missing
from sim.events import emit_account, emit_authorization
from sim.ids import new_id, now
from sim.state import (
    Account,
    Authorization,
    ConnectedAccount,
    Customer,
    Holder,
    Session,
    SimState,
)

INACTIVE_CAUSES = (
    "access_denied",
    "access_expired",
    "account_closed",
    "account_unavailable",
    "institution_requirement",
    "unspecified",
)
ACTIVE_CAUSES = ("access_expired", "institution_requirement", "unspecified")
ACTIONS = ("none", "relink_required")
OUTCOMES = ("success", "new_account", "no_account", "no_authorization", "other", "cancelled")
SUBCATEGORY_CATEGORY = {
    "checking": "cash",
    "savings": "cash",
    "credit_card": "credit",
    "line_of_credit": "credit",
    "mortgage": "credit",
    "other": "other",
}
DEFAULT_PERMISSIONS = ["payment_method", "balances"]


def create_customer(
    state: SimState, email: str | None, preferred_locales: list[str] | None = None
) -> Customer:
    record = Customer(
        id=new_id("cus", 14),
        email=email,
        created=now(),
        preferred_locales=list(preferred_locales or []),
    )
    state.customers[record.id] = record
    return record


def create_connected_account(state: SimState, email: str | None) -> ConnectedAccount:
    record = ConnectedAccount(id=new_id("acct", 16), email=email, created=now())
    state.connected_accounts[record.id] = record
    return record


def resolve_holder(state: SimState, holder: dict[str, Any]) -> Holder:
    kind = holder.get("type")
    if kind == "customer":
        customer = holder.get("customer")
        if customer not in state.customers:
            raise missing("customer", str(customer), "account_holder[customer]")
        return Holder("customer", str(customer))
    if kind == "account":
        account = holder.get("account")
        if account not in state.connected_accounts:
            raise missing("account", str(account), "account_holder[account]")
        return Holder("account", str(account))
    raise invalid(
        "Invalid account_holder[type]: must be one of account or customer",
        "account_holder[type]",
    )


def _institution_id(name: str) -> str:
    return "fcinst_" + "".join(ch for ch in name if ch.isalnum())[:20]


def add_account(
    state: SimState, auth: Authorization, spec: dict[str, Any], session: str | None = None
) -> Account:
    subcategory = str(spec.get("subcategory", "checking"))
    if subcategory not in SUBCATEGORY_CATEGORY:
        raise invalid(f"Unknown subcategory {subcategory}", "subcategory")
    index = len(state.scope.authorization_accounts.get(auth.id, []))
    last4 = str(spec.get("last4") or f"{6789 + index:04d}"[-4:])
    record = Account(
        id=str(spec.get("id") or new_id("fca")),
        authorization=auth.id,
        holder=auth.holder,
        institution_name=auth.institution_name,
        institution=auth.institution,
        created=now(),
        last4=last4,
        subcategory=subcategory,
        category=SUBCATEGORY_CATEGORY[subcategory],
        display_name=str(spec.get("display_name") or f"{subcategory.replace('_', ' ').title()}"),
        permissions=list(spec.get("permissions") or DEFAULT_PERMISSIONS),
        session=session,
    )
    replaced = state.accounts.get(record.id)
    if replaced is not None:
        state.scope.authorization_accounts[replaced.authorization].remove(record.id)
    state.accounts[record.id] = record
    state.scope.authorization_accounts.setdefault(auth.id, []).append(record.id)
    emit_account(state, "financial_connections.account.created", record)
    return record


def create_authorization(
    state: SimState,
    holder: dict[str, Any],
    institution: str,
    accounts: list[dict[str, Any]],
    session: str | None = None,
    authorization_id: str | None = None,
) -> tuple[Authorization, list[Account]]:
    """An authorization with its accounts, each announced by `account.created`; ids are
    chosen for it unless given (an account spec's `id`), e.g. to collide with an object of
    another connected account."""
    record = Authorization(
        id=authorization_id or new_id("fcauth"),
        holder=resolve_holder(state, holder),
        institution_name=institution,
        institution=_institution_id(institution),
        created=now(),
    )
    state.authorizations[record.id] = record
    linked = [add_account(state, record, spec, session) for spec in accounts]
    return record, linked


def get_account(state: SimState, account_id: str) -> Account:
    record = state.accounts.get(account_id)
    if record is None:
        raise missing("financial connections account", account_id, "account")
    return record


def get_authorization(state: SimState, authorization_id: str) -> Authorization:
    record = state.authorizations.get(authorization_id)
    if record is None:
        raise missing("financial connections authorization", authorization_id, "authorization")
    return record


def get_session(state: SimState, session_id: str) -> Session:
    record = state.sessions.get(session_id)
    if record is None:
        raise missing("financial connections session", session_id, "session")
    return record


def _check(value: str, allowed: tuple[str, ...], name: str) -> None:
    if value not in allowed:
        raise invalid(f"Invalid {name}: must be one of {', '.join(allowed)}", name)


def _deactivate(state: SimState, account: Account, cause: str, action: str) -> bool:
    if account.status != "active":
        return False
    account.status = "inactive"
    account.inactive_cause = cause
    account.inactive_action = action
    account.active_action = account.active_cause = None
    account.expected_deactivation_date = None
    emit_account(state, "financial_connections.account.deactivated", account)
    return True


def deactivate_account(state: SimState, account_id: str, cause: str, action: str) -> Account:
    """One account goes inactive (one `deactivated` event); a no-op unless it was active."""
    _check(cause, INACTIVE_CAUSES, "cause")
    _check(action, ACTIONS, "action")
    account = get_account(state, account_id)
    _deactivate(state, account, cause, action)
    return account


def deactivate_authorization(
    state: SimState, authorization_id: str, cause: str, action: str
) -> Authorization:
    """The credentials break: the authorization and every active account go inactive."""
    _check(cause, INACTIVE_CAUSES, "cause")
    _check(action, ACTIONS, "action")
    auth = get_authorization(state, authorization_id)
    auth.status = "inactive"
    auth.inactive_action = action
    auth.active_action = None
    auth.expected_deactivation_date = None
    for account in accounts_of(state, auth.id):
        _deactivate(state, account, cause, action)
    return auth


def accounts_of(state: SimState, authorization_id: str) -> list[Account]:
    ids = state.scope.authorization_accounts.get(authorization_id, [])
    return [state.accounts[account_id] for account_id in ids]


def disconnect_account(state: SimState, account_id: str) -> Account:
    account = get_account(state, account_id)
    if account.status == "disconnected":
        return account
    account.status = "disconnected"
    account.inactive_action = account.inactive_cause = None
    account.active_action = account.active_cause = None
    account.expected_deactivation_date = None
    emit_account(state, "financial_connections.account.disconnected", account)
    auth = state.authorizations[account.authorization]
    if all(a.status == "disconnected" for a in accounts_of(state, auth.id)):
        auth.status = "disconnected"
    return account


def mark_upcoming_deactivation(
    state: SimState,
    account_id: str,
    cause: str,
    action: str,
    expected_deactivation_date: int,
    events: list[str] | None = None,
) -> Account:
    """Set `status_details.active` and emit `expected_deactivation_date_updated`
    and `upcoming_deactivation` (or only the `events` named)."""
    _check(cause, ACTIVE_CAUSES, "cause")
    _check(action, ACTIONS, "action")
    account = get_account(state, account_id)
    if account.status != "active":
        raise invalid("Only an active account can have an upcoming deactivation", "account")
    account.active_cause = cause
    account.active_action = action
    account.expected_deactivation_date = int(expected_deactivation_date)
    for name in events or ["expected_deactivation_date_updated", "upcoming_deactivation"]:
        emit_account(state, f"financial_connections.account.{name}", account)
    return account


def mark_authorization_upcoming_deactivation(
    state: SimState,
    authorization_id: str,
    action: str,
    expected_deactivation_date: int,
    cause: str = "institution_requirement",
    events: list[str] | None = None,
) -> Authorization:
    """Authorization-level warning: every active account gets `status_details.active`;
    the events are the `financial_connections.authorization.*` ones."""
    _check(action, ACTIONS, "action")
    _check(cause, ACTIVE_CAUSES, "cause")
    auth = get_authorization(state, authorization_id)
    if auth.status != "active":
        raise invalid("Only an active authorization can have an upcoming deactivation")
    auth.active_action = action
    auth.expected_deactivation_date = int(expected_deactivation_date)
    for account in accounts_of(state, auth.id):
        if account.status == "active":
            account.active_action = action
            account.active_cause = cause
            account.expected_deactivation_date = int(expected_deactivation_date)
    for name in events or ["expected_deactivation_date_updated", "upcoming_deactivation"]:
        emit_authorization(state, f"financial_connections.authorization.{name}", auth)
    return auth


def reactivate_authorization(state: SimState, auth: Authorization) -> list[Account]:
    """The authorization and ALL its non-disconnected accounts become active again;
    one `reactivated` event per account that was inactive."""
    auth.status = "active"
    auth.inactive_action = None
    auth.active_action = None
    auth.expected_deactivation_date = None
    reactivated = []
    for account in accounts_of(state, auth.id):
        if account.status == "disconnected":
            continue
        was_inactive = account.status == "inactive"
        account.status = "active"
        account.inactive_action = account.inactive_cause = None
        account.active_action = account.active_cause = None
        account.expected_deactivation_date = None
        if was_inactive:
            emit_account(state, "financial_connections.account.reactivated", account)
            reactivated.append(account)
        account_numbers.refresh_on_relink(state, account)
    return reactivated


def _repair_authorization_only(auth: Authorization) -> None:
    """The credentials work again, but the old accounts stay as they are (inactive)."""
    auth.status = "active"
    auth.inactive_action = None
    auth.active_action = None
    auth.expected_deactivation_date = None


def complete_session(
    state: SimState,
    session_id: str,
    outcome: str = "success",
    accounts: list[str] | None = None,
    new_accounts: list[dict[str, Any]] | None = None,
    institution: str = "StripeBank",
) -> Session:
    """Finish a session as the end user would.

    - relink sessions: `success` repairs the authorization (all accounts active);
      `new_account` links a new account at the same institution (only without
      `relink_options[account]`) and reactivates the old ones unless the
      `new_account_reactivates_old` behaviour is off; `accounts` picks which linked
      accounts the session lists (a different account of the authorization). Failures set
      `failure_reason`.
    - other sessions: `success` links `new_accounts` (default one checking account) under
      a new authorization at `institution`.
    """
    _check(outcome, OUTCOMES, "outcome")
    record = get_session(state, session_id)
    if record.status != "pending":
        raise StripeError(
            400, f"Session {record.id} is already {record.status}", code="session_not_pending"
        )
    if outcome in ("no_account", "no_authorization", "other"):
        record.status = "failed"
        record.failure_reason = outcome
        return record
    if outcome == "cancelled":
        record.status = "cancelled"
        record.cancelled_reason = "other"
        return record
    specs = new_accounts or [{"subcategory": "checking", "permissions": record.permissions}]
    if record.relink_authorization is None:
        if record.holder is None:
            raise invalid("Session has no account_holder")
        holder = {"type": record.holder.type, record.holder.type: record.holder.id}
        _, linked = create_authorization(state, holder, institution, specs, record.id)
        record.accounts = [a.id for a in linked]
        record.status = "succeeded"
        return record
    auth = get_authorization(state, record.relink_authorization)
    if outcome == "new_account" and record.relink_account:
        raise invalid("new_account needs a session without relink_options[account]", "outcome")
    if outcome == "new_account" and not state.behaviours.new_account_reactivates_old:
        _repair_authorization_only(auth)
    else:
        reactivate_authorization(state, auth)
    if outcome == "new_account":
        fresh = [add_account(state, auth, spec, record.id) for spec in specs]
        record.accounts = [a.id for a in fresh]
    elif record.relink_account:
        record.accounts = [record.relink_account]
    elif accounts:
        for account_id in accounts:
            if get_account(state, account_id).authorization != auth.id:
                raise invalid(f"{account_id} is not part of {auth.id}", "accounts")
        record.accounts = list(accounts)
    else:
        record.accounts = [a.id for a in accounts_of(state, auth.id) if a.status == "active"]
    record.status = "succeeded"
    record.result_authorization = auth.id
    record.result_account = record.relink_account
    return record
