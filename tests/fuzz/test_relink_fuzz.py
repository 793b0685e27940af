"""The relink routes under hypothesis, against the simulator as Stripe: random and near-valid
tokens (signed with the real key but an unknown case or an odd payload, the wrong salt or key,
expired, truncated, one character changed), random bodies, content types and session ids.

For every input: never a 5xx (a 503 only when Stripe is unavailable, which the simulator here
never is), never a secret in the response, and a rejected request (4xx) changes no row of any
table. Only the link's own token, or its expired twin on /fresh, may change anything.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

from shared.cases.links import SALT, LinkPayload, sign_link
from shared.settings import get_settings
from sim.testing import SimServer
from tests.fuzz.conftest import FUZZ, SECRETS
from tests.relink_page.pages import press_button, snapshot
from tests.relink_page.world import World

# Each example talks to the simulator: 100 in CI, RELINK_FUZZ_EXAMPLES for a longer run.
RELINK_FUZZ = settings(FUZZ, max_examples=int(os.environ.get("RELINK_FUZZ_EXAMPLES", "100")))
ROUTES = ["", "/session", "/complete", "/setup", "/setup/complete", "/fresh"]
LINK_KEY = "unit-test-link-key"  # tests/conftest.py's LINK_SIGNING_KEYS
TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
# A Stripe client secret (`fcsess_…_secret_…`, `seti_…_secret_…`) or a key of any kind.
SECRET_SHAPES = re.compile(r"_secret_|\b(sk|rk)_(test|live)_|\bwhsec_")


@pytest.fixture(autouse=True)
def unlimited_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every example goes to the one case: its request limit is not what is fuzzed here."""
    monkeypatch.setenv("PAGE_CASE_REQUESTS_PER_MINUTE", "1000000")
    get_settings.cache_clear()


def expired(payload: dict[str, Any]) -> str:
    """A genuine token, signed long enough ago to be past LINK_MAX_AGE."""
    past = time.time() - get_settings().link_max_age - 3600
    with mock.patch("itsdangerous.timed.time.time", return_value=past):
        return str(URLSafeTimedSerializer(LINK_KEY, salt=SALT).dumps(payload))


def signed(payload: object, *, key: str = LINK_KEY, salt: str = SALT) -> str:
    return str(URLSafeTimedSerializer(key, salt=salt).dumps(payload))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
case_ids = st.integers(min_value=-(2**70), max_value=2**70) | json_values


@st.composite
def tokens(draw: st.DrawFn, world: World) -> tuple[str, str]:
    """A token and what it is: `valid`, `expired` (genuine, for this case) or `invalid`."""
    real = asdict(world.payload)
    good = world.token()
    kind = draw(
        st.sampled_from(
            [
                "valid",
                "expired",
                "random",
                "ascii",
                "unknown_case",
                "odd_payload",
                "wrong_salt",
                "wrong_key",
                "expired_unknown",
                "truncated",
                "mutated",
            ]
        )
    )
    if kind == "valid":
        return good, "valid"
    if kind == "expired":
        return expired(real), "expired"
    if kind == "random":
        return draw(st.text(min_size=1, max_size=200)), "invalid"
    if kind == "ascii":
        return draw(st.text(TOKEN_ALPHABET, min_size=1, max_size=200)), "invalid"
    if kind == "unknown_case":
        case_id = draw(case_ids.filter(lambda v: v != world.case_id))
        other = draw(st.sampled_from([world.authorization, "fcauth_other", ""]))
        return signed({**real, "case_id": case_id, "authorization_id": other}), "invalid"
    if kind == "odd_payload":
        payload = draw(
            json_values
            | st.fixed_dictionaries(
                {
                    "case_id": case_ids,
                    "account_id": json_values,
                    "authorization_id": json_values,
                }
            )
        )
        assume(payload != real)
        return signed(payload), "invalid"
    if kind == "wrong_salt":
        return signed(real, salt=draw(st.text(max_size=20).filter(lambda s: s != SALT))), "invalid"
    if kind == "wrong_key":
        key = draw(st.text(min_size=1, max_size=30).filter(lambda k: k != LINK_KEY))
        return signed(real, key=key), "invalid"
    if kind == "expired_unknown":
        return expired({**real, "case_id": world.case_id + 1000}), "invalid"
    if kind == "truncated":
        cut = draw(st.integers(min_value=1, max_value=len(good) - 1))
        return good[:cut], "invalid"
    # mutated: one character changed
    at = draw(st.integers(min_value=0, max_value=len(good) - 1))
    char = draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    )
    assume(char != good[at])
    return good[:at] + char + good[at + 1 :], "invalid"


