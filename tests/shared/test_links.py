"""Signed links: tamper, expiry (frozen clock), rotation."""

from __future__ import annotations

import pytest

from shared.cases.links import LinkError, LinkPayload, link_url, read_link, sign_link
from shared.settings import get_settings

PAYLOAD = LinkPayload(case_id=7, account_id="fca_1", authorization_id="fcauth_1")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """itsdangerous reads time.time(); freeze it and let the test move it."""
    now = [1_800_000_000.0]
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: now[0])
    return now


def test_round_trip_keeps_ids_only() -> None:
    token = sign_link(PAYLOAD)
    assert read_link(token) == PAYLOAD
    assert "@" not in token


def test_tampered_token_is_invalid_not_expired() -> None:
    token = sign_link(PAYLOAD)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(LinkError) as caught:
        read_link(tampered)
    assert caught.value.expired is False
    assert caught.value.payload is None


def test_token_expires_after_link_max_age(clock: list[float]) -> None:
    token = sign_link(PAYLOAD)
    clock[0] += get_settings().link_max_age - 1
    assert read_link(token) == PAYLOAD
    clock[0] += 2
    with pytest.raises(LinkError) as caught:
        read_link(token)
    assert caught.value.expired is True
    assert caught.value.payload == PAYLOAD


def test_rotation_newest_signs_older_still_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    old_token = sign_link(PAYLOAD)
    monkeypatch.setenv("LINK_SIGNING_KEYS", "brand-new-link-key,unit-test-link-key")
    get_settings.cache_clear()
    assert read_link(old_token) == PAYLOAD
    new_token = sign_link(PAYLOAD)
    monkeypatch.setenv("LINK_SIGNING_KEYS", "brand-new-link-key")
    get_settings.cache_clear()
    assert read_link(new_token) == PAYLOAD
    with pytest.raises(LinkError):
        read_link(old_token)


def test_token_from_another_salt_is_refused() -> None:
    from itsdangerous import URLSafeTimedSerializer

    forged = URLSafeTimedSerializer("unit-test-link-key", salt="other").dumps(
        {"case_id": 1, "account_id": "fca_x", "authorization_id": "fcauth_x"}
    )
    with pytest.raises(LinkError):
        read_link(forged)


def test_link_url_is_under_public_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://relink.example.com/")
    get_settings.cache_clear()
    url = link_url(PAYLOAD)
    assert url.startswith("https://relink.example.com/relink/")
    assert read_link(url.rsplit("/", 1)[1]) == PAYLOAD


def test_a_connected_accounts_link_carries_its_account_and_a_platform_link_does_not() -> None:
    connected = LinkPayload(7, "fca_1", "fcauth_1", "acct_1Connected")
    assert read_link(sign_link(connected)) == connected
    platform = LinkPayload(7, "fca_1", "fcauth_1")
    assert read_link(sign_link(platform)).stripe_account == ""
    assert platform.to_json() == {
        "case_id": 7,
        "account_id": "fca_1",
        "authorization_id": "fcauth_1",
    }
