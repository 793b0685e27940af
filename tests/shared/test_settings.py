from __future__ import annotations

import pytest

from shared.settings import ConfigError, load_settings


def test_comma_separated_secrets_are_all_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", " whsec_a , whsec_b,")
    settings = load_settings()
    assert [s.get_secret_value() for s in settings.stripe_webhook_secrets] == ["whsec_a", "whsec_b"]


def test_secrets_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_verysecret")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "whsec_verysecret")
    monkeypatch.setenv("LINK_SIGNING_KEYS", "link-verysecret")
    text = repr(load_settings()) + str(load_settings())
    assert "verysecret" not in text


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STRIPE_WEBHOOK_SECRETS", "not_a_whsec"),
        ("STRIPE_API_KEY", "pk_test_publishable"),
        ("LINK_MAX_AGE", "-5"),
        ("LINK_MAX_AGE", "seven days"),
        ("EMAIL_URL", "http://mail"),
    ],
)
def test_bad_variable_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert variable in str(caught.value)
    assert value not in str(caught.value)


def test_defaults_match_the_design(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRETS", "LINK_SIGNING_KEYS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/relink.db"
    assert settings.stripe_api_version == "2026-09-30.preview"
    assert settings.link_max_age == 7 * 24 * 3600
    assert settings.email_url == "file://var/outbox"
    assert settings.stripe_webhook_secrets == []
    assert settings.livemode is False


def test_generated_dev_link_key_is_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINK_SIGNING_KEYS")
    first = load_settings().signing_keys()
    assert first == load_settings().signing_keys()
    assert len(first[0]) >= 32


def test_live_key_means_live_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_abc")
    assert load_settings().livemode is True
