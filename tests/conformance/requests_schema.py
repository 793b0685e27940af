"""Which schema each request relink sends is checked against, by the simulator's route."""

from __future__ import annotations

from typing import Any

import stripe.params as p
from stripe.params import financial_connections as fc

from sim.testing import SimServer
from tests.conformance.schemas import coerce, components, errors_against, params_schema

NO_PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {"expand": {"type": "array", "items": {"type": "string"}}},
    "additionalProperties": False,
}
SESSION_CREATE = {"$ref": "#/components/schemas/fc_session_create_request"}
ROUTES: dict[str, dict[str, Any]] = {
    "POST /v1/financial_connections/sessions": SESSION_CREATE,
    "GET /v1/financial_connections/sessions/{id}": NO_PARAMS,
    "GET /v1/financial_connections/accounts": params_schema(fc.AccountListParams),
    "GET /v1/financial_connections/accounts/{id}": NO_PARAMS,
    "GET /v1/financial_connections/authorizations/{id}": NO_PARAMS,
    "POST /v1/setup_intents": params_schema(p.SetupIntentCreateParams),
    "GET /v1/setup_intents/{id}": NO_PARAMS,
    "GET /v1/customers/{id}": NO_PARAMS,
    "POST /v1/customers/{id}": params_schema(p.CustomerUpdateParams),
    "GET /v1/accounts/{id}": NO_PARAMS,
    "GET /v1/payment_methods": params_schema(p.PaymentMethodListParams),
    "POST /v1/payment_methods/{id}/detach": params_schema(p.PaymentMethodDetachParams),
    "GET /v1/subscriptions": params_schema(p.SubscriptionListParams),
    "POST /v1/subscriptions/{id}": params_schema(p.SubscriptionUpdateParams),
    "GET /v1/invoices": params_schema(p.InvoiceListParams),
    "GET /v1/invoices/{id}": params_schema(p.InvoiceRetrieveParams),
    "POST /v1/invoices/{id}/pay": params_schema(p.InvoicePayParams),
    "GET /v1/events": params_schema(p.EventListParams),
    "GET /v1/webhook_endpoints": params_schema(p.WebhookEndpointListParams),
}


def request_errors(route: str, params: dict[str, Any]) -> list[str]:
    """How a request, decoded from its form as the simulator logged it, breaks the spec's
    request schema for its route (an unknown route is an error too)."""
    schema = ROUTES.get(route)
    if schema is None:
        return [f"{route}: no request schema: add the route's schema to ROUTES"]
    resolved = (
        components()["components"]["schemas"]["fc_session_create_request"]
        if schema is SESSION_CREATE
        else schema
    )
    return [f"{route} {e}" for e in errors_against(schema, coerce(params, resolved))]


def assert_requests_conform(sim: SimServer) -> set[str]:
    """Every request in the simulator's log is valid for its route; the routes seen."""
    logged = sim.client.requests("/v1/")
    found = [e for r in logged for e in request_errors(r["route"], r["params"])]
    assert not found, "\n".join(found)
    return {r["route"] for r in logged}
