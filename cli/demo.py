"""`relink demo`: a scripted story on the embedded default, narrated step by step with its
timing. A customer's three accounts at one bank are deactivated, one email is written, the
link completes through the simulated Stripe.js, the reactivation reconciles all three and the
case closes; then a closed account makes an unrepairable case.

The demo runs in a directory of its own (var/demo, wiped first) with its own database,
broker queue and outbox, and always on the bundled simulator: its control plane plays the
bank and the customer.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import time
import webbrowser
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import requests
import typer
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cli.embedded import Embedded, start_embedded
from shared.db import make_engine
from shared.models import FcAccount, RelinkCase
from sim.client import SimClient

T = TypeVar("T")
DEMO_DIR = Path("var", "demo")
# Variables that would take the demo off the embedded default or off the simulator.
OVERRIDDEN = (
    "DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL", "STRIPE_API_KEY", "STRIPE_API_BASE",
    "STRIPE_WEBHOOK_SECRETS", "STRIPE_PUBLISHABLE_KEY", "STRIPE_JS_URL", "PUBLIC_BASE_URL",
    "LINK_SIGNING_KEYS",
)  # fmt: skip
LINK = re.compile(r"https?://\S+/relink/[A-Za-z0-9._~-]+")
SESSION_FIELD = re.compile(r'name="session_id" value="([^"]+)"')


class Narrator:
    """Prints each step with the time since the demo began and since the previous step."""

    def __init__(self) -> None:
        self.started = self.last = time.monotonic()

    def say(self, text: str) -> None:
        now = time.monotonic()
        typer.echo(f"[{now - self.started:6.1f}s +{now - self.last:4.1f}s] {text}")
        self.last = now


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except (requests.RequestException, OSError):
            found = None
        if found is not None and found is not False:
            return found
        time.sleep(0.2)
    raise typer.Exit(_failed(f"timed out after {timeout:.0f}s waiting for {what}"))


def _failed(message: str) -> int:
    typer.echo(f"demo failed: {message} (logs: {Path('demo.log').resolve()})", err=True)
    return 1


class Story:
    """The demo's world: the simulator's control plane, the API, the database, the outbox."""

    def __init__(self, embedded: Embedded, base_url: str, narrator: Narrator) -> None:
        assert embedded.sim_base is not None
        self.sim = SimClient(embedded.sim_base)
        self.base_url = base_url
        self.engine: Engine = make_engine(embedded.settings.database_url)
        self.outbox = Path(embedded.settings.email_url.removeprefix("file://")).resolve()
        self.say = narrator.say

    def case(self, authorization_id: str) -> RelinkCase | None:
        with Session(self.engine) as db:
            query = select(RelinkCase).where(RelinkCase.authorization_id == authorization_id)
            return db.exec(query.order_by(col(RelinkCase.id).desc())).first()

    def accounts(self, authorization_id: str) -> list[FcAccount]:
        with Session(self.engine) as db:
            query = select(FcAccount).where(FcAccount.authorization_id == authorization_id)
            return list(db.exec(query.order_by(col(FcAccount.id))))

    def email_to(self, address: str) -> tuple[Path, EmailMessage] | None:
        for path in sorted(self.outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == address:
                return path, message  # type: ignore[return-value]
        return None

    def customer_with_accounts(
        self, address: str, bank: str, accounts: list[dict[str, Any]]
    ) -> tuple[str, list[str]]:
        """A customer and their authorization at `bank`: its id and its accounts' ids."""
        customer = self.sim.create_customer(address)
        holder = {"type": "customer", "customer": customer["id"]}
        authorization = self.sim.create_authorization(holder, institution=bank, accounts=accounts)
        return str(authorization["id"]), [str(a) for a in authorization["accounts"]]


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    return body.get_content() if body is not None else ""  # type: ignore[union-attr]


def repaired_story(story: Story, quiet: float, open_browser: bool) -> None:
    accounts = [
        {"last4": "6789", "subcategory": "checking", "display_name": "Everyday checking"},
        {"last4": "4321", "subcategory": "savings", "display_name": "Rainy-day savings"},
        {"last4": "1111", "subcategory": "checking", "display_name": "Bills"},
    ]
    auth, _ = story.customer_with_accounts("ada@example.com", "StripeBank", accounts)
    story.say(f"Ada (ada@example.com) has 3 accounts at StripeBank, authorization {auth}")
    story.sim.deactivate_authorization(auth, cause="access_expired")
    story.say("StripeBank's access expired: Stripe sends 3 account.deactivated webhooks")
    case = wait_for(lambda: story.case(auth), 60, "the case")
    wait_for(lambda: len(story.accounts(auth)) == 3 or None, 60, "the 3 accounts")
    story.say(
        f"relink verified and recorded them: case #{case.id} (cause {case.cause}); "
        f"waiting the {quiet:g}s quiet period so all 3 accounts share one email"
    )
    path, message = wait_for(lambda: story.email_to("ada@example.com"), quiet + 60, "the email")
    found = LINK.search(_text(message))
    if found is None:
        raise typer.Exit(_failed(f"no relink link in {path}"))
    link = found.group(0)
    story.say(f"one email written for all 3 accounts: {path}\n{' ' * 17}link: {link}")
    if open_browser:
        webbrowser.open(link)
        story.say("opened the link in your browser: press the button (Stripe.js is simulated)")
    else:
        _click_through(story, link)
    patience = 600 if open_browser else 60
    closed = wait_for(lambda: _closed(story.case(auth)), patience, "the case to close")
    statuses = ", ".join(f"…{a.last4} {a.status}" for a in story.accounts(auth))
    story.say(f"3 account.reactivated webhooks reconciled: {statuses}")
    story.say(f"case #{closed.id} closed: {closed.state} ({closed.resolution}); reminders stop")


