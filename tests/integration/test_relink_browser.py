"""The relink page in headless Chromium against the real api (uvicorn, PostgreSQL, Redis) and
the simulator's fake Stripe.js: every page state, and no client secret left behind; branded
(a merchant name, a logo from an origin this test serves, a brand colour), as is the email.

Set RELINK_SCREENSHOTS=docs/screenshots to refresh the committed screenshots.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, Page, Route
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine
from sqlmodel import Session

from shared.cases.links import sign_link
from shared.models import CaseState, EmailKind
from shared.settings import Settings, get_settings
from sim.testing import SimServer
from tests.browser import chromium
from tests.conformance.requests_schema import assert_requests_conform
from tests.integration.stack import ROOT, Stack, wait_until
from tests.relink_page.world import World, build_world
from worker.cases.core.classification import EmailTemplate
from worker.emails.render import AccountLine, render_email

PHONE = {"width": 390, "height": 844}
MERCHANT = "Acme Outfitters"
TEAL = "#0f766e"
LOGO = f"""<svg xmlns="http://www.w3.org/2000/svg" width="192" height="40" viewBox="0 0 192 40">
<rect width="40" height="40" rx="9" fill="{TEAL}"/>
<path d="M11 30 L20 10 L29 30 M15 23 H25" stroke="#fff" stroke-width="4" fill="none"/>
<text x="50" y="27" font-family="sans-serif" font-size="18" font-weight="700" fill="#1a1f36">
{MERCHANT}</text></svg>""".encode()


@pytest.fixture(scope="module")
def logo_url() -> Iterator[str]:
    """The merchant's logo, from an origin of its own (not the api's: the CSP must allow it)."""

    class Logo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/svg+xml")
            self.send_header("Content-Length", str(len(LOGO)))
            self.end_headers()
            self.wfile.write(LOGO)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Logo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/logo.svg"
    server.shutdown()
    server.server_close()


@pytest.fixture
def brand_env(logo_url: str) -> dict[str, str]:
    return {
        "MERCHANT_NAME": MERCHANT,
        "SUPPORT_EMAIL": "help@acme.example.com",
        "BRAND_LOGO_URL": logo_url,
        "BRAND_COLOR": TEAL,
    }


@pytest.fixture
def relink_ui() -> str:
    return "embedded"


@pytest.fixture
def stack_env(brand_env: dict[str, str], relink_ui: str) -> dict[str, str]:
    """The api runs branded, with RELINK_UI `relink_ui` (a test parametrizes it)."""
    return {**brand_env, "RELINK_UI": relink_ui}


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
def engine(pg_database: str) -> Iterator[Engine]:
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}")
    yield engine
    engine.dispose()


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Path]:
    """Screenshots land in tmp_path; copied to RELINK_SCREENSHOTS when it is set."""
    directory = tmp_path / "screenshots"
    directory.mkdir()
    yield directory
    target = os.environ.get("RELINK_SCREENSHOTS")
    if target:
        out = ROOT / target
        out.mkdir(parents=True, exist_ok=True)
        for png in directory.glob("*.png"):
            shutil.copy(png, out / png.name)


def link_settings(stack: Stack) -> Settings:
    return Settings(link_signing_keys=[SecretStr(stack.env["LINK_SIGNING_KEYS"])])


def make_world(sim: SimServer, engine: Engine, **kwargs: object) -> World:
    with Session(engine) as db:
        world = build_world(sim.client, db, **kwargs)  # type: ignore[arg-type]
        db.commit()
    return world


def url(stack: Stack, world: World) -> str:
    return f"{stack.base_url}/relink/{world.token(link_settings(stack))}"


def snap(page: Page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def next_session(page: Page, sim: SimServer, outcome: str, **extra: object) -> None:
    """The session the page's button opens next ends in `outcome` when Stripe.js collects it:
    set on the simulator as the fake Stripe.js sends its collect request (the session is the
    client secret's prefix), before the simulator reads it."""

    def handle(route: Route) -> None:
        secret = str(json.loads(route.request.post_data or "{}").get("client_secret"))
        sim.client.set_session_scenario(secret.split("_secret_")[0], outcome, **extra)
        route.continue_()

    page.route("**/_sim/stripejs/collect", handle, times=1)


def results(pg: psycopg.Connection, case_id: int) -> list[tuple[str, str | None]]:
    rows = pg.execute(
        "SELECT mode, result FROM relink_attempt WHERE case_id = %s ORDER BY id", (case_id,)
    ).fetchall()
    return [(mode, result) for mode, result in rows]


@pytest.mark.browser
def test_relink_in_chromium_every_page_state_and_no_secret_left_behind(
    stack: Stack,
    sim: SimServer,
    pg: psycopg.Connection,
    engine: Engine,
    page: Page,
    shots: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the happy path: open the emailed link, relink, land on the success page
    world = make_world(sim, engine)
    response = page.goto(url(stack, world))
    assert response is not None
    assert response.status == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    button = page.get_by_role("button", name="Reconnect StripeBank")
    button.wait_for()
    assert_branded(page)
    snap(page, shots, "01-link-page")
    assert sim.client.requests("/v1/") == []  # opening the link called Stripe for nothing
    button.click()
    page.get_by_role("heading", name="Your bank is reconnected").wait_for()
    assert "/complete" in page.url
    snap(page, shots, "02-success")
    assert results(pg, world.case_id) == [("account", "account")]
    assert sim.client.session(session_id_of(pg, world.case_id))["status"] == "succeeded"

    # no_account → "any checking or savings account" → a new account → SetupIntent confirmed
    other = make_world(sim, engine, institution="Gringotts Bank")
    page.goto(url(stack, other))
    next_session(page, sim, "no_account")
    page.get_by_role("button", name="Reconnect Gringotts Bank").click()
    page.get_by_role(
        "heading", name="Link any checking or savings account at Gringotts Bank"
    ).wait_for()
    snap(page, shots, "03-no-account-offer")
    next_session(
        page,
        sim,
        "new_account",
        new_accounts=[{"subcategory": "savings", "last4": "1111"}],
        institution="Gringotts Bank",
    )
    page.get_by_role("button", name="Link an account at Gringotts Bank").click()
    page.get_by_label("Name of the account holder").fill("Ada Lovelace")
    snap(page, shots, "04-new-account-name")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Authorization to debit your account").wait_for()
    page.wait_for_function("!document.getElementById('start').disabled")
    assert page.get_by_text("Savings ending in 1111").is_visible()
    mandate = page.locator(".mandate").inner_text()
    assert f"you authorize {MERCHANT} to debit the bank account specified above" in mandate
    assert "(at help@acme.example.com)" in mandate
    assert_branded(page)
    snap(page, shots, "05-mandate-confirm")
    page.get_by_role("button", name="Agree and confirm").click()
    page.get_by_role("heading", name="Your new bank account is saved").wait_for()
    snap(page, shots, "06-payment-method-saved")
    assert results(pg, other.case_id) == [
        ("account", "no_account"),
        ("authorization", "payment_method"),
    ]
    assert saved_payment_method(pg, other.case_id).startswith("pm_")

    # no_authorization → "we couldn't sign in"
    third = make_world(sim, engine, institution="Bank of Nowhere")
    page.goto(url(stack, third))
    next_session(page, sim, "no_authorization")
    page.get_by_role("button", name="Reconnect Bank of Nowhere").click()
    page.get_by_role("heading", name="We couldn't sign in to your bank — try again").wait_for()
    snap(page, shots, "07-no-authorization")
    assert results(pg, third.case_id) == [("account", "no_authorization")]

    # Stripe.js itself fails: the page says so and lets the customer try again
    page.goto(url(stack, third))
    next_session(page, sim, "error", error_type="api_connection_error", message="Network down.")
    page.get_by_role("button", name="Reconnect Bank of Nowhere").click()
    page.get_by_text("Network down. Please try again.").wait_for()
    assert page.get_by_role("button", name="Reconnect Bank of Nowhere").is_enabled()

    # expired: signed long ago; the page offers a fresh link by email
    real_time = time.time
    monkeypatch.setattr(
        "itsdangerous.timed.time.time", lambda: real_time() - link_settings(stack).link_max_age - 60
    )
    expired_url = f"{stack.base_url}/relink/{sign_link(world.payload, link_settings(stack))}"
    monkeypatch.undo()
    response = page.goto(expired_url)
    assert response is not None
    assert response.status == 410
    snap(page, shots, "08-expired")
    page.get_by_role("button", name="Email me a new link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    snap(page, shots, "09-fresh-link-requested")

    # tampered
    response = page.goto(url(stack, world)[:-4] + "AAAA")
    assert response is not None
    assert response.status == 400
    page.get_by_role("heading", name="This link isn't valid").wait_for()
    snap(page, shots, "10-tampered")

    # a case that is already resolved
    resolved = make_world(sim, engine, institution="Resolved Bank", state=CaseState.RESOLVED)
    page.goto(url(stack, resolved))
    page.get_by_role("heading", name="Your bank is reconnected").wait_for()
    snap(page, shots, "11-already-reconnected")

    # no client secret the simulator issued is in the api's logs or the database
    secrets = [s.client_secret for s in sim.state.sessions.values()]
    secrets += [s.client_secret for s in sim.state.setup_intents.values()]
    assert len(secrets) >= 6
    logs = "\n".join(p.read_text(errors="replace") for p in stack.log_dir.glob("*.log"))
    assert "relink_session_opened" in logs
    dump = pg_dump(pg)
    assert session_id_of(pg, world.case_id) in dump
    for secret in secrets:
        assert secret not in logs
        assert secret not in dump
        assert secret.split("_secret_")[1] not in logs + dump


def assert_branded(page: Page) -> None:
    """The logo loaded (the CSP let its origin in) and the button wears the brand colour."""
    logo = page.locator("img.logo")
    assert logo.get_attribute("alt") == MERCHANT
    assert logo.evaluate("img => img.complete && img.naturalWidth > 0")
    background = page.locator("button.primary").evaluate("b => getComputedStyle(b).background")
    assert "rgb(15, 118, 110)" in background
    assert page.get_by_text(f"Questions? Contact {MERCHANT} at").is_visible()


@pytest.mark.browser
def test_the_branded_email_in_chromium(
    browser: Browser, brand_env: dict[str, str], shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The email the worker renders with the same branding, as a mail client shows its HTML."""
    for name, value in brand_env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    content = render_email(
        family=EmailTemplate.ACCESS,
        kind=EmailKind.RELINK,
        institution="StripeBank",
        accounts=[AccountLine("Everyday Checking", "6789")],
        link="https://relink.example.com/relink/eyJjYXNlIjo0Mn0.Zx8Qc1",
        expires_at=datetime(2026, 12, 3, 14, 30, tzinfo=UTC),
    )
    context = browser.new_context(viewport={"width": 600, "height": 800})
    email = context.new_page()
    email.set_content(content.html, wait_until="load")
    assert email.locator(f'img[alt="{MERCHANT}"]').evaluate("img => img.naturalWidth > 0")
    button = email.get_by_role("link", name="Reconnect your account")
    assert "rgb(15, 118, 110)" in button.evaluate("a => getComputedStyle(a).background")
    assert email.get_by_text(f"— {MERCHANT}").is_visible()
    snap(email, shots, "00-email")
    context.close()


def saved_payment_method(pg: psycopg.Connection, case_id: int) -> str:
    row = pg.execute("SELECT payment_method_id FROM relink_case WHERE id = %s", (case_id,))
    saved = row.fetchone()
    assert saved is not None
    return str(saved[0])


def session_id_of(pg: psycopg.Connection, case_id: int) -> str:
    row = pg.execute(
        "SELECT session_id FROM relink_attempt WHERE case_id = %s ORDER BY id LIMIT 1", (case_id,)
    ).fetchone()
    assert row is not None
    return str(row[0])


def pg_dump(pg: psycopg.Connection) -> str:
    """Every row of every table in the public schema, as text."""
    tables = [
        row[0]
        for row in pg.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    ]
    lines = []
    for table in tables:
        copy_sql = f'COPY "{table}" TO STDOUT'  # names from the catalogue
        with pg.cursor().copy(copy_sql) as copy:  # type: ignore[arg-type]
            lines.extend(bytes(block).decode() for block in copy)
    return "\n".join(lines)


def next_hosted_session(page: Page, sim: SimServer, outcome: str, **extra: object) -> None:
    """The session whose hosted page the browser opens next ends in `outcome` when the
    customer continues there: set on the simulator as the page is fetched."""

    def handle(route: Route) -> None:
        sim.client.set_session_scenario(route.request.url.rsplit("/", 1)[1], outcome, **extra)
        route.continue_()

    page.route("**/_sim/hosted/fcsess_*", handle, times=1)


@pytest.mark.browser
@pytest.mark.parametrize("relink_ui", ["stripe_hosted"])
def test_stripe_hosted_relink_in_chromium_with_no_stripe_js_or_secret_on_relinks_pages(
    stack: Stack, sim: SimServer, pg: psycopg.Connection, engine: Engine, page: Page, shots: Path
) -> None:
    served: list[str] = []  # every page of relink's the browser showed, as loaded
    loaded: list[str] = []  # every URL the browser asked for
    page.on("request", lambda request: loaded.append(request.url))

    def keep() -> None:
        assert page.url.startswith(stack.base_url)
        served.append(page.content())

    # reconnected: relink's page, its button, Stripe's hosted page, back to relink
    world = make_world(sim, engine)
    page.goto(url(stack, world))
    button = page.get_by_role("button", name="Reconnect StripeBank")
    button.wait_for()
    assert_branded(page)
    snap(page, shots, "hosted-01-link-page")
    keep()

    def opened() -> bool:  # opened.js tells relink the link was opened, as in embedded
        query = "SELECT link_first_opened_at FROM relink_case WHERE id = %s"
        row = pg.execute(query, (world.case_id,)).fetchone()
        return row is not None and row[0] is not None

    wait_until(opened, 10, "the link recorded as opened")
    next_hosted_session(page, sim, "success")
    button.click()
    page.get_by_role("heading", name="Sign in to StripeBank").wait_for()
    assert page.url.startswith(f"{sim.base_url}/_sim/hosted/fcsess_")
    page.get_by_role("button", name="Continue to StripeBank").click()
    page.get_by_role("heading", name="Your bank is reconnected").wait_for()
    assert page.url == f"{url(stack, world)}/return"
    snap(page, shots, "hosted-02-success")
    keep()
    assert results(pg, world.case_id) == [("account", "account")]
    reconnect_calls = stripe_calls(sim)
    assert_requests_conform(sim)  # hosted on the spec's parameters: no hosted[return_url]

    # no_account, then any account at the bank: a new one, saved with the mandate accepted
    other = make_world(sim, engine, institution="Gringotts Bank")
    sim.client.clear_requests()
    page.goto(url(stack, other))
    next_hosted_session(page, sim, "no_account")
    page.get_by_role("button", name="Reconnect Gringotts Bank").click()
    page.get_by_role("button", name="Continue to Gringotts Bank").click()
    page.get_by_role(
        "heading", name="Link any checking or savings account at Gringotts Bank"
    ).wait_for()
    snap(page, shots, "hosted-03-no-account-offer")
    keep()
    next_hosted_session(
        page,
        sim,
        "new_account",
        new_accounts=[{"subcategory": "savings", "last4": "1111"}],
        institution="Gringotts Bank",
    )
    page.get_by_role("button", name="Link an account at Gringotts Bank").click()
    page.get_by_role("button", name="Continue to Gringotts Bank").click()
    page.get_by_label("Name of the account holder").fill("Ada Lovelace")
    page.get_by_role("heading", name="Authorization to debit your account").wait_for()
    page.get_by_label("I agree to the authorization above").check()
    assert page.get_by_text(f"you authorize {MERCHANT} to debit the bank account").is_visible()
    snap(page, shots, "hosted-04-new-account-mandate")
    keep()
    page.get_by_role("button", name="Agree and confirm").click()
    page.get_by_role("heading", name="Your new bank account is saved").wait_for()
    snap(page, shots, "hosted-05-payment-method-saved")
    keep()
    assert results(pg, other.case_id) == [
        ("account", "no_account"),
        ("authorization", "payment_method"),
    ]
    assert saved_payment_method(pg, other.case_id).startswith("pm_")
    (intent,) = sim.state.setup_intents.values()
    assert intent.status == "succeeded"
    assert intent.customer_acceptance is not None
    assert intent.customer_acceptance["online"]["ip_address"] == "127.0.0.1"
    assert "Chrome" in intent.customer_acceptance["online"]["user_agent"]
    no_account_calls = stripe_calls(sim)
    assert_requests_conform(sim)
    hosted_creates = [
        r["params"] for r in sim.client.requests("/v1/financial_connections/sessions")
        if r["method"] == "POST"
    ]  # fmt: skip
    assert len(hosted_creates) == 2
    for params in hosted_creates:
        assert params["hosted"] == {"delivery_method": "url"}
        assert params["return_url"] == f"{url(stack, other)}/return"

    # no Stripe.js anywhere, and no client secret in any page relink served
    assert len(served) == 5
    assert not [u for u in loaded if "stripe.js" in u or "js.stripe.com" in u]
    secrets = [s.client_secret for s in sim.state.sessions.values()]
    secrets += [s.client_secret for s in sim.state.setup_intents.values()]
    for html in served:
        assert "client_secret" not in html
        assert "client-secret" not in html
        assert "_secret_" not in html
        assert '<script src="http' not in html
        for secret in secrets:
            assert secret not in html
    print("hosted reconnect: Stripe calls", reconnect_calls)
    print("hosted no_account to a saved payment method: Stripe calls", no_account_calls)
    assert reconnect_calls == {
        "GET /v1/financial_connections/accounts/{id}": 1,
        "POST /v1/financial_connections/sessions": 1,
        "GET /v1/financial_connections/sessions/{id}": 1,
    }
    assert no_account_calls == {
        "GET /v1/financial_connections/accounts/{id}": 1,
        "POST /v1/financial_connections/sessions": 2,
        "GET /v1/financial_connections/sessions/{id}": 2,
        "GET /v1/customers/{id}": 1,  # the holder's name, to prefill the form
        "POST /v1/setup_intents": 1,  # created confirmed, with the mandate
    }


def stripe_calls(sim: SimServer) -> dict[str, int]:
    """The Stripe API calls in the simulator's request log, by route."""
    counts: dict[str, int] = {}
    for request in sim.client.requests("/v1/"):
        counts[request["route"]] = counts.get(request["route"], 0) + 1
    return counts
