"""The one error shape (api/errors.py), for what FastAPI refuses or fails on as well as for
relink's own errors: Stripe's `{"error": {"type", "code", "message", "param"}}`."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.errors import param_of

Keys = dict[str, dict[str, str]]


def test_a_bad_body_field_is_a_422_naming_it_as_param(api: TestClient, keys: Keys) -> None:
    path = "/api/v1/contacts/customer/cus_ada"
    response = api.put(path, json={"email": "not an address"}, headers=keys["contacts"])
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_request",
        "email",
    )
    assert error["message"].startswith("body.email: ")


def test_a_parameter_path_is_named_as_stripe_names_it() -> None:
    assert param_of(("query", "limit")) == "limit"
    assert param_of(("body", "holder", "address", 0)) == "holder[address][0]"
    assert param_of(("body",)) is None


def test_an_unknown_path_is_a_404_in_the_shape(api: TestClient) -> None:
    response = api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "not_found",
            "message": "Not Found",
            "param": None,
        }
    }
    assert response.headers["cache-control"] == "no-store"


def test_an_unexpected_exception_is_a_500_in_the_shape_without_its_detail(db: None) -> None:
    app = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a detail that stays in the log")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "type": "api_error",
            "code": "internal_error",
            "message": "relink failed to answer; it is logged",
            "param": None,
        }
    }
