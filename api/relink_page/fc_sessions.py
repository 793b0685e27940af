"""The Financial Connections Session parameters the page asks Stripe for, and how it names
the bank, from the stored account and (when one was read) Stripe's live snapshot of it."""

from __future__ import annotations

from typing import Any

from api.relink_page.outcomes import Bank
from shared.cases.links import LinkPayload
from shared.models import FcAccount
from shared.stripe_objects import HOLDER_TYPES, AccountSnapshot, Holder

ANY_ACCOUNT_SUBCATEGORIES = ["checking", "savings"]


def bank_of(account: FcAccount | None, live: AccountSnapshot | None = None) -> Bank:
    """The live names first, then the stored ones."""

    def name(field: str) -> str | None:
        return (getattr(live, field) if live else None) or (
            getattr(account, field) if account else None
        )

    return Bank(name("institution_name"), name("display_name"), name("last4"))


def holder_of(account: FcAccount | None, live: AccountSnapshot | None = None) -> Holder | None:
    """The account holder Stripe reports, else the one stored."""
    if live is not None and live.holder is not None:
        return live.holder
    if account is None or account.holder_type not in HOLDER_TYPES or not account.holder_id:
        return None
    return Holder(account.holder_type, account.holder_id)


def relink_permissions(permissions: list[str] | tuple[str, ...]) -> list[str]:
    """The account's permissions plus `payment_method`, in order, without repeats."""
    return list(dict.fromkeys([*permissions, "payment_method"]))


def relink_session_params(
    payload: LinkPayload, live: AccountSnapshot | None, account: FcAccount | None
) -> dict[str, Any]:
    """Relink exactly this account: its holder (omitted when it has none), its permissions
    plus `payment_method`, its authorization and itself."""
    permissions = (live.permissions if live else ()) or (account.permissions if account else [])
    params: dict[str, Any] = {
        "permissions": relink_permissions(permissions),
        "relink_options": {
            "authorization": payload.authorization_id,
            "account": payload.account_id,
        },
    }
    holder = holder_of(account, live)
    if holder is not None:
        params["account_holder"] = holder.as_param()
    return params


def any_account_session_params(authorization_id: str, account: FcAccount | None) -> dict[str, Any]:
    """Relink the authorization with any one checking or savings account at the bank."""
    params: dict[str, Any] = {
        "permissions": relink_permissions(account.permissions if account else []),
        "relink_options": {"authorization": authorization_id},
        "filters": {"account_subcategories": ANY_ACCOUNT_SUBCATEGORIES},
        "limits": {"accounts": 1},
    }
    holder = holder_of(account)
    if holder is not None:
        params["account_holder"] = holder.as_param()
    return params


def hosted_params(return_url: str) -> dict[str, Any]:
    """RELINK_UI=stripe_hosted: the session runs on Stripe's hosted page (its `url`), which
    sends the customer back to the top-level `return_url`; relink delivers that url itself.
    Only parameters of Stripe's published spec: its `hosted` has `delivery_method` alone (a
    `hosted[return_url]` would be refused as parameter_unknown)."""
    return {"ui_mode": "hosted", "hosted": {"delivery_method": "url"}, "return_url": return_url}


def online_acceptance(ip_address: str, user_agent: str) -> dict[str, Any]:
    """The customer accepted the mandate on relink's page (RELINK_UI=stripe_hosted, where no
    Stripe.js records it): `mandate_data[customer_acceptance]` of type online."""
    return {"type": "online", "online": {"ip_address": ip_address, "user_agent": user_agent}}


def setup_intent_params(
    linked_account_id: str,
    name: str,
    account: FcAccount | None,
    acceptance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A SetupIntent for the newly linked account, in the name the customer gave, on the
    Customer when the account holder is one; confirmed at once with the mandate's
    `acceptance` when one is given (else Stripe.js confirms it)."""
    params: dict[str, Any] = {
        "allowed_payment_method_types": ["us_bank_account"],
        "payment_method_data": {
            "type": "us_bank_account",
            "us_bank_account": {"financial_connections_account": linked_account_id},
            "billing_details": {"name": name},
        },
        "usage": "off_session",
    }
    if account is not None and account.holder_type == "customer" and account.holder_id:
        params["customer"] = account.holder_id
    if acceptance is not None:
        params["confirm"] = True
        params["mandate_data"] = {"customer_acceptance": acceptance}
    return params


def parse_account(value: object) -> AccountSnapshot | None:
    """A snapshot of an account payload, or None for anything that is not one."""
    if not isinstance(value, dict):
        return None
    try:
        return AccountSnapshot.parse(value)
    except ValueError:
        return None
