"""The relink page with the merchant's branding: logo (and its origin in the CSP's img-src
only), colour through /brand.css, support contact, Stripe's ACH mandate wording naming the
merchant; and TEMPLATES_DIR overriding one template while the others fall back."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shared.settings import get_settings
from sim.testing import SimServer
from tests.relink_page.pages import attempts
from tests.relink_page.test_page import assert_page_headers, link_new_account
from tests.relink_page.world import World

BRAND = {
    "MERCHANT_NAME": "Acme & Co",
    "SUPPORT_EMAIL": "help@acme.example.com",
    "BRAND_LOGO_URL": "https://cdn.acme.example.com/logo.png",
    "BRAND_COLOR": "#FFD700",
}


@pytest.fixture
def branded(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BRAND.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def csp_of(response: object) -> dict[str, str]:
    policy = response.headers["content-security-policy"]  # type: ignore[attr-defined]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def words(page: str) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded, spaces folded."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", page)))


def test_the_page_carries_the_logo_colour_and_contact(
    branded: None, client: TestClient, world: World, sim: SimServer
) -> None:
    response = client.get(f"/relink/{world.token()}")
    assert response.status_code == 200
    page = response.text
    assert '<img class="logo" src="https://cdn.acme.example.com/logo.png" alt="Acme &amp; Co">' in (
        page
    )
    assert "Acme & Co" not in page  # escaped everywhere
    assert '<link rel="stylesheet" href="/brand.css">' in page
    assert "Questions? Contact Acme & Co at help@acme.example.com." in words(page)
    assert '<a href="mailto:help@acme.example.com">' in page
    assert "<title>Reconnect StripeBank · Acme &amp; Co</title>" in page
    assert csp_of(response)["img-src"] == "'self' data: https://cdn.acme.example.com"
    assert_page_headers(response, sim)  # style-src stays 'self': no inline style
    stylesheet = client.get("/brand.css")
    assert stylesheet.headers["content-type"].startswith("text/css")
    assert stylesheet.text == ":root { --accent: #ffd700; --on-accent: #1a1f36; }\n"


def test_without_branding_the_page_is_relinks_own(
    client: TestClient, world: World, sim: SimServer
) -> None:
    response = client.get(f"/relink/{world.token()}")
    assert "/brand.css" not in response.text
    assert 'class="logo"' not in response.text
    assert "Questions?" not in response.text
    assert "<title>Reconnect StripeBank</title>" in response.text
    assert csp_of(response)["img-src"] == "'self' data:"
    assert client.get("/brand.css").text == ""


def test_the_mandate_names_the_merchant_and_how_to_revoke(
    branded: None, client: TestClient, world: World, sim: SimServer
) -> None:
    text = words(mandate_page(client, world, sim))
    assert (
        "By clicking “Agree and confirm”, you authorize Acme & Co to debit the bank account "
        "specified above for any amount owed for charges arising from your use of Acme & Co's "
        "services and/or purchase of products from Acme & Co, pursuant to Acme & Co's website "
        "and terms, until this authorization is revoked. You may amend or cancel this "
        "authorization at any time by providing notice to Acme & Co with 30 (thirty) days "
        "notice (at help@acme.example.com)."
    ) in text
    assert (
        "If you use Acme & Co's services or purchase additional products periodically pursuant "
        "to Acme & Co's terms, you authorize Acme & Co to debit your bank account periodically. "
        "Payments that fall outside of the regular debits authorized above will only be debited "
        "after your authorization is obtained."
    ) in text
    assert " us " not in text.split("Authorization to debit your account")[1]


def mandate_page(client: TestClient, world: World, sim: SimServer) -> str:
    """The confirm page of a new account (shown again: the same SetupIntent, read back)."""
    link_new_account(client, world, sim)
    session_id = attempts(world.case_id)[-1].session_id
    data = {"session_id": session_id or "", "name": "Ada Lovelace"}
    page = client.post(f"/relink/{world.token()}/setup", data=data)
    assert page.status_code == 200
    return page.text


def test_without_a_merchant_name_the_mandate_says_us(
    client: TestClient, world: World, sim: SimServer
) -> None:
    assert (
        "you authorize us to debit the bank account specified above for any amount owed for "
        "charges arising from your use of our services and/or purchase of products from us, "
        "pursuant to our website and terms"
    ) in words(mandate_page(client, world, sim))


def test_templates_dir_overrides_one_page_and_the_rest_fall_back(
    client: TestClient,
    world: World,
    sim: SimServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    overrides = tmp_path / "overrides"
    (overrides / "relink_page").mkdir(parents=True)
    (overrides / "relink_page" / "invalid.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>Not ours: {{ brand.name }}</h1>'
        "{% endblock %}"
    )
    monkeypatch.setenv("TEMPLATES_DIR", str(overrides))
    monkeypatch.setenv("MERCHANT_NAME", "<Acme>")
    get_settings.cache_clear()
    invalid = client.get("/relink/not-a-link")
    assert invalid.status_code == 400
    assert "<h1>Not ours: &lt;Acme&gt;</h1>" in invalid.text  # the override, escaped
    assert '<link rel="stylesheet" href="/static/relink.css">' in invalid.text  # built-in base
    start = client.get(f"/relink/{world.token()}")
    assert start.status_code == 200
    assert "Reconnect StripeBank" in start.text  # no override: the built-in start page