def _click_through(story: Story, link: str) -> None:
    """What the customer's browser does, over HTTP: open the page, press the button, finish
    the bank's dialog (the simulator's Stripe.js), come back to the page."""
    page = requests.get(link, timeout=30)
    requests.post(f"{link}/opened", timeout=30)  # what the page's script says
    story.say(f"the customer opens the link: {page.status_code}, the page changes nothing")
    opened = requests.post(f"{link}/session", timeout=30)
    found = SESSION_FIELD.search(opened.text)
    if opened.status_code != 200 or found is None:
        raise typer.Exit(_failed(f"the button answered {opened.status_code}"))
    session_id = found.group(1)
    story.say(f"they press the button: Financial Connections session {session_id}")
    story.sim.complete_session(session_id, "success")
    done = requests.post(f"{link}/complete", data={"session_id": session_id}, timeout=30)
    outcome = "Your bank is reconnected" if "reconnected" in done.text else done.status_code
    story.say(f"they log in to the bank (simulated Stripe.js); the page says: {outcome}")


def _closed(case: RelinkCase | None) -> RelinkCase | None:
    return case if case is not None and case.resolved_at is not None else None


def unrepairable_story(story: Story, quiet: float) -> None:
    accounts = [{"last4": "0042", "subcategory": "savings", "display_name": "Old savings"}]
    auth, [account] = story.customer_with_accounts("grace@example.com", "Gringotts", accounts)
    story.say(f"Grace (grace@example.com) has 1 account at Gringotts, {account}")
    story.sim.deactivate_account(account, cause="account_closed", action="none")
    story.say(
        "Gringotts closed the account: account.deactivated, cause account_closed, action none"
    )
    case = wait_for(lambda: story.case(auth), 60, "the case")
    story.say(f"case #{case.id} is {case.state}: no relink can repair a closed account")
    path, message = wait_for(lambda: story.email_to("grace@example.com"), quiet + 60, "the email")
    has_link = LINK.search(_text(message)) is not None
    story.say(
        f"one email written: {path}\n{' ' * 17}subject: {message['Subject']} "
        f"({'with' if has_link else 'no'} relink link: she is asked for a new payment method)"
    )


def _serve_api(host: str, port: int, log: Any) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory"]
    command += ["--host", host, "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(command, stdout=log, stderr=log)


def demo(
    open_browser: bool = typer.Option(
        False, "--open", help="open the link in your browser instead of clicking through"
    ),
    fast: bool = typer.Option(False, "--fast", help="a 2 s quiet period instead of 20 s"),
    host: str = "127.0.0.1",
    port: int = 8000,
    sim_port: int = typer.Option(12111, help="port of the bundled Stripe simulator"),
) -> None:
    """Play a scripted story on the embedded default and narrate it: a repaired case, then
    an unrepairable one. Runs in var/demo (wiped first); every process stops at the end."""
    root = DEMO_DIR.resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    os.chdir(root)
    for name in OVERRIDDEN:
        os.environ.pop(name, None)
    quiet = 2.0 if fast else 20.0
    os.environ["QUIET_PERIOD_SECONDS"] = str(quiet)
    narrator = Narrator()
    typer.echo(f"relink demo in {root} (processes log to demo.log)")
    with open("demo.log", "wb") as log:
        embedded = start_embedded(host, port, sim_port, output=log)
        embedded.children.append(_serve_api(host, port, log))
        try:
            base_url = f"http://{host}:{port}"
            wait_for(lambda: requests.get(f"{base_url}/readyz", timeout=2).ok, 90, "relink")
            story = Story(embedded, base_url, narrator)
            narrator.say(
                f"relink is up: API {base_url}, worker, simulator {embedded.sim_base}, "
                f"emails in {story.outbox}"
            )
            repaired_story(story, quiet, open_browser)
            unrepairable_story(story, quiet)
            narrator.say("the end: 2 cases, 1 repaired, 1 unrepairable")
        finally:
            embedded.stop()
