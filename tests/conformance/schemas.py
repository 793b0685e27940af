"""Stripe's own schemas (vendored under spec/, see spec/README.md) and an OpenAPI 3.0
validator over them (openapi-schema-validator: `nullable`, `$ref` into one components
document).

Responses are checked against the object schemas as published, closed (`additionalProperties:
false`) where spec/ holds every property of the object, so a field the spec does not have
fails too. Requests are checked the stricter way Stripe answers them: an unknown parameter at
any depth is a 400 `parameter_unknown`, so every object of a request schema is closed."""

from __future__ import annotations

import copy
import json
import sys
import types
import typing
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import stripe
import typing_extensions
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator

SPEC = Path(__file__).parent / "spec"
EVENT_TYPES = frozenset(json.loads((SPEC / "event_types_fc.json").read_text()))

# Objects whose every property spec/ holds (copied whole from the spec): closed.
CLOSED = (
    "financial_connections.account",
    "financial_connections.authorization",
    "financial_connections.session",
    "event",
    "customer",
    "setup_intent",
    "subscription",
    "payment_method_us_bank_account",
    "payment_method_us_bank_account_status_details",
    "payment_method_us_bank_account_blocked",
    "subscription_item",
    "price",
)
# Referenced by the vendored schemas but not vendored: any object (see spec/README.md).
STUBS = (
    "account",
    "customer_object",
    "financial_connections.institution",
    "financial_connections.account_ownership",
    "token",
    "plan",
)


def _load(name: str) -> dict[str, Any]:
    raw = json.loads((SPEC / name).read_text())
    return {k: v for k, v in raw.items() if not k.startswith("_")}


@cache
def components() -> dict[str, Any]:
    schemas: dict[str, Any] = {name: {"type": "object"} for name in STUBS}
    for name, body in {**_load("bank_connections.json"), **_load("billing.json")}.items():
        schemas[name] = {k: v for k, v in body.items() if not k.startswith("_")}
    schemas["financial_connections.account"] = _load("fc_account.json")
    schemas["financial_connections.authorization"] = _load("fc_authorization.json")
    schemas["financial_connections.session"] = _load("fc_session.json")
    schemas["event"] = _load("event.json")
    schemas["fc_session_create_request"] = closed_request(_load("fc_session_create_request.json"))
    for name in CLOSED:
        schemas[name] = {**schemas[name], "additionalProperties": False}
    return {"components": {"schemas": nullable_any_of(schemas)}}


