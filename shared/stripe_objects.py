"""Stripe objects as relink reads them: an account or authorization payload is parsed once,
where it enters (an event, an API read), into a typed, immutable snapshot.

Stripe's enums are open: a value Stripe adds later is kept as the plain string it is
(`AccountStatus | str`), never refused or mapped to something else. The members are
`StrEnum`s, so they compare equal to Stripe's strings and store as them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar, cast

E = TypeVar("E", bound=StrEnum)


class AccountStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DISCONNECTED = "disconnected"


class InactiveCause(StrEnum):
    ACCESS_EXPIRED = "access_expired"
    ACCESS_DENIED = "access_denied"
    INSTITUTION_REQUIREMENT = "institution_requirement"
    UNSPECIFIED = "unspecified"


class Action(StrEnum):
    """`status_details.{inactive,active}.action`."""

    RELINK_REQUIRED = "relink_required"
    NONE = "none"


class NumberStatus(StrEnum):
    """`account_numbers[].status`: only a transactable number moves money."""

    PENDING = "pending"
    TRANSACTABLE = "transactable"
    DEACTIVATED = "deactivated"
    EXPIRED = "expired"


HOLDER_TYPES = ("customer", "account")
TOKENIZED = "tokenized_account_number"


def open_enum(enum: type[E], value: object) -> E | str | None:
    """The member for a known value, the string itself for one Stripe added later."""
    if not isinstance(value, str):
        return None
    try:
        return enum(value)
    except ValueError:
        return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _mapping(value: object) -> Mapping[str, Any]:
    # A JSON object: isinstance leaves its key and value types unknown.
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else {}


def _list(value: object) -> list[object]:
    return cast(list[object], value) if isinstance(value, list) else []


@dataclass(frozen=True)
class Holder:
    """`account_holder`: a Customer (`cus_…`) or a connected account (`acct_…`)."""

    type: str
    id: str

    @classmethod
    def parse(cls, value: object) -> Holder | None:
        holder = _mapping(value)
        kind = holder.get("type")
        if kind not in HOLDER_TYPES:
            return None
        holder_id = holder.get(kind)
        if not isinstance(holder_id, str):  # expanded (or absent)
            holder_id = _mapping(holder_id).get("id")
        return cls(kind, holder_id) if isinstance(holder_id, str) and holder_id else None

    def as_param(self) -> dict[str, str]:
        """As Stripe's `account_holder` request parameter."""
        return {"type": self.type, self.type: self.id}


@dataclass(frozen=True)
class ActiveDetails:
    """`status_details.active` (preview): a working link that will need a relink."""

    action: Action | str | None = None
    expected_deactivation_date: int | None = None

    @classmethod
    def parse(cls, value: object) -> ActiveDetails:
        active = _mapping(value)
        date = active.get("expected_deactivation_date")
        return cls(
            open_enum(Action, active.get("action")),
            date if isinstance(date, int) and not isinstance(date, bool) else None,
        )


@dataclass(frozen=True)
class AccountNumber:
    """The tokenized account number (TAN) an account's payments use, from `account_numbers`
    (empty when the bank gives a plain account number, or none is shared)."""

    status: NumberStatus | str | None = None
    expected_expiry_date: int | None = None

    @classmethod
    def parse(cls, value: object) -> AccountNumber:
        for entry in _list(value):
            number = _mapping(entry)
            if number.get("identifier_type") == TOKENIZED:
                expiry = number.get("expected_expiry_date")
                return cls(
                    open_enum(NumberStatus, number.get("status")),
                    expiry if isinstance(expiry, int) and not isinstance(expiry, bool) else None,
                )
        return cls()

    @property
    def stopped(self) -> bool:
        """Deactivated or expired: payments fail until a relink refreshes it."""
        return self.status in (NumberStatus.DEACTIVATED, NumberStatus.EXPIRED)

    def needs_refresh(self, horizon_end: int) -> bool:
        """Stopped, or expected to expire by `horizon_end` (unix seconds)."""
        if self.stopped:
            return True
        return self.expected_expiry_date is not None and self.expected_expiry_date <= horizon_end


@dataclass(frozen=True)
class AccountSnapshot:
    """A `financial_connections.account` as of one moment."""

    id: str
    status: AccountStatus | str
    authorization: str | None = None
    holder: Holder | None = None
    institution_name: str | None = None
    display_name: str | None = None
    last4: str | None = None
    subcategory: str | None = None
    inactive_cause: InactiveCause | str | None = None
    inactive_action: Action | str | None = None
    active: ActiveDetails = ActiveDetails()
    number: AccountNumber = AccountNumber()
    permissions: tuple[str, ...] = ()
    has_inactive_details: bool = False
    has_authorization_key: bool = False  # preview versions render it, null or not

    @classmethod
    def parse(cls, account: Mapping[str, Any]) -> AccountSnapshot:
        """Raises ValueError when the payload has no id or status (it is not an account)."""
        account_id, status = account.get("id"), open_enum(AccountStatus, account.get("status"))
        if not isinstance(account_id, str) or status is None:
            raise ValueError("a financial_connections.account needs an id and a status")
        details = _mapping(account.get("status_details"))
        inactive = _mapping(details.get("inactive"))
        permissions = account.get("permissions")
        return cls(
            id=account_id,
            status=status,
            authorization=_text(account.get("authorization")),
            holder=Holder.parse(account.get("account_holder")),
            institution_name=_text(account.get("institution_name")),
            display_name=_text(account.get("display_name")),
            last4=_text(account.get("last4")),
            subcategory=_text(account.get("subcategory")),
            inactive_cause=open_enum(InactiveCause, inactive.get("cause")),
            inactive_action=open_enum(Action, inactive.get("action")),
            active=ActiveDetails.parse(details.get("active")),
            number=AccountNumber.parse(account.get("account_numbers")),
            permissions=tuple(p for p in permissions or () if isinstance(p, str)),
            has_inactive_details=bool(inactive),
            has_authorization_key="authorization" in account,
        )

    @property
    def lacks_preview_fields(self) -> bool:
        """A GA-version payload: no `authorization` key, or inactive without its details. A
        preview payload's null `authorization` is an account without one, not a GA payload."""
        return (self.authorization is None and not self.has_authorization_key) or (
            self.status == AccountStatus.INACTIVE and not self.has_inactive_details
        )

    def needs_relink(self, horizon_end: int) -> bool:
        """Not working now, or working but flagged for a relink ahead of breakage, or its
        tokenized number needs the refresh a relink brings (by `horizon_end`)."""
        return (
            self.status != AccountStatus.ACTIVE
            or self.active.action == Action.RELINK_REQUIRED
            or self.number.needs_refresh(horizon_end)
        )


@dataclass(frozen=True)
class AuthorizationSnapshot:
    """A `financial_connections.authorization` (preview) as of one moment."""

    id: str
    status: AccountStatus | str | None
    holder: Holder | None = None
    institution_name: str | None = None
    active: ActiveDetails = ActiveDetails()

    @classmethod
    def parse(cls, authorization: Mapping[str, Any]) -> AuthorizationSnapshot:
        authorization_id = authorization.get("id")
        if not isinstance(authorization_id, str):
            raise ValueError("a financial_connections.authorization needs an id")
        return cls(
            id=authorization_id,
            status=open_enum(AccountStatus, authorization.get("status")),
            holder=Holder.parse(authorization.get("account_holder")),
            institution_name=_text(authorization.get("institution_name")),
            active=ActiveDetails.parse(_mapping(authorization.get("status_details")).get("active")),
        )
