"""Emails in the customer's language: subject and both parts in Spanish, dates as Spanish
writes them, Content-Language, <html lang>; TEMPLATES_DIR/<locale>/emails/ before
TEMPLATES_DIR/emails/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.cases.contacts import set_contact
from shared.db import session_scope
from shared.models import ContactSubject, EmailKind, FcAccount
from shared.settings import get_settings
from sim.testing import SimServer
from tests.emails.world import cases, due_email, sent_files
from worker.cases.core.classification import EmailTemplate
from worker.emails import send
from worker.emails.message import build_message
from worker.emails.render import AccountLine, render_email

LINK = "https://relink.example/relink/abc"
EXPIRES = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
ACCOUNTS = [AccountLine("Everyday Checking", "1111"), AccountLine(None, "2222")]


def spanish(family: EmailTemplate, kind: EmailKind = EmailKind.RELINK) -> tuple[str, str, str]:
    content = render_email(
        family=family,
        kind=kind,
        institution="Banco Platypus",
        accounts=ACCOUNTS,
        link=LINK,
        expires_at=EXPIRES,
        deadline=datetime(2026, 12, 20, tzinfo=UTC),
        locale="es",
    )
    return content.subject, content.text, content.html


def test_a_relink_email_in_spanish() -> None:
    subject, text, html = spanish(EmailTemplate.ACCESS)
    assert subject == "Vuelva a conectar su cuenta de Banco Platypus"
    for body in (text, html):
        assert body.count("Hola:") == 1
        assert "Ya no podemos acceder a su cuenta bancaria en Banco Platypus" in body
        assert "Cuenta terminada en" in body  # the unnamed account
        assert "Vence el 3 de diciembre de 2026 a las 2:30\u202fp.m. UTC" in body
        assert "Si ya lo resolvió, puede ignorar este correo." in body
        assert "Reconnect" not in body
        assert "Hello" not in body
    assert '<html lang="es">' in html
    assert ">Volver a conectar su cuenta</a>" in html


@pytest.mark.parametrize(
    ("family", "kind", "subject"),
    [
        (EmailTemplate.ACCESS, EmailKind.REMINDER, "Recordatorio: vuelva a conectar su cuenta de "),
        (EmailTemplate.UNKNOWN, EmailKind.FRESH_LINK, "Su nuevo enlace para volver a conectar su "),
        (EmailTemplate.PROACTIVE, EmailKind.PROACTIVE, "Vuelva a conectar su cuenta de "),
        (EmailTemplate.UNREPAIRABLE, EmailKind.UNREPAIRABLE, "Su cuenta de Banco Platypus ya no "),
        (EmailTemplate.RECONNECTED, EmailKind.RECONNECTED, "Su cuenta de Banco Platypus está "),
    ],
)
def test_every_subject_is_spanish(family: EmailTemplate, kind: EmailKind, subject: str) -> None:
    assert spanish(family, kind)[0].startswith(subject)


def test_a_proactive_deadline_is_a_spanish_date() -> None:
    subject, text, html = spanish(EmailTemplate.PROACTIVE)
    assert subject.endswith("antes del 20 de diciembre de 2026")
    assert "el 20 de diciembre de 2026 a menos que la vuelva a conectar" in text
    assert "el <strong>20 de diciembre de 2026</strong> a menos que" in html


def test_the_message_says_its_language() -> None:
    content = render_email(
        family=EmailTemplate.ACCESS,
        kind=EmailKind.RELINK,
        institution="Banco Platypus",
        accounts=ACCOUNTS,
        link=LINK,
        expires_at=EXPIRES,
        locale="es",
    )
    message = build_message(content, sender="relink@example.com", recipient="a@b.c", outbox_id=1)
    assert message["Content-Language"] == "es"
    assert message["Subject"] == "Vuelva a conectar su cuenta de Banco Platypus"


def test_a_locales_override_comes_before_the_shared_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "es" / "emails").mkdir(parents=True)
    (tmp_path / "emails").mkdir()
    (tmp_path / "es" / "emails" / "access.txt").write_text("hola {{ institution }}\n")
    (tmp_path / "emails" / "access.txt").write_text("shared {{ institution }}\n")
    monkeypatch.setenv("TEMPLATES_DIR", str(tmp_path))
    get_settings.cache_clear()

    def text(locale: str) -> str:
        return render_email(
            family=EmailTemplate.ACCESS,
            kind=EmailKind.RELINK,
            institution="Banco Platypus",
            accounts=ACCOUNTS,
            link=LINK,
            expires_at=EXPIRES,
            locale=locale,
        ).text

    assert text("es") == "hola Banco Platypus\n"
    assert text("en") == "shared Banco Platypus\n"


def test_a_customer_preferring_spanish_gets_a_spanish_email(
    sim: SimServer, outbox_dir: Path
) -> None:
    row = due_email(sim, preferred_locales=["fr-FR", "es-419", "en"])
    assert send.send_outbox(row) == "sent"
    [message] = sent_files(outbox_dir)
    assert message["Subject"] == "Vuelva a conectar su cuenta de StripeBank"
    assert message["Content-Language"] == "es"
    [case] = cases()
    assert case.locale == "es"  # its page speaks Spanish too


def contact_for_the_holder(locale: str | None) -> None:
    with session_scope() as db:
        [case] = cases()
        account = db.get(FcAccount, (case.account_id, ""))
        assert account is not None
        assert account.holder_id is not None
        set_contact(
            db,
            ContactSubject.CUSTOMER,
            account.holder_id,
            stripe_account="",
            email="grace@example.com",
            name=None,
            locale=locale,
        )


def test_the_platforms_contact_locale_comes_before_the_customers(
    sim: SimServer, outbox_dir: Path
) -> None:
    row = due_email(sim, preferred_locales=["es"])
    contact_for_the_holder("en-US")
    assert send.send_outbox(row) == "sent"
    [message] = sent_files(outbox_dir)
    assert (message["Subject"], message["Content-Language"]) == (
        "Reconnect your StripeBank account",
        "en",
    )
    assert message["To"] == "grace@example.com"


@pytest.mark.parametrize("locale", [None, "fr"])
def test_a_contact_without_a_supported_locale_gets_the_customers(
    sim: SimServer, outbox_dir: Path, locale: str | None
) -> None:
    row = due_email(sim, preferred_locales=["es"])
    contact_for_the_holder(locale)
    assert send.send_outbox(row) == "sent"
    [message] = sent_files(outbox_dir)
    assert (message["To"], message["Content-Language"]) == ("grace@example.com", "es")
