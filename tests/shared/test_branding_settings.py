"""shared/settings/branding.py: what passes, as templates read it (what is refused is in
test_settings.py's test_bad_variable_is_named_in_the_error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import load_settings


def test_good_branding_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MERCHANT_NAME", "  Acme & Co  ")
    monkeypatch.setenv("SUPPORT_EMAIL", "help@acme.example.com")
    monkeypatch.setenv("SUPPORT_URL", "https://acme.example.com/help?topic=bank")
    monkeypatch.setenv("BRAND_LOGO_URL", "http://127.0.0.1:8123/logo.svg")  # development
    monkeypatch.setenv("BRAND_COLOR", "#0A5CFF")
    monkeypatch.setenv("TEMPLATES_DIR", str(tmp_path))
    settings = load_settings()
    brand = settings.brand
    assert brand.name == "Acme & Co"
    assert brand.possessive == "Acme & Co's"
    assert brand.color == "#0a5cff"
    assert brand.on_color == "#ffffff"
    assert [c.href for c in brand.contacts] == [
        "mailto:help@acme.example.com",
        "https://acme.example.com/help?topic=bank",
    ]
    assert brand.logo_url == "http://127.0.0.1:8123/logo.svg"
    assert settings.templates_dir == tmp_path


def test_unset_or_empty_branding_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAND_COLOR", "")
    monkeypatch.setenv("MERCHANT_NAME", "   ")
    settings = load_settings()
    assert settings.brand.name is None
    assert settings.brand.color is None
    assert settings.brand.contacts == []
    assert settings.templates_dir is None


def test_branding_leaves_the_other_sections_settings_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its empty-is-unset rule is the branding section's own, not every setting's."""
    monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", "")
    monkeypatch.setenv("EMAIL_FROM", "  Acme <billing@acme.example.com>")
    settings = load_settings()
    assert settings.stripe_publishable_key == ""
    assert settings.email_from == "  Acme <billing@acme.example.com>"


@pytest.mark.parametrize(
    ("color", "text"), [("#ffd700", "#1a1f36"), ("#0a5cff", "#ffffff"), ("#f0f0f0", "#1a1f36")]
)
def test_text_on_the_brand_colour_is_whichever_reads_better(
    monkeypatch: pytest.MonkeyPatch, color: str, text: str
) -> None:
    monkeypatch.setenv("BRAND_COLOR", color)
    assert load_settings().brand.on_color == text


def test_default_locale_is_english_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().default_locale == "en"
    monkeypatch.setenv("DEFAULT_LOCALE", "es")
    assert load_settings().default_locale == "es"
