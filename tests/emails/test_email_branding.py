"""Emails with the merchant's branding (logo, colour, contact, sign-off, From name), and
TEMPLATES_DIR/emails/ overriding one template while the others fall back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.models import EmailKind
from shared.settings import get_settings
from sim.testing import SimServer
from tests.emails.world import due_email, sent_files, text_of
from worker.cases.core.classification import EmailTemplate
from worker.emails import send
from worker.emails.message import sender_address
from worker.emails.render import AccountLine, EmailContent, render_email

LINK = "https://relink.example/relink/abc"


def access_email() -> EmailContent:
    return render_email(
        family=EmailTemplate.ACCESS,
        kind=EmailKind.RELINK,
        institution="StripeBank",
        accounts=[AccountLine("Checking", "6789")],
        link=LINK,
        expires_at=datetime(2026, 12, 3, 14, 30, tzinfo=UTC),
    )


def configure(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def test_branding_reaches_both_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(
        monkeypatch,
        MERCHANT_NAME="Acme & Co",
        SUPPORT_EMAIL="help@acme.example.com",
        SUPPORT_URL="https://acme.example.com/help",
        BRAND_LOGO_URL="https://cdn.acme.example.com/logo.png",
        BRAND_COLOR="#FFD700",
    )
    content = access_email()
    assert content.text.rstrip().endswith(
        "Questions? Contact Acme & Co at help@acme.example.com or "
        "https://acme.example.com/help.\n\n— Acme & Co"
    )
    assert '<img src="https://cdn.acme.example.com/logo.png" alt="Acme &amp; Co"' in content.html
    assert "background: #ffd700; color: #1a1f36;" in content.html
    assert '<a href="mailto:help@acme.example.com">help@acme.example.com</a>' in content.html
    assert '<a href="https://acme.example.com/help">' in content.html
    assert "<p>— Acme &amp; Co</p>" in content.html
    assert "Acme & Co" not in content.html
    assert "relink" not in content.text.replace(LINK, "")


def test_without_branding_the_email_is_relinks_own() -> None:
    content = access_email()
    assert content.text.rstrip().endswith("you can ignore this email.\n\n— relink")
    assert "background: #0a5cff; color: #ffffff;" in content.html
    assert "<img" not in content.html
    assert "Questions?" not in content.text + content.html


def test_templates_dir_overrides_one_part_and_the_other_falls_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "emails").mkdir()
    (tmp_path / "emails" / "access.txt").write_text(
        "Custom for {{ brand.name }}: {{ link }} at {{ institution }}\n"
    )
    configure(monkeypatch, TEMPLATES_DIR=str(tmp_path), MERCHANT_NAME="Acme")
    content = access_email()
    assert content.text == f"Custom for Acme: {LINK} at StripeBank\n"
    assert "expired or was withdrawn" in content.html  # no access.html there: the built-in
    assert "<p>— Acme</p>" in content.html


@pytest.mark.parametrize(
    ("email_from", "merchant", "shown"),
    [
        ("relink@acme.example.com", "Acme, Inc.", '"Acme, Inc." <relink@acme.example.com>'),
        ("Billing <billing@acme.example.com>", "Acme", "Billing <billing@acme.example.com>"),
        ("relink@acme.example.com", "", "relink@acme.example.com"),
    ],
)
def test_a_bare_from_address_takes_the_merchant_name(
    monkeypatch: pytest.MonkeyPatch, email_from: str, merchant: str, shown: str
) -> None:
    configure(monkeypatch, EMAIL_FROM=email_from, MERCHANT_NAME=merchant)
    assert sender_address(get_settings()) == shown


def test_the_sent_email_is_from_the_merchant_and_signed_by_it(
    sim: SimServer, outbox_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, EMAIL_FROM="relink@example.com", MERCHANT_NAME="Acme, Inc.")
    assert send.send_outbox(due_email(sim)) == "sent"
    [message] = sent_files(outbox_dir)
    assert message["From"] == '"Acme, Inc." <relink@example.com>'
    assert message["Message-ID"].endswith("@example.com>")
    assert text_of(message).rstrip().endswith("— Acme, Inc.")
