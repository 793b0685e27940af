"""`relink doctor`: settings, database, broker, email, the Stripe key and the webhook endpoint
(URLs shown without their passwords)."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import text

from cli.output import (
    JsonFlag,
    echo_json,
    render_table,
)
from shared import queue
from shared.events.catalog import INVOICE_EVENT_TYPES, SNAPSHOT_EVENT_TYPES
from shared.settings import ConfigError, Settings, load_settings
from shared.stripe_client import list_webhook_endpoints, make_stripe_client
from shared.urls import masked_url
from worker.emails.smtp import SmtpFailure, smtp_connection

# The events a relink webhook endpoint must deliver; it should deliver every other type
# relink handles (recommended_event_types).
REQUIRED_EVENT_TYPES = (
    "financial_connections.account.deactivated",
    "financial_connections.account.reactivated",
)
WEBHOOK_PATH = "/webhooks/stripe"
CONNECT_WEBHOOK_PATH = "/webhooks/stripe/connect"


@dataclass
class Check:
    name: str
    status: str  # ok, warn, fail, skip
    detail: str


def check_database(settings: Settings) -> Check:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from shared.db import get_engine
    from shared.migrate import alembic_config

    where = masked_url(settings.database_url)
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:
        return Check("database", "fail", f"{where} unreachable: {type(exc).__name__}")
    heads = set(ScriptDirectory.from_config(alembic_config(settings.database_url)).get_heads())
    head = ", ".join(sorted(heads))
    if current != heads:
        have = ", ".join(sorted(current)) or "none"
        return Check(
            "database", "fail", f"at revision {have}, head is {head}: run `relink migrate`"
        )
    return Check("database", "ok", f"{where} reachable, migrated to head ({head})")


def check_broker(settings: Settings) -> Check:
    where = masked_url(settings.celery_broker_url)
    error = queue.check_broker()
    if error is not None:
        return Check("broker", "fail", f"{where} unreachable: {error}")
    return Check("broker", "ok", f"{where} reachable")


def check_email(settings: Settings) -> Check:
    url = settings.email_url
    if url.startswith("console://"):
        return Check("email", "warn", "console:// prints emails; nobody receives them")
    if url.startswith("file://"):
        folder = Path(url.removeprefix("file://"))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".relink-doctor"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            return Check("email", "fail", f"{folder} is not writable: {type(exc).__name__}")
        return Check("email", "warn", f"file:// writes emails to {folder}; nobody receives them")
    shown = masked_url(url)  # TLS and AUTH exactly as the transport does them
    timeout = min(5.0, settings.email_timeout_seconds)
    try:
        with smtp_connection(url, timeout=timeout, ca_bundle=settings.email_ca_bundle) as smtp:
            code, _ = smtp.noop()
    except SmtpFailure as exc:
        return Check("email", "fail", str(exc))
    except (OSError, smtplib.SMTPException) as exc:
        return Check("email", "fail", f"{shown} unreachable: {type(exc).__name__}")
    if code != 250:
        return Check("email", "fail", f"{shown} answered NOOP with {code}")
    login = ", TLS and login accepted" if "@" in url else ""
    return Check("email", "ok", f"{shown} answers{login}")


def check_stripe_key(settings: Settings) -> Check:
    key = settings.stripe_api_key
    if key is None:
        return Check("stripe key", "fail", "STRIPE_API_KEY is not set")
    value = key.get_secret_value()
    kind = "restricted" if value.startswith("rk_") else "secret"
    mode = "live" if settings.livemode else "test"
    detail = f"{mode} mode ({kind} key), {settings.stripe_requests_per_second:g} requests/s"
    return Check("stripe key", "ok", detail)


def fetch_webhook_endpoints(settings: Settings) -> list[dict[str, Any]]:
    return list_webhook_endpoints(make_stripe_client(settings))


def webhook_url(settings: Settings, path: str = WEBHOOK_PATH) -> str:
    return settings.public_base_url.rstrip("/") + path


Fetch = Callable[[Settings], list[dict[str, Any]]]


def check_webhook_endpoint(settings: Settings, fetch: Fetch = fetch_webhook_endpoints) -> Check:
    """A webhook endpoint for PUBLIC_BASE_URL/webhooks/stripe, enabled, delivering the FC
    events, on a preview API version, and not a Connect endpoint."""
    return _check_endpoint(settings, fetch, connect=False)


def check_connect_endpoint(settings: Settings, fetch: Fetch = fetch_webhook_endpoints) -> Check:
    """With STRIPE_CONNECT: the Connect endpoint for PUBLIC_BASE_URL/webhooks/stripe/connect,
    with the same checks. Stripe's endpoint object does not say whether it is a Connect one:
    relink tells them apart by URL (a `connect` or `application` mark is accepted here)."""
    if not settings.stripe_connect:
        return Check("connect endpoint", "skip", "STRIPE_CONNECT is off")
    return _check_endpoint(settings, fetch, connect=True)


def recommended_event_types(settings: Settings) -> list[str]:
    """The snapshot types relink handles beyond the required ones, and the invoice outcomes
    with RECOVER_FAILED_PAYMENTS (without them a sweep reads each payment back)."""
    invoices = INVOICE_EVENT_TYPES if settings.recover_failed_payments else frozenset()
    return sorted((SNAPSHOT_EVENT_TYPES | invoices) - set(REQUIRED_EVENT_TYPES))


def _check_endpoint(settings: Settings, fetch: Fetch, *, connect: bool) -> Check:
    import stripe

    name = "connect endpoint" if connect else "webhook endpoint"
    if settings.stripe_api_key is None:
        return Check(name, "skip", "no STRIPE_API_KEY to ask Stripe with")
    expected = webhook_url(settings, CONNECT_WEBHOOK_PATH if connect else WEBHOOK_PATH)
    try:
        endpoints = fetch(settings)
    except stripe.StripeError as exc:
        status = getattr(exc, "http_status", None)
        message = (exc.user_message or type(exc).__name__)[:200]
        return Check(name, "fail", f"GET /v1/webhook_endpoints failed ({status}): {message}")
    mine = [e for e in endpoints if str(e.get("url", "")).rstrip("/") == expected]
    if not mine:
        urls = ", ".join(sorted(str(e.get("url")) for e in endpoints)) or "none"
        return Check(name, "fail", f"none points at {expected} (endpoints: {urls})")
    endpoint = next((e for e in mine if e.get("status") == "enabled"), mine[0])
    problems: list[str] = []
    warnings: list[str] = []
    if endpoint.get("status") != "enabled":
        problems.append(f"status is {endpoint.get('status')}")
    enabled = set(endpoint.get("enabled_events") or [])
    if "*" not in enabled:
        if missing := [t for t in REQUIRED_EVENT_TYPES if t not in enabled]:
            problems.append("missing events " + ", ".join(missing))
        if missing := [t for t in recommended_event_types(settings) if t not in enabled]:
            warnings.append("not enabled: " + ", ".join(missing))
    version = endpoint.get("api_version")
    if not (isinstance(version, str) and version.endswith(".preview")):
        warnings.append(
            f"API version {version or 'account default'} is not a preview version: each "
            "event costs an extra account retrieve"
        )
    if not connect and (endpoint.get("connect") or endpoint.get("application")):
        problems.append("it is a Connect endpoint (events of connected accounts)")
    if endpoint.get("livemode") is not None and endpoint.get("livemode") != settings.livemode:
        problems.append("its mode differs from the key's")
    where = f"{endpoint.get('id')} → {expected}"
    if problems:
        return Check(name, "fail", f"{where}: " + "; ".join(problems + warnings))
    if warnings:
        return Check(name, "warn", f"{where}: " + "; ".join(warnings))
    return Check(name, "ok", f"{where}, FC events, {version}")


def run_checks() -> list[Check]:
    try:
        settings = load_settings()
    except ConfigError as exc:
        return [Check("settings", "fail", str(exc))]
    checks = [Check("settings", "ok", "loaded")]
    for check in (
        check_database,
        check_broker,
        check_email,
        check_stripe_key,
        check_webhook_endpoint,
        check_connect_endpoint,
    ):
        try:
            checks.append(check(settings))
        except Exception as exc:  # a doctor reports; it does not crash
            checks.append(Check(check.__name__.removeprefix("check_"), "fail", repr(exc)[:200]))
    return checks


def doctor(as_json: JsonFlag = False) -> None:
    """Check settings, database, broker, email, the Stripe key and the webhook endpoint."""
    checks = run_checks()
    failed = any(check.status == "fail" for check in checks)
    if as_json:
        echo_json({"ok": not failed, "checks": [asdict(check) for check in checks]})
    else:
        rows = [(check.name, check.status.upper(), check.detail) for check in checks]
        typer.echo(render_table(("check", "status", "detail"), rows))
    if failed:
        raise typer.Exit(1)
