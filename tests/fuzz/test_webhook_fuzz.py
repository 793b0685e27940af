"""POST /webhooks/stripe under hypothesis: random and near-valid bodies, headers and signatures.

For every input: never a 5xx, never a row for a rejected delivery, never a secret in the
response; a delivery that is accepted is exactly the signed event, stored under its id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import select

from api.app import create_app
from shared.db import session_scope
from shared.models import WebhookEvent
from tests.conftest import OLD_WEBHOOK_SECRET, WEBHOOK_SECRET
from tests.factories import body_of, event, signature
from tests.fuzz.conftest import FUZZ, SECRETS

URL = "/webhooks/stripe"
MAX_BODY = 256 * 1024


@pytest.fixture
def client(db: None) -> Iterator[TestClient]:
    Path("var/broker/queue").mkdir(parents=True, exist_ok=True)  # the embedded broker, in cwd
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def row_count() -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(WebhookEvent)).one()


def row(event_id: str) -> WebhookEvent | None:
    with session_scope() as session:
        return session.get(WebhookEvent, event_id)


Deliver = Callable[..., Any]


@pytest.fixture
def deliver(client: TestClient) -> Deliver:
    """POST and check the invariants that hold for any input; return the response."""

    def post(body: bytes, headers: dict[str, str]) -> Any:
        before = row_count()
        response = client.post(URL, content=body, headers=headers)
        assert response.status_code < 500 or response.status_code == 503, response.text
        assert response.status_code != 500
        text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
        for secret in SECRETS:
            assert secret not in text
        if response.status_code != 200:
            assert row_count() == before, "a rejected delivery wrote a row"
            assert response.headers["content-type"].startswith("application/json")
            assert set(response.json()) == {"error"}
            assert set(response.json()["error"]) == {"type", "code", "message", "param"}
        return response

    return post


header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200)


@FUZZ
@given(body=st.binary(max_size=2048), sig=st.one_of(st.none(), header_text))
def test_random_bytes_and_signature_headers(deliver: Deliver, body: bytes, sig: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if sig is not None:
        headers["Stripe-Signature"] = sig
    response = deliver(body, headers)
    assert response.status_code == 400  # nothing random verifies


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@FUZZ
@given(document=json_values, secret=st.sampled_from([WEBHOOK_SECRET, OLD_WEBHOOK_SECRET]))
def test_validly_signed_json_that_is_not_an_event(
    deliver: Deliver, document: Any, secret: str
) -> None:
    body = json.dumps(document).encode()
    response = deliver(body, {"Stripe-Signature": signature(body, secret)})
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("not_an_event", "body_not_json")


event_fields = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(
            st.text(max_size=30),
            st.integers(),
            st.builds(lambda s: "evt_" + s, st.text(max_size=20)),
        ),
        "type": st.one_of(st.text(max_size=60), st.none(), st.integers()),
        "created": st.one_of(
            st.integers(min_value=-(2**70), max_value=2**70),
            st.floats(allow_nan=False),
            st.text(max_size=5),
        ),
        "livemode": st.one_of(st.booleans(), st.none(), st.integers(0, 1)),
        "data": st.one_of(
            st.none(), st.dictionaries(st.sampled_from(["object", "x"]), json_values, max_size=2)
        ),
        "api_version": st.one_of(st.none(), st.text(max_size=30)),
        "account": st.one_of(st.none(), st.text(max_size=30), st.integers()),
    },
)


@FUZZ
@given(overrides=event_fields)
def test_signed_events_with_mangled_fields(deliver: Deliver, overrides: dict[str, Any]) -> None:
    evt = event(**overrides)
    body = json.dumps(evt).encode()  # stdlib: integers beyond 64 bits too
    seen = isinstance(evt["id"], str) and row(evt["id"]) is not None
    response = deliver(body, {"Stripe-Signature": signature(body, WEBHOOK_SECRET)})
    if response.status_code == 200:
        stored = row(evt["id"])
        assert stored is not None
        if not seen:  # a duplicate id keeps the first payload (dedupe)
            assert stored.payload == body.decode()
    else:
        assert response.status_code in (400, 413)


def _flip(text: str, index: int) -> str:
    position = index % len(text)
    replacement = "0" if text[position] != "0" else "1"
    return text[:position] + replacement + text[position + 1 :]


mutations = st.sampled_from(
    [
        "flip_body",
        "flip_signature",
        "wrong_secret",
        "too_old",
        "too_new",
        "no_v1",
        "drop_timestamp",
        "duplicate_t",
        "extra_spaces",
        "empty_header",
        "truncated_signature",
        "uppercase_hex",
        "body_appended",
    ]
)


@FUZZ
@given(mutation=mutations, index=st.integers(min_value=0, max_value=10_000))
def test_near_valid_signatures_are_refused(deliver: Deliver, mutation: str, index: int) -> None:
    body = body_of(event())
    now = int(time.time())
    header = signature(body, WEBHOOK_SECRET, now)
    t_part, v1_part = header.split(",", 1)
    sent_body = body
    if mutation == "flip_body":
        position = index % len(body)
        sent_body = body[:position] + bytes([body[position] ^ 0x01]) + body[position + 1 :]
    elif mutation == "flip_signature":
        header = f"{t_part},v1={_flip(v1_part.removeprefix('v1='), index)}"
    elif mutation == "wrong_secret":
        header = signature(body, "whsec_not_ours_" + str(index), now)
    elif mutation == "too_old":
        header = signature(body, WEBHOOK_SECRET, now - 301 - index)
    elif mutation == "too_new":
        header = signature(body, WEBHOOK_SECRET, now + 301 + index)
    elif mutation == "no_v1":
        header = header.replace("v1=", "v0=")
    elif mutation == "drop_timestamp":
        header = v1_part
    elif mutation == "duplicate_t":
        header = f"t={now - 10_000},{header}"
    elif mutation == "extra_spaces":
        header = header.replace(",", " , ")
    elif mutation == "empty_header":
        header = ""
    elif mutation == "truncated_signature":
        header = header[: len(t_part) + 4 + index % 60]
    elif mutation == "uppercase_hex":
        header = f"{t_part},{v1_part.upper().replace('V1=', 'v1=')}"
        if header == signature(body, WEBHOOK_SECRET, now):
            header = header + "0"
    elif mutation == "body_appended":
        sent_body = body + b" " * (1 + index % 5)
    response = deliver(sent_body, {"Stripe-Signature": header})
    if mutation == "duplicate_t" and response.status_code == 200:
        return  # the SDK reads the last t=; the body and its v1 are genuine
    if mutation == "extra_spaces" and response.status_code == 200:
        return  # whitespace around items does not change what was signed
    assert response.status_code == 400, (mutation, response.text)


@FUZZ
@given(
    content_type=st.one_of(st.none(), header_text),
    extra=st.dictionaries(
        st.sampled_from(
            ["X-Forwarded-For", "Accept", "User-Agent", "Content-Encoding", "Stripe-Version"]
        ),
        header_text,
        max_size=3,
    ),
)
def test_arbitrary_headers_do_not_change_the_verdict(
    deliver: Deliver, content_type: str | None, extra: dict[str, str]
) -> None:
    evt = event()
    body = body_of(evt)
    headers = {"Stripe-Signature": signature(body, WEBHOOK_SECRET), **extra}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = deliver(body, headers)
    assert response.status_code == 200
    assert row(evt["id"]) is not None


def test_oversized_body_is_refused_without_a_write(deliver: Deliver) -> None:
    body = b'{"object": "event", "pad": "' + b"x" * MAX_BODY + b'"}'
    response = deliver(body, {"Stripe-Signature": signature(body, WEBHOOK_SECRET)})
    assert response.status_code == 413
