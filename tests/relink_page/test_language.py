"""The relink page in the customer's language: the contact's locale, else the language of
the case's last email, else DEFAULT_LOCALE; every page and the mandate in Spanish, with
<html lang>, Content-Language and Stripe.js started in the locale; TEMPLATES_DIR/<locale>/."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from shared.cases.contacts import set_contact
from shared.db import session_scope
from shared.models import ContactSubject, FcAccount, FcAuthorization, RelinkCase
from shared.settings import get_settings
from sim.testing import SimServer
from tests.relink_page.pages import attempts, complete, data_attr, press_button
from tests.relink_page.test_branding import words
from tests.relink_page.test_page import no_account
from tests.relink_page.world import World


def speaks(world: World, *, contact: str | None = None, emailed: str | None = None) -> None:
    with session_scope() as db:
        if contact is not None:
            set_contact(
                db,
                ContactSubject.CUSTOMER,
                world.customer,
                stripe_account="",
                email="ada@example.com",
                name=None,
                locale=contact,
            )
        case = db.get(RelinkCase, world.case_id)
        assert case is not None
        case.locale = emailed
        db.add(case)


def assert_spanish(response: object, page: str) -> None:
    assert response.headers["content-language"] == "es"  # type: ignore[attr-defined]
    assert '<html lang="es">' in page


def test_a_spanish_contact_gets_the_page_in_spanish(client: TestClient, world: World) -> None:
    speaks(world, contact="es-MX", emailed="en")  # the contact wins over the email's
    response = client.get(f"/relink/{world.token()}")
    assert response.status_code == 200
    assert_spanish(response, response.text)
    text = words(response.text)
    assert "Vuelva a conectar su banco" in text
    assert "Nuestra conexión con su cuenta en StripeBank dejó de funcionar." in text
    assert "Everyday Checking terminada en 6789" in text
    assert "<title>Volver a conectar StripeBank</title>" in response.text
    assert "Reconnect" not in text


def test_a_bank_no_one_named_is_your_bank_in_the_pages_language(
    client: TestClient, world: World
) -> None:
    speaks(world, contact="es")
    with session_scope() as db:
        for row in [*db.exec(select(FcAccount)), *db.exec(select(FcAuthorization))]:
            row.institution_name = None
            db.add(row)
    page = client.get(f"/relink/{world.token()}").text
    assert "Nuestra conexión con su cuenta en su banco dejó de funcionar." in words(page)
    assert "your bank" not in page


def test_without_a_contact_the_page_speaks_the_emails_language(
    client: TestClient, world: World
) -> None:
    speaks(world, emailed="es")
    response = client.get(f"/relink/{world.token()}")
    assert_spanish(response, response.text)


def test_with_neither_the_page_speaks_default_locale(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get(f"/relink/{world.token()}").headers["content-language"] == "en"
    monkeypatch.setenv("DEFAULT_LOCALE", "es")
    get_settings.cache_clear()
    response = client.get(f"/relink/{world.token()}")
    assert_spanish(response, response.text)
    invalid = client.get("/relink/not-a-link")  # no link read: DEFAULT_LOCALE
    assert invalid.status_code == 400
    assert "Este enlace no es válido" in invalid.text


def test_stripe_js_starts_in_the_customers_locale_with_spanish_messages(
    client: TestClient, world: World
) -> None:
    speaks(world, contact="es")
    response = client.post(f"/relink/{world.token()}/session")
    assert response.status_code == 200
    assert data_attr(response.text, "data-locale") == "es-419"
    assert data_attr(response.text, "data-msg-working") == "Conectando con su banco…"
    assert data_attr(response.text, "data-msg-retry") == "Vuelva a intentarlo."
    assert "Conectando con su banco…</p>" in response.text


def test_the_new_payment_method_path_and_its_mandate_in_spanish(
    client: TestClient, world: World, sim: SimServer
) -> None:
    speaks(world, contact="es")
    offer = no_account(client, world, sim)
    assert "Vincule cualquier cuenta de cheques o de ahorros en StripeBank" in words(offer.text)
    session_id, _ = press_button(client, world)
    sim.client.complete_session(
        session_id, "new_account", new_accounts=[{"subcategory": "savings", "last4": "1111"}]
    )
    named = complete(client, world, session_id)
    assert "Nombre del titular de la cuenta" in named.text
    assert "terminada en 1111" in named.text
    confirm = client.post(
        f"/relink/{world.token()}/setup", data={"session_id": session_id, "name": "Ada Lovelace"}
    )
    assert confirm.status_code == 200, confirm.text
    assert_spanish(confirm, confirm.text)
    text = words(confirm.text)
    assert "Autorización para debitar su cuenta" in text
    assert (
        "Al hacer clic en “Aceptar y confirmar”, usted nos autoriza a debitar de la cuenta "
        "bancaria indicada arriba cualquier monto adeudado"
    ) in text
    assert "Titular de la cuenta: Ada Lovelace" in text
    assert ">Aceptar y confirmar</button>" in confirm.text
    assert "authorize" not in text
    assert attempts(world.case_id)[-1].result == "new_account"


def test_a_locales_override_comes_before_the_shared_one(
    client: TestClient, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in (tmp_path / "es" / "relink_page", tmp_path / "relink_page"):
        folder.mkdir(parents=True)
    (tmp_path / "es" / "relink_page" / "start.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>Hola de Acme</h1>{% endblock %}'
    )
    (tmp_path / "relink_page" / "start.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>Shared</h1>{% endblock %}'
    )
    monkeypatch.setenv("TEMPLATES_DIR", str(tmp_path))
    get_settings.cache_clear()
    assert "<h1>Shared</h1>" in client.get(f"/relink/{world.token()}").text
    speaks(world, contact="es")
    spanish = client.get(f"/relink/{world.token()}").text
    assert "<h1>Hola de Acme</h1>" in spanish
    assert "<title>Vuelva a conectar su banco</title>" in spanish  # the built-in base, in es
