"""shared/settings/: one typed settings object, errors naming the variable, secrets and
URL passwords never shown."""

from __future__ import annotations

import pytest

from shared.settings import ConfigError, load_settings
from shared.urls import masked_url


def test_comma_separated_secrets_are_all_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", " whsec_a , whsec_b,")
    settings = load_settings()
    assert [s.get_secret_value() for s in settings.stripe_webhook_secrets] == ["whsec_a", "whsec_b"]


def test_secrets_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_verysecret")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "whsec_verysecret")
    monkeypatch.setenv("LINK_SIGNING_KEYS", "link-verysecret-0001")
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
        # branding reaches pages, emails and the page's CSP: only plain values pass
        ("BRAND_COLOR", "red"),
        ("BRAND_COLOR", "#fff"),
        ("BRAND_COLOR", "#12345g"),
        ("BRAND_COLOR", "#123456;}body{display:none"),
        ("DEFAULT_LOCALE", "fr"),
        ("DEFAULT_LOCALE", "es-MX"),
        ("BRAND_LOGO_URL", "http://cdn.example.com/logo.png"),
        ("BRAND_LOGO_URL", "javascript:alert(1)"),
        ("BRAND_LOGO_URL", "https://user:pw@cdn.example.com/logo.png"),
        ("BRAND_LOGO_URL", "https://cdn.example.com/a b.png"),
        ("BRAND_LOGO_URL", 'https://cdn.example.com/"onerror=x'),
        ("BRAND_LOGO_URL", "https://cdn.example.com;script-src:*/"),
        ("SUPPORT_URL", "ftp://help.example.com"),
        ("SUPPORT_EMAIL", "not-an-address"),
        ("SUPPORT_EMAIL", "support@example"),
        ("SUPPORT_EMAIL", "Help <help@example.com>"),
        ("MERCHANT_NAME", "Acme\r\nBcc: everyone@example.com"),
        ("MERCHANT_NAME", "Acme\u2028Bcc: everyone@example.com"),  # I7: folds a From: header
        ("TEMPLATES_DIR", "/no/such/directory"),
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
    for name in ("DATABASE_URL", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRETS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/relink.db"
    assert settings.stripe_api_version == "2026-09-30.preview"
    assert settings.link_max_age == 7 * 24 * 3600
    assert settings.email_url == "file://var/outbox"
    assert settings.stripe_webhook_secrets == []
    assert settings.livemode is False
    assert (settings.expose_docs, settings.metrics_enabled, settings.metrics_token) == (
        False,
        False,
        None,
    )


def test_link_signing_keys_are_kept_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINK_SIGNING_KEYS", "new-link-key-0001, old-link-key-0001")
    assert load_settings().signing_keys() == ["new-link-key-0001", "old-link-key-0001"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://relink:s3cret@db:5432/relink",
            "postgresql+psycopg://***:***@db:5432/relink",
        ),
        ("redis://:s3cret@redis:6379/0", "redis://***:***@redis:6379/0"),
        (
            "smtp://ada%40example.com:p%40ss@mail.example.com:587",
            "smtp://***:***@mail.example.com:587",
        ),
        ("redis://ada@redis:6379/0", "redis://***@redis:6379/0"),
        ("sqlite:///var/relink.db", "sqlite:///var/relink.db"),
        ("filesystem://", "filesystem://"),
        ("https://api.stripe.com", "https://api.stripe.com"),
        ("http://[::1:6379/0", "***"),
    ],
)
def test_masked_url_hides_user_and_password(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_live_key_means_live_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_abc")
    assert load_settings().livemode is True


def test_connect_settings_read_empty_as_none_and_need_secrets_when_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRIPE_CONNECT", "false")
    monkeypatch.setenv("STRIPE_CONNECT_WEBHOOK_SECRETS", "")  # as compose passes it unset
    settings = load_settings()
    assert (settings.stripe_connect, settings.stripe_connect_webhook_secrets) == (False, [])
    monkeypatch.setenv("STRIPE_CONNECT_WEBHOOK_SECRETS", "whsec_a, whsec_b")
    monkeypatch.setenv("STRIPE_CONNECT", "true")
    secrets = load_settings().stripe_connect_webhook_secrets
    assert [s.get_secret_value() for s in secrets] == ["whsec_a", "whsec_b"]
    monkeypatch.setenv("STRIPE_CONNECT_WEBHOOK_SECRETS", "not_a_secret")
    with pytest.raises(ConfigError, match="STRIPE_CONNECT_WEBHOOK_SECRETS"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LINK_SIGNING_KEYS", "a"),
        ("LINK_SIGNING_KEYS", "a-long-enough-key-0001,short"),
        ("PUBLIC_BASE_URL", "ftp://x"),
        ("PUBLIC_BASE_URL", "https://"),
    ],
)
def test_weak_or_malformed_settings_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """L9: a 1-character link key is brute-forced offline from one link."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_live_platform_webhooks_need_https_except_to_this_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_verysecret")
    monkeypatch.setenv("PLATFORM_WEBHOOK_SECRETS", "whsec_" + "A" * 32)
    monkeypatch.setenv("PLATFORM_WEBHOOK_URL", "http://platform.example.com/hooks")
    with pytest.raises(ConfigError, match="PLATFORM_WEBHOOK_URL must be https"):
        load_settings()
    for allowed in ("http://127.0.0.1:9000/hooks", "http://localhost/h", "https://p.example/h"):
        monkeypatch.setenv("PLATFORM_WEBHOOK_URL", allowed)
        assert load_settings().platform_webhook_url == allowed
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_verysecret")  # test mode: test links
    monkeypatch.setenv("PLATFORM_WEBHOOK_URL", "http://platform.example.com/hooks")
    assert load_settings().platform_webhook_url == "http://platform.example.com/hooks"
