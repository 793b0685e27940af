"""GET /api/v1/revenue: the money at stake of the account the call acts within."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shared.db import session_scope
from shared.models import RelinkCase
from shared.payments.money_models import CaseMoney
from tests.platform_api.conftest import bearer, make_key


def test_revenue_is_per_stripe_account_and_never_stored(api: TestClient) -> None:
    with session_scope() as session:
        for account, currency, amount in (("", "usd", 5000), ("acct_A", "eur", 7500)):
            case = RelinkCase(authorization_id=f"fcauth_{currency}", stripe_account=account)
            session.add(case)
            session.flush()
            assert case.id is not None
            session.add(CaseMoney(case_id=case.id, currency=currency, monthly_at_risk=amount))
    key = bearer(make_key("read"))
    mine = api.get("/api/v1/revenue", headers=key)
    assert mine.status_code == 200
    assert mine.headers["Cache-Control"] == "no-store"
    assert mine.json()["at_risk"] == [
        {"currency": "usd", "monthly": 5000, "failed_invoices_due": 0, "cases": 1}
    ]
    connected = api.get("/api/v1/revenue", headers={**key, "Stripe-Account": "acct_A"})
    assert [r["currency"] for r in connected.json()["at_risk"]] == ["eur"]
    bad = api.get("/api/v1/revenue", headers={**key, "Stripe-Account": "cus_x"})
    assert bad.status_code == 400
    assert api.get("/api/v1/revenue").status_code == 401
