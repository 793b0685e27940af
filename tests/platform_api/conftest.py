"""The platform API's fixtures: the app, keys per scope set, cases with known holders, banks
and emails, and the relink page's app over the simulator (for minted links)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from shared import api_keys
from shared.connect import acting_on
from shared.db import session_scope
from shared.models import (
    CaseState,
    EmailKind,
    EmailOutbox,
    FcAccount,
    FcAuthorization,
    OutboxStatus,
    RelinkCase,
)
from tests.relink_page.conftest import (  # noqa: F401  (the page's app over the simulator)
    client,
    sim,
    sim_server,
    world,
)

ADDRESS = "ada.lovelace@example.com"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_key(*scopes: str, name: str = "test") -> str:
    with session_scope() as session:
        _, key = api_keys.create_key(session, name, list(scopes))
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api(db: None, published: list[Any]) -> Iterator[TestClient]:
    with TestClient(create_app(), follow_redirects=False) as app:
        yield app


@pytest.fixture
def keys(db: None) -> dict[str, dict[str, str]]:
    """Authorization headers by name: read, write, contacts (write:contacts), pii (read +
    read:pii), all."""
    return {
        "read": bearer(make_key("read")),
        "write": bearer(make_key("write")),
        "contacts": bearer(make_key("write:contacts")),
        "pii": bearer(make_key("read", "read:pii")),
        "all": bearer(make_key("read", "write", "read:pii", "write:contacts")),
    }


def add_case(
    authorization: str,
    *,
    state: str = CaseState.OPEN,
    holder: tuple[str, str] | None = ("customer", "cus_ada"),
    institution: str = "StripeBank",
    opened_at: datetime = T0,
    with_account_id: bool = True,
    stripe_account: str = "",
) -> int:
    """An authorization with two broken accounts and its case, on `stripe_account` ('' the
    platform's own); returns the case id."""
    holder_type, holder_id = holder or (None, None)
    with acting_on(stripe_account), session_scope() as session:
        if session.get(FcAuthorization, (authorization, stripe_account)) is None:
            session.add(
                FcAuthorization(
                    id=authorization,
                    institution_name=institution,
                    holder_type=holder_type,
                    holder_id=holder_id,
                    status="inactive",
                )
            )
            for n in (1, 2):
                session.add(
                    FcAccount(
                        id=f"fca_{authorization.removeprefix('fcauth_')}{n}",
                        authorization_id=authorization,
                        holder_type=holder_type,
                        holder_id=holder_id,
                        institution_name=institution,
                        display_name=f"Account {n}",
                        last4=f"000{n}",
                        status="inactive",
                        inactive_cause="access_expired",
                        inactive_action="relink_required",
                    )
                )
        resolved = state == CaseState.RESOLVED
        case = RelinkCase(
            authorization_id=authorization,
            account_id=f"fca_{authorization.removeprefix('fcauth_')}1" if with_account_id else None,
            state=state,
            cause="access_expired",
            action="relink_required",
            opened_at=opened_at,
            last_heard_at=opened_at,
            updated_at=opened_at,
            resolved_at=opened_at + timedelta(hours=1) if resolved else None,
            resolution="reactivated" if resolved else None,
        )
        session.add(case)
        session.flush()
        assert case.id is not None
        return case.id


def add_sent_email(case_id: int, recipient: str = ADDRESS) -> None:
    with session_scope() as session:
        session.add(
            EmailOutbox(
                case_id=case_id,
                kind=EmailKind.RELINK,
                recipient=recipient,
                status=OutboxStatus.SENT,
                attempts=1,
                message_id=f"relink-case-{case_id}-relink",
                send_after=T0 + timedelta(minutes=1),
                sent_at=T0 + timedelta(minutes=2),
            )
        )
