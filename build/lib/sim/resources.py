"""The Stripe REST operations: parameter validation and object rendering.

Each function takes decoded params and the request's API version and returns the JSON
body, raising `StripeError` as Stripe would. Call with the lock held.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sim import billing, objects
from sim.errors import (
    StripeError,
    invalid,
    missing,
    parameter_missing,
    parameter_unknown,
    parameters_exclusive,
)
from sim.events import thin_event
from sim.ids import new_id, now
from sim.pagination import paginate
from sim.scenarios import get_account, get_authorization, get_session, resolve_holder
from sim.state import Account, Session, SetupIntent, SimState
from sim.versions import PAYMENT_METHOD_TYPES_REMOVED, is_preview, release_date

PERMISSIONS = ("balances", "ownership", "payment_method", "transactions")
SUBCATEGORIES = ("checking", "credit_card", "line_of_credit", "mortgage", "savings")
COMMON = {"expand"}


def _only(params: dict[str, Any], allowed: set[str]) -> None:
    for key in params:
        if key not in allowed | COMMON:
            raise parameter_unknown(key)


def _string(params: dict[str, Any], key: str, param: str | None = None) -> str:
    value = params.get(key)
    name = param or key
    if value is None:
        raise parameter_missing(name)
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {value!r}", name, "parameter_invalid_string")
    if value == "":
        raise invalid(
            f"You passed an empty string for '{name}'. We assume empty values are an "
            "attempt to unset a parameter; however '{name}' cannot be unset. You should "
            f"remove '{name}' from your request or supply a non-empty value.",
            name,
            "parameter_invalid_empty",
        )
    return value


def _string_list(params: dict[str, Any], key: str, allowed: tuple[str, ...]) -> list[str]:
    value = params.get(key)
    if value is None:
        raise parameter_missing(key)
    if value == "":
        raise invalid(f"You passed an empty string for '{key}'.", key, "parameter_invalid_empty")
    if not isinstance(value, list):
        raise invalid(f"Invalid array for {key}", key)
    for index, item in enumerate(value):
        if item not in allowed:
            raise invalid(
                f"Invalid {key}[{index}]: must be one of {', '.join(allowed)}",
                f"{key}[{index}]",
            )
    return [str(item) for item in value]


# financial_connections.account


def retrieve_account(state: SimState, account_id: str, version: str) -> dict[str, Any]:
    return objects.account(get_account(state, account_id), version)


def list_accounts(state: SimState, params: dict[str, Any], version: str) -> dict[str, Any]:
    _only(params, {"account_holder", "session", "limit", "starting_after", "ending_before"})
    records: list[Account] = list(state.accounts.values())
    holder = params.get("account_holder")
    if holder is not None:
        if not isinstance(holder, dict):
            raise invalid("Invalid hash", "account_holder")
        for key in holder:
            if key not in ("customer", "account", "customer_account"):
                raise parameter_unknown(f"account_holder[{key}]")
        if "customer" in holder and "account" in holder:
            raise parameters_exclusive("account_holder[customer]", "account_holder[account]")
        if "customer" in holder:
            records = [
                a
                for a in records
                if a.holder.type == "customer" and a.holder.id == holder["customer"]
            ]
        if "account" in holder:
            records = [
                a
                for a in records
                if a.holder.type == "account" and a.holder.id == holder["account"]
            ]
    if "session" in params:
        session = get_session(state, str(params["session"]))
        records = [a for a in records if a.id in session.accounts]
    return paginate(
        records,
        params,
        objects.ACCOUNTS_URL,
        lambda a: objects.account(a, version),
        lambda a: a.id,
        "financial connections account",
    )


# financial_connections.authorization (preview only)


def retrieve_authorization(state: SimState, auth_id: str, version: str) -> dict[str, Any]:
    return objects.authorization(get_authorization(state, auth_id), version)


# financial_connections.session

SESSION_PARAMS = {
    "account_holder",
    "permissions",
    "filters",
    "limits",
    "manual_entry",
    "prefetch",
    "return_url",
}
PREVIEW_SESSION_PARAMS = {"relink_options", "hosted", "ui_mode"}


def _session_accounts(state: SimState, record: Session) -> list[Account]:
    return [state.accounts[a] for a in record.accounts if a in state.accounts]


def create_session(
    state: SimState, params: dict[str, Any], version: str, base_url: str = ""
) -> dict[str, Any]:
    preview = is_preview(version)
    _only(params, SESSION_PARAMS | (PREVIEW_SESSION_PARAMS if preview else set()))
    permissions = _string_list(params, "permissions", PERMISSIONS)
    relink = params.get("relink_options")
    relink_auth = relink_account = None
    if relink is not None:
        if not isinstance(relink, dict):
            raise invalid("Invalid hash", "relink_options")
        for key in relink:
            if key not in ("authorization", "account"):
                raise parameter_unknown(f"relink_options[{key}]")
        relink_auth = _string(relink, "authorization", "relink_options[authorization]")
        auth = state.authorizations.get(relink_auth)
        if auth is None:
            raise missing(
                "financial connections authorization",
                relink_auth,
                "relink_options[authorization]",
            )
        if "account" in relink:
            relink_account = _string(relink, "account", "relink_options[account]")
            account = state.accounts.get(relink_account)
            if account is None:
                raise missing(
                    "financial connections account", relink_account, "relink_options[account]"
                )
            if account.authorization != relink_auth:
                raise invalid(
                    f"The account {relink_account} does not belong to the authorization "
                    f"{relink_auth}.",
                    "relink_options[account]",
                )
    holder_param = params.get("account_holder")
    if holder_param is None:
        if not preview:
            raise parameter_missing("account_holder")
        holder = state.authorizations[relink_auth].holder if relink_auth else None
    else:
        if not isinstance(holder_param, dict):
            raise invalid("Invalid hash", "account_holder")
        if "type" not in holder_param:
            raise parameter_missing("account_holder[type]")
        holder = resolve_holder(state, holder_param)
        if relink_auth and state.authorizations[relink_auth].holder != holder:
            raise invalid(
                "account_holder must match the account holder of the authorization being relinked.",
                "account_holder",
            )
    filters = params.get("filters") or {}
    if not isinstance(filters, dict):
        raise invalid("Invalid hash", "filters")
    for key in filters:
        if key not in (
            "account_subcategories",
            "country",
            "require_payment_method_support",
            "institution" if preview else "account_subcategories",
        ):
            raise parameter_unknown(f"filters[{key}]")
    subcategories = None
    if "account_subcategories" in filters:
        subcategories = _string_list(filters, "account_subcategories", SUBCATEGORIES)
    limits = params.get("limits") or {}
    limit_accounts = None
    if isinstance(limits, dict) and limits.get("accounts") not in (None, ""):
        try:
            limit_accounts = int(limits["accounts"])
        except (TypeError, ValueError):
            raise invalid(
                "Invalid integer", "limits[accounts]", "parameter_invalid_integer"
            ) from None
        if limit_accounts < 1 or limit_accounts > 100:
            raise invalid("limits[accounts] must be between 1 and 100", "limits[accounts]")
    ui_mode, delivery_method = _hosted(params, relink_auth)
    session_id = new_id("fcsess")
    record = Session(
        id=session_id,
        client_secret=f"{session_id}_secret_{new_id('s', 25)[3:]}",
        created=now(),
        holder=holder,
        permissions=permissions,
        account_subcategories=subcategories,
        limit_accounts=limit_accounts,
        country=filters.get("country"),
        relink_authorization=relink_auth,
        relink_account=relink_account,
        return_url=params.get("return_url"),
        ui_mode=ui_mode,
        hosted_delivery_method=delivery_method,
        url=f"{base_url}/_sim/hosted/{session_id}" if ui_mode == "hosted" else None,
    )
    state.sessions[record.id] = record
    return objects.session(record, [], version)


def _hosted(params: dict[str, Any], relink_auth: str | None) -> tuple[str, str | None]:
    """`ui_mode` and `hosted[delivery_method]`. The request's `hosted` has only
    `delivery_method` in every published spec (so `hosted[return_url]` is an unknown
    parameter, as at Stripe); a hosted session returns the customer to the top-level
    `return_url` (http or https), which it needs. `email`/`url` delivery is for relink
    sessions only."""
    ui_mode = str(params.get("ui_mode", "modal"))
    if ui_mode not in ("hosted", "modal"):
        raise invalid("Invalid ui_mode: must be one of hosted or modal", "ui_mode")
    if ui_mode == "hosted":
        return_url = _string(params, "return_url")
        if not return_url.startswith(("https://", "http://")):
            raise invalid("Not a valid URL", "return_url", "url_invalid")
    hosted = params.get("hosted")
    if hosted is None:
        return ui_mode, None
    if not isinstance(hosted, dict):
        raise invalid("Invalid hash", "hosted")
    for key in hosted:
        if key != "delivery_method":
            raise parameter_unknown(f"hosted[{key}]")
    if ui_mode != "hosted":
        raise invalid("hosted can only be set when ui_mode is hosted.", "hosted")
    delivery = hosted.get("delivery_method")
    if delivery is not None:
        if delivery not in ("email", "url"):
            raise invalid(
                "Invalid hosted[delivery_method]: must be one of email or url",
                "hosted[delivery_method]",
            )
        if relink_auth is None:
            raise invalid(
                "hosted[delivery_method] can only be used with relink_options.",
                "hosted[delivery_method]",
            )
    return ui_mode, delivery


def retrieve_session(state: SimState, session_id: str, version: str) -> dict[str, Any]:
    record = get_session(state, session_id)
    return objects.session(record, _session_accounts(state, record), version)


def render_session(state: SimState, record: Session, version: str) -> dict[str, Any]:
    return objects.session(record, _session_accounts(state, record), version)


# customers and connected accounts


def list_webhook_endpoints(state: SimState, params: dict[str, Any]) -> dict[str, Any]:
    platform = [e for e in (state.webhook, state.connect_webhook) if e is not None]
    endpoints = [] if state.stripe_account else platform
    return paginate(
        endpoints,
        params,
        "/v1/webhook_endpoints",
        objects.webhook_endpoint,
        lambda endpoint: endpoint.id,
        "webhook endpoint",
    )


def retrieve_customer(state: SimState, customer_id: str) -> dict[str, Any]:
    record = state.customers.get(customer_id)
    if record is None:
        raise missing("customer", customer_id)
    return objects.customer(record)


def retrieve_connected_account(state: SimState, account_id: str) -> dict[str, Any]:
    record = state.connected_accounts.get(account_id)
    if record is None:
        raise StripeError(
            404,
            f"No such account: '{account_id}'",
            code="account_invalid",
            param="account",
        )
    return objects.connected_account(record)


# setup_intents

SETUP_INTENT_PARAMS = {
    "customer",
    "confirm",
    "usage",
    "payment_method_data",
    "mandate_data",
    "payment_method_options",
    "allowed_payment_method_types",
    "excluded_payment_method_types",
    "description",
    "metadata",
    "return_url",
    "payment_method",
    "automatic_payment_methods",
    "on_behalf_of",
    "flow_directions",
}


def create_setup_intent(state: SimState, params: dict[str, Any], version: str) -> dict[str, Any]:
    if "payment_method_types" in params and (
        is_preview(version) or release_date(version) >= PAYMENT_METHOD_TYPES_REMOVED
    ):
        raise invalid(
            "The payment_method_types parameter is no longer supported on this API version. "
            "Use allowed_payment_method_types or dynamic payment methods instead.",
            "payment_method_types",
            "payment_method_types_no_longer_supported",
        )
    allowed = SETUP_INTENT_PARAMS | {"payment_method_types"}
    _only(params, allowed)
    customer = params.get("customer")
    if customer is not None and customer not in state.customers:
        raise missing("customer", str(customer), "customer")
    types = params.get("allowed_payment_method_types") or params.get("payment_method_types")
    if types is None:
        types = ["us_bank_account"]
    if not isinstance(types, list):
        raise invalid("Invalid array", "allowed_payment_method_types")
    pm_data = params.get("payment_method_data")
    fca_id = billing_name = None
    payment_method = None
    if pm_data is not None:
        if not isinstance(pm_data, dict):
            raise invalid("Invalid hash", "payment_method_data")
        pm_type = _string(pm_data, "type", "payment_method_data[type]")
        if pm_type != "us_bank_account":
            raise invalid(
                f"The payment method type {pm_type} is not supported by the simulator.",
                "payment_method_data[type]",
            )
        bank = pm_data.get("us_bank_account") or {}
        fca_id = bank.get("financial_connections_account") if isinstance(bank, dict) else None
        param = "payment_method_data[us_bank_account][financial_connections_account]"
        if fca_id is None:
            raise parameter_missing(param)
        account = state.accounts.get(fca_id)
        if account is None:
            raise missing("financial connections account", fca_id, param)
        if account.status != "active":
            raise invalid(
                f"The Financial Connections account {fca_id} is {account.status} and cannot "
                "be used to create a payment method.",
                param,
                "financial_connections_account_inactive",
            )
        details = pm_data.get("billing_details") or {}
        billing_name = details.get("name") if isinstance(details, dict) else None
        if not billing_name:
            raise invalid(
                "Missing required param: payment_method_data[billing_details][name].",
                "payment_method_data[billing_details][name]",
                "parameter_missing",
            )
        payment_method = billing.create_payment_method(state, fca_id, billing_name).id
    confirm = str(params.get("confirm", "false")) == "true"
    if confirm and payment_method is None:
        raise invalid(
            "You must provide a payment method to confirm this SetupIntent.",
            "payment_method_data",
            "setup_intent_unexpected_state",
        )
    acceptance = _customer_acceptance(params.get("mandate_data"), confirm)
    seti = new_id("seti")
    record = SetupIntent(
        id=seti,
        client_secret=f"{seti}_secret_{new_id('s', 28)[3:]}",
        created=now(),
        customer=customer,
        payment_method=payment_method,
        financial_connections_account=fca_id,
        billing_name=billing_name,
        allowed_payment_method_types=[str(t) for t in types],
        usage=str(params.get("usage", "off_session")),
        status="requires_payment_method" if payment_method is None else "requires_confirmation",
        customer_acceptance=acceptance,
    )
    if confirm:
        confirm_setup_intent(state, record)
    state.setup_intents[record.id] = record
    return objects.setup_intent(record)


def _customer_acceptance(mandate_data: Any, confirm: bool) -> dict[str, Any] | None:
    """`mandate_data[customer_acceptance]`: only with `confirm=true`; `type` online (with
    `online[ip_address]`, a valid IP, and `online[user_agent]`) or offline."""
    if mandate_data is None:
        return None
    if not confirm:
        raise invalid(
            "You can only pass in mandate_data when confirm is set to true.", "mandate_data"
        )
    acceptance = mandate_data.get("customer_acceptance") if isinstance(mandate_data, dict) else None
    if not isinstance(acceptance, dict):
        raise parameter_missing("mandate_data[customer_acceptance]")
    kind = _string(acceptance, "type", "mandate_data[customer_acceptance][type]")
    if kind not in ("online", "offline"):
        raise invalid(
            "Invalid mandate_data[customer_acceptance][type]: must be one of online or offline",
            "mandate_data[customer_acceptance][type]",
        )
    if kind == "online":
        online = acceptance.get("online")
        prefix = "mandate_data[customer_acceptance][online]"
        if not isinstance(online, dict):
            raise parameter_missing(prefix)
        address = _string(online, "ip_address", f"{prefix}[ip_address]")
        _string(online, "user_agent", f"{prefix}[user_agent]")
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise invalid("Invalid IP address", f"{prefix}[ip_address]") from None
    return acceptance


def confirm_setup_intent(state: SimState, record: SetupIntent) -> None:
    """Succeeded; its PaymentMethod (created with it) is attached to its customer, if any."""
    if record.payment_method is None:
        record.payment_method = new_id("pm")
    found = state.payment_methods.get(record.payment_method)
    if found is not None and record.customer is not None:
        found.customer = record.customer
    record.status = "succeeded"
    record.mandate = record.mandate or new_id("mandate")


def retrieve_setup_intent(state: SimState, seti_id: str) -> dict[str, Any]:
    record = state.setup_intents.get(seti_id)
    if record is None:
        raise missing("setupintent", seti_id, "intent")
    return objects.setup_intent(record)


# events


def retrieve_thin_event(state: SimState, event_id: str) -> dict[str, Any]:
    """`GET /v2/core/events/{id}`: a thin event of the account acting now."""
    record = state.events.get(state.thin_events.get(event_id, ""))
    if record is None or record.account != (state.stripe_account or None):
        raise missing("v2.core.event", event_id)
    return thin_event(record)


def retrieve_event(state: SimState, event_id: str) -> dict[str, Any]:
    record = state.events.get(event_id)
    if record is None or record.account != (state.stripe_account or None):
        raise missing("event", event_id)
    return objects.event(record)
