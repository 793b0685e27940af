"""Email bodies: institution, last4, link and expiry in both parts; HTML escaped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.models import EmailKind
from worker.cases.core.classification import EmailTemplate
from worker.emails.render import AccountLine, render_email

EXPIRES = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
LINK = "https://relink.example/relink/abc.DEF-123_x"
ACCOUNTS = [AccountLine("Everyday Checking", "1111"), AccountLine(None, "2222")]


@pytest.mark.parametrize(
    ("family", "phrase"),
    [
        (EmailTemplate.ACCESS, "expired or was withdrawn"),
        (EmailTemplate.INSTITUTION, "changed how it connects"),
        (EmailTemplate.UNKNOWN, "lost the connection"),
    ],
)
def test_relink_email_names_institution_accounts_link_and_expiry(
    family: EmailTemplate, phrase: str
) -> None:
    content = render_email(
        family=family,
        kind=EmailKind.RELINK,
        institution="First Platypus Bank",
        accounts=ACCOUNTS,
        link=LINK,
        expires_at=EXPIRES,
    )
    assert content.subject == "Reconnect your First Platypus Bank account"
    for body in (content.text, content.html):
        assert phrase in body
        assert "First Platypus Bank" in body
        assert "1111" in body
        assert "2222" in body
        assert LINK in body
        assert "December 3, 2026 at 2:30\u202fPM UTC" in body  # CLDR: a narrow no-break space
    assert f'href="{LINK}"' in content.html


def test_reminder_says_so() -> None:
    content = render_email(
        family=EmailTemplate.ACCESS,
        kind=EmailKind.REMINDER,
        institution="StripeBank",
        accounts=ACCOUNTS,
        link=LINK,
        expires_at=EXPIRES,
    )
    assert content.subject.startswith("Reminder:")
    assert "A reminder" in content.text


def test_unrepairable_asks_for_a_new_payment_method_without_a_link() -> None:
    content = render_email(
        family=EmailTemplate.UNREPAIRABLE,
        kind=EmailKind.UNREPAIRABLE,
        institution="StripeBank",
        accounts=ACCOUNTS,
        link=None,
        expires_at=None,
    )
    for body in (content.text, content.html):
        assert "set up a new payment method" in body
        assert "1111" in body
        assert "/relink/" not in body
        assert "expires" not in body
    assert "<a " not in content.html


def test_html_is_escaped_and_text_is_not() -> None:
    evil = '<script>alert("x")</script> & Co'
    content = render_email(
        family=EmailTemplate.UNKNOWN,
        kind=EmailKind.RELINK,
        institution=evil,
        accounts=[AccountLine("<b>Savings</b>", "9999")],
        link=LINK + '"><img src=x>',
        expires_at=EXPIRES,
    )
    assert "<script>" not in content.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in content.html
    assert "&lt;b&gt;Savings&lt;/b&gt;" in content.html
    assert '"><img' not in content.html
    assert evil in content.text  # plain text is not HTML-escaped


@pytest.mark.parametrize(
    ("locale", "subject", "body"),
    [
        ("en", "Reconnect your bank account", "your bank account at your bank"),
        ("es", "Vuelva a conectar su cuenta de banco", "su banco"),
    ],
)
def test_an_unnamed_bank_reads_as_a_bank_in_the_customers_language(
    locale: str, subject: str, body: str
) -> None:
    content = render_email(
        family=EmailTemplate.ACCESS,
        kind=EmailKind.RELINK,
        institution=None,
        accounts=ACCOUNTS,
        link=LINK,
        expires_at=EXPIRES,
        locale=locale,
    )
    assert content.subject == subject
    assert f"<title>{subject}</title>" in content.html  # the HTML title is the subject
    assert body in content.text
