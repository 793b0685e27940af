"""A customer whose Stripe Customer has `preferred_locales: ["es"]`, end to end: the
simulator's signed deactivation, the real api and Celery worker, PostgreSQL, Redis and an
SMTP sink write a Spanish email; headless Chromium opens its link to a Spanish page that
starts Stripe.js in Spanish, relinks, and later saves a new account under the Spanish
mandate.

Set RELINK_SCREENSHOTS=docs/screenshots to refresh the committed `es-*.png` screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, Page, Route

from sim.testing import SimServer
from tests.browser import chromium
from tests.integration.smtp import SmtpSink
from tests.integration.stack import ROOT, Stack, wait_until
from tests.integration.test_relink_browser import next_session
from tests.relink_page.pages import time_at_the_bank

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "screenshots"
    directory.mkdir()
    yield directory
    target = os.environ.get("RELINK_SCREENSHOTS")
    if target:
        (ROOT / target).mkdir(parents=True, exist_ok=True)
        for png in directory.glob("es-*.png"):
            shutil.copy(png, ROOT / target / png.name)


def spanish_email(stack: Stack, sim: SimServer, smtp: SmtpSink, institution: str) -> str:
    """A Spanish-preferring customer's account deactivated: the email it gets, checked; its
    link."""
    before = len(smtp.received())
    customer = sim.client.create_customer("ana@example.com", ["es"])["id"]
    auth = sim.client.create_authorization(
        {"type": "customer", "customer": customer},
        institution=institution,
        accounts=[{"last4": "6789", "subcategory": "checking", "display_name": "Cheques"}],
    )
    sim.client.deactivate_authorization(str(auth["id"]))
    message: EmailMessage = smtp.wait_for(before + 1, timeout=60)[-1]
    assert message["Subject"] == f"Vuelva a conectar su cuenta de {institution}"
    assert message["Content-Language"] == "es"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("Hola:")
    assert "Cheques terminada en 6789" in text
    assert "Este enlace es personal: no lo reenvíe. Vence el " in text
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert '<html lang="es">' in html
    found = re.search(rf"{re.escape(stack.base_url)}/relink/\S+", text)
    assert found is not None
    return found.group(0)


def new_account_later(page: Page, sim: SimServer, institution: str) -> None:
    """The next session links a new savings account, created in a later second than the
    session (as at a real bank): with a worker running, that is how the page tells it from an
    account the worker recorded meanwhile."""

    def handle(route: Route) -> None:
        secret = str(json.loads(route.request.post_data or "{}").get("client_secret"))
        new = [{"subcategory": "savings", "last4": "1111"}]
        sim.client.set_session_scenario(
            secret.split("_secret_")[0], "new_account", new_accounts=new, institution=institution
        )
        time_at_the_bank()
        route.continue_()

    page.route("**/_sim/stripejs/collect", handle, times=1)


@pytest.mark.browser
def test_a_customer_preferring_spanish_gets_a_spanish_email_and_page(
    stack: Stack,
    sim: SimServer,
    smtp: SmtpSink,
    pg: psycopg.Connection,
    browser: Browser,
    page: Page,
    shots: Path,
) -> None:
    stack.env["QUIET_PERIOD_SECONDS"] = "1"
    stack.env["EMAIL_SWEEP_EVERY_SECONDS"] = "1"
    stack.start_worker()
    link = spanish_email(stack, sim, smtp, "Banco Platypus")

    mail = browser.new_context(viewport={"width": 600, "height": 800}).new_page()
    mail.set_content(smtp.received()[-1].get_body(("html",)).get_content(), wait_until="load")  # type: ignore[union-attr]
    mail.get_by_role("link", name="Volver a conectar su cuenta").wait_for()
    mail.screenshot(path=str(shots / "es-00-email.png"), full_page=True)

    stripe_js_locales: list[str] = []  # as the fake Stripe.js sends them with each request
    page.on(
        "request",
        lambda request: (
            stripe_js_locales.append(json.loads(request.post_data or "{}")["locale"])
            if "/_sim/stripejs/" in request.url
            else None
        ),
    )
    response = page.goto(link)
    assert response is not None
    assert response.status == 200
    assert response.headers["content-language"] == "es"
    assert page.locator("html").get_attribute("lang") == "es"
    page.get_by_role("heading", name="Vuelva a conectar su banco").wait_for()
    page.screenshot(path=str(shots / "es-01-link-page.png"), full_page=True)
    page.get_by_role("button", name="Volver a conectar Banco Platypus").click()
    page.get_by_role("heading", name="Su banco está conectado de nuevo").wait_for()
    page.screenshot(path=str(shots / "es-02-success.png"), full_page=True)
    assert stripe_js_locales == ["es-419"]  # Stripe.js started in Spanish
    wait_until(
        lambda: (
            pg.execute("SELECT count(*) FROM relink_case WHERE locale = 'es'").fetchone() == (1,)
        ),
        10,
        "the case to keep its email's language",
    )

    # a new account instead: the Spanish mandate before "Aceptar y confirmar"
    other = spanish_email(stack, sim, smtp, "Banco Gringotts")
    page.goto(other)
    next_session(page, sim, "no_account")
    page.get_by_role("button", name="Volver a conectar Banco Gringotts").click()
    page.get_by_role(
        "heading", name="Vincule cualquier cuenta de cheques o de ahorros en Banco Gringotts"
    ).wait_for()
    new_account_later(page, sim, "Banco Gringotts")
    page.get_by_role("button", name="Vincular una cuenta en Banco Gringotts").click()
    page.get_by_label("Nombre del titular de la cuenta").fill("Ana Pérez")
    page.get_by_role("button", name="Continuar").click()
    page.get_by_role("heading", name="Autorización para debitar su cuenta").wait_for()
    page.wait_for_function("!document.getElementById('start').disabled")
    mandate = page.locator(".mandate").inner_text()
    assert "usted nos autoriza a debitar de la cuenta bancaria indicada arriba" in mandate
    page.screenshot(path=str(shots / "es-03-mandate-confirm.png"), full_page=True)
    page.get_by_role("button", name="Aceptar y confirmar").click()
    page.get_by_role("heading", name="Su nueva cuenta bancaria está guardada").wait_for()
    assert stripe_js_locales == ["es-419"] * 4  # three collects and the setup's confirmation
    page.screenshot(path=str(shots / "es-04-payment-method-saved.png"), full_page=True)