ID_PREFIXES = st.sampled_from(["fcsess_", "seti_", "fca_", "", "fcsess_client_secret_"])
field_values = st.one_of(
    st.text(max_size=60),
    st.builds(lambda p, s: p + s, ID_PREFIXES, st.text(max_size=40)),
)
fields = st.dictionaries(
    st.sampled_from(["session_id", "setup_intent", "name", "client_secret", "x"]) | st.text(),
    field_values,
    max_size=4,
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes | None, dict[str, Any] | None, dict[str, str]]:
    """(raw content, form data, headers): a form, JSON, raw bytes or nothing."""
    shape = draw(st.sampled_from(["form", "json", "json_any", "bytes", "none"]))
    if shape == "form":
        return None, draw(fields), {}
    headers = {"content-type": "application/json"}
    if shape == "json":
        return json.dumps(draw(fields)).encode(), None, headers
    if shape == "json_any":
        return json.dumps(draw(json_values)).encode(), None, headers
    if shape == "bytes":
        content_type = draw(
            st.sampled_from(
                ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
            )
        )
        return draw(st.binary(max_size=300)), None, {"content-type": content_type}
    return None, None, {}


def check(response: Any, before: dict[str, Any], *, may_write: bool, sim: SimServer) -> None:
    assert response.status_code < 500, response.text[:2000]
    shown = response.text + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in (*SECRETS, sim.api_key):
        assert secret not in shown
    if response.status_code >= 400 or not may_write:
        assert snapshot() == before, f"a rejected request ({response.status_code}) wrote"


@given(data=st.data())
@RELINK_FUZZ
def test_rejected_tokens_on_every_route(
    client: TestClient, world: World, sim: SimServer, data: st.DataObject
) -> None:
    token, kind = data.draw(tokens(world), label="token")
    assume(kind == "invalid")
    route = data.draw(st.sampled_from(ROUTES), label="route")
    content, form, headers = data.draw(bodies(), label="body")
    before = snapshot()
    url = f"/relink/{quote(token, safe='')}{route}"
    if route:
        response = client.post(url, content=content, data=form, headers=headers)
    else:
        response = client.get(url)
    assert response.status_code in (400, 404, 405, 410), response.status_code
    check(response, before, may_write=False, sim=sim)
    assert SECRET_SHAPES.search(response.text) is None


@given(data=st.data())
@RELINK_FUZZ
def test_genuine_tokens_with_random_bodies_and_session_ids(
    client: TestClient, world: World, sim: SimServer, data: st.DataObject
) -> None:
    token, kind = data.draw(tokens(world).filter(lambda t: t[1] != "invalid"), label="token")
    route = data.draw(st.sampled_from(["/complete", "/setup", "/setup/complete", "/fresh"]))
    content, form, headers = data.draw(bodies(), label="body")
    before = snapshot()
    response = client.post(f"/relink/{token}{route}", content=content, data=form, headers=headers)
    check(response, before, may_write=route == "/fresh", sim=sim)
    assert SECRET_SHAPES.search(response.text) is None  # no page here carries a client secret
    if kind == "expired" and route != "/fresh":  # a body check may answer first
        assert response.status_code in (400, 410)


@given(data=st.data())
@RELINK_FUZZ
def test_near_valid_session_ids_after_a_real_session(
    client: TestClient, world: World, sim: SimServer, data: st.DataObject
) -> None:
    """With a real attempt recorded: its session id changed a little, on every POST route,
    is rejected and writes nothing (the real one on /setup is refused too: it linked nothing
    new)."""
    real, _ = press_button(client, world)
    variant = data.draw(
        st.one_of(
            st.builds(lambda n: real[:n], st.integers(min_value=0, max_value=len(real) - 1)),
            st.builds(lambda s: real + s, st.text(min_size=1, max_size=10)),
            st.builds(lambda s: real.upper() + s, st.text(max_size=3)),
            st.just(real + "\x00"),
            st.just(f" {real}"),
        ),
        label="session_id",
    )
    route, name = data.draw(
        st.sampled_from([("/complete", "session_id"), ("/setup", "session_id")])
    )
    form = {name: variant, "name": data.draw(st.text(max_size=30))}
    before = snapshot()
    response = client.post(f"/relink/{world.token()}{route}", data=form)
    assert response.status_code == 400, response.text[:500]
    check(response, before, may_write=False, sim=sim)
    assert SECRET_SHAPES.search(response.text) is None


def test_the_real_session_on_setup_is_refused_without_a_write(
    client: TestClient, world: World, sim: SimServer
) -> None:
    session_id, _ = press_button(client, world)
    before = snapshot()
    response = client.post(
        f"/relink/{world.token()}/setup", data={"session_id": session_id, "name": "Ada"}
    )
    assert response.status_code == 400
    check(response, before, may_write=False, sim=sim)


def test_the_signing_helpers_agree_with_the_app(world: World) -> None:
    # the strategies above sign with the same key and salt the app verifies with
    assert signed(asdict(world.payload)).split(".")[0] == sign_link(world.payload).split(".")[0]
    assert isinstance(world.payload, LinkPayload)