def nullable_any_of(schema: Any) -> Any:
    """Stripe writes a nullable reference as `{"nullable": true, "anyOf": [...]}` and a nullable
    enum without null among its values. OAS 3.0.3 gives `nullable` a meaning only beside
    `type` and leaves `enum` as written, so a strict validator refuses null in both; Stripe's
    SDKs (and Stripe's answers) mean null is allowed, and so does this: null joins the `anyOf`
    or the `enum`."""
    if isinstance(schema, list):
        return [nullable_any_of(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: nullable_any_of(v) for k, v in schema.items()}
    if out.get("nullable") is True and "anyOf" in out and "type" not in out:
        out["anyOf"] = [*out["anyOf"], {"enum": [None]}]
    if out.get("nullable") is True and None not in out.get("enum", [None]):
        out["enum"] = [*out["enum"], None]
    return out


def closed_request(schema: Any) -> Any:
    """Every object schema with `properties` refuses other keys (Stripe's parameter_unknown)."""
    if isinstance(schema, list):
        return [closed_request(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed_request(v) for k, v in schema.items()}
    if "properties" in out and out.get("type") == "object":
        out["additionalProperties"] = False
    return out


def _validator(schema: dict[str, Any]) -> OAS30Validator:
    """`schema` inside the components document, so its `#/components/...` refs resolve."""
    return OAS30Validator({**components(), "allOf": [schema]})


def errors(schema_name: str, instance: Any) -> list[str]:
    """Every way `instance` breaks the named components schema (empty: valid)."""
    schema = {"$ref": f"#/components/schemas/{schema_name}"}
    return _messages(_validator(schema), instance)


def errors_against(schema: dict[str, Any], instance: Any) -> list[str]:
    return _messages(_validator(schema), instance)


def _messages(validator: OAS30Validator, instance: Any) -> list[str]:
    found: list[ValidationError] = sorted(
        validator.iter_errors(instance), key=lambda e: list(e.absolute_path)
    )
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found]


def assert_valid(schema_name: str, instance: Any) -> None:
    found = errors(schema_name, instance)
    assert not found, f"{schema_name} breaks Stripe's spec:\n" + "\n".join(found)


def list_of(item: str) -> dict[str, Any]:
    """A Stripe list object of `item`s."""
    return {
        "type": "object",
        "required": ["data", "has_more", "object", "url"],
        "additionalProperties": False,
        "properties": {
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "has_more": {"type": "boolean"},
            "object": {"type": "string", "enum": ["list"]},
            "url": {"type": "string"},
        },
    }


# Request parameters of the calls whose schema spec/ does not hold: from stripe-python
# 16.1.0's generated *Params TypedDicts (generated from the same spec), as closed schemas.

_OPTION_KEYS = frozenset(stripe.RequestOptions.__annotations__)


def params_schema(params: type) -> dict[str, Any]:
    """The JSON schema of an SDK params TypedDict: its keys (RequestOptions' left out),
    Literal values as enums, nested TypedDicts closed."""
    namespace = vars(sys.modules[params.__module__])
    properties = {
        key: _type_schema(hint, namespace)
        for key, hint in params.__annotations__.items()
        if key not in _OPTION_KEYS
    }
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _type_schema(hint: Any, namespace: dict[str, Any]) -> dict[str, Any]:
    if isinstance(hint, str | typing.ForwardRef):
        name = hint if isinstance(hint, str) else hint.__forward_arg__
        hint = eval(name, namespace)  # noqa: S307  (a name the SDK's own module defines)
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Required, typing.NotRequired, typing_extensions.NotRequired):
        return _type_schema(args[0], namespace)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_type_schema(arg, namespace) for arg in args]}
    if origin is list:
        return {"type": "array", "items": _type_schema(args[0], namespace)}
    if isinstance(origin, type) and issubclass(origin, dict | stripe.StripeObject):  # metadata
        return {"type": "object", "additionalProperties": _type_schema(args[-1], namespace)}
    if hint is Any:
        return {}
    simple = {str: "string", bool: "boolean", int: "integer", float: "number", Decimal: "string"}
    if hint in simple:
        return {"type": simple[hint]}
    if isinstance(hint, type) and typing_extensions.is_typeddict(hint):
        return params_schema(hint)
    raise TypeError(f"no schema for {hint!r}")


def coerce(value: Any, schema: dict[str, Any]) -> Any:
    """A form-decoded request value (strings, lists, dicts) typed as Stripe reads the form
    for `schema`: "1" is an integer where one is expected, "true" a boolean. Anything else
    stays a string, so a wrong type still fails validation."""
    schema = _resolve(schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        for option in options:
            typed = coerce(value, option)
            if not _messages(_validator(_resolve(option)), typed):
                return typed
        return value
    kind = schema.get("type")
    if isinstance(value, dict) and kind == "object":
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        return {
            k: coerce(v, props.get(k) or (extra if isinstance(extra, dict) else {}))
            for k, v in value.items()
        }
    if isinstance(value, list) and kind == "array":
        return [coerce(item, schema.get("items") or {}) for item in value]
    if isinstance(value, str):
        if kind == "integer" and value.lstrip("-").isdigit():
            return int(value)
        if kind == "boolean" and value in ("true", "false"):
            return value == "true"
    return value


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not ref:
        return schema
    name = str(ref).rsplit("/", 1)[1]
    return copy.deepcopy(components()["components"]["schemas"][name])
