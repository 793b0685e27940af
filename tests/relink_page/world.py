"""A deactivated authorization in the simulator and the matching rows relink would hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from shared.cases.links import LinkPayload, sign_link
from shared.models import CaseState, FcAccount, FcAuthorization, RelinkCase
from shared.settings import Settings
from sim.client import SimClient


@dataclass
class World:
    customer: str
    authorization: str
    accounts: list[str]
    case_id: int
    payload: LinkPayload
    _tokens: dict[tuple[str, ...], str] = field(default_factory=dict)

    def token(self, settings: Settings | None = None) -> str:
        """The link's token, signed once per settings (a token embeds its signing second)."""
        key = tuple(settings.signing_keys()) if settings else ()
        if key not in self._tokens:
            self._tokens[key] = sign_link(self.payload, settings)
        return self._tokens[key]


def build_world(
    sim: SimClient,
    db: Session,
    *,
    institution: str = "StripeBank",
    state: str = CaseState.OPEN,
    deactivate: bool = True,
) -> World:
    """Two accounts on one authorization, deactivated (relink_required), one open case."""
    customer = sim.create_customer("ada@example.com")["id"]
    auth = sim.create_authorization(
        {"type": "customer", "customer": customer},
        institution=institution,
        accounts=[
            {"last4": "6789", "subcategory": "checking", "display_name": "Everyday Checking"},
            {"last4": "4321", "subcategory": "savings", "display_name": "Rainy Day Savings"},
        ],
        permissions=["balances"],
    )
    if deactivate:
        sim.deactivate_authorization(auth["id"])
    db.add(
        FcAuthorization(
            id=auth["id"],
            institution_name=institution,
            holder_type="customer",
            holder_id=customer,
            status="inactive",
        )
    )
    objects: list[dict[str, Any]] = auth["account_objects"]
    for obj in objects:
        db.add(
            FcAccount(
                id=obj["id"],
                authorization_id=auth["id"],
                holder_type="customer",
                holder_id=customer,
                institution_name=institution,
                display_name=obj.get("display_name"),
                last4=obj.get("last4"),
                subcategory=obj.get("subcategory"),
                status="inactive",
                inactive_cause="access_expired",
                inactive_action="relink_required",
                permissions=list(obj.get("permissions") or []),
            )
        )
    case = RelinkCase(
        authorization_id=auth["id"],
        account_id=auth["accounts"][0],
        state=state,
        cause="access_expired",
        action="relink_required",
    )
    db.add(case)
    db.flush()
    assert case.id is not None
    payload = LinkPayload(
        case_id=case.id, account_id=auth["accounts"][0], authorization_id=auth["id"]
    )
    return World(customer, auth["id"], list(auth["accounts"]), case.id, payload)
