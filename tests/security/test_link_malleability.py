"""L4: a relink token has one spelling. itsdangerous's lenient base64 made `token + "!!"`,
`+ "~~~"`, `+ "é"` and a flipped spare bit verify: each variant opened the page (and, in
hosted mode, made another Stripe session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from shared.cases.links import LinkError, LinkPayload, read_link, sign_link

PAYLOAD = LinkPayload(case_id=7, account_id="fca_1", authorization_id="fcauth_1")


def spare_bit_flipped(token: str) -> str:
    """The token with its last character's unused low bit set: the same bytes in lenient
    base64 (a 20-byte HMAC-SHA1 is 27 characters, 2 bits spare)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    return token[:-1] + alphabet[last ^ 1]


def variants(token: str) -> list[str]:
    return [
        token + "!!",
        token + "~~~",
        token + "é",
        token + "#?",
        spare_bit_flipped(token),
        token + "AA",  # a signature of 29 (4n + 1) characters: impossible base64, not a 500
    ]


def test_the_token_itself_verifies() -> None:
    assert read_link(sign_link(PAYLOAD)) == PAYLOAD


def test_no_other_spelling_of_a_token_verifies() -> None:
    token = sign_link(PAYLOAD)
    for variant in variants(token):
        with pytest.raises(LinkError) as refused:
            read_link(variant)
        assert refused.value.expired is False, variant


@pytest.fixture
def page(db: None) -> Iterator[TestClient]:
    with TestClient(create_app(), follow_redirects=False) as client:
        yield client


def test_the_page_opens_for_no_variant(page: TestClient) -> None:
    token = sign_link(PAYLOAD)
    for variant in variants(token):
        answer = page.get(f"/relink/{variant.replace('#', '%23').replace('?', '%3F')}")
        assert answer.status_code == 400, (variant, answer.status_code)  # not valid: no lookup
