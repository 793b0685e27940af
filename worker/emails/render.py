"""Text and HTML bodies from Jinja2 templates (worker/emails/templates, behind
TEMPLATES_DIR/emails/), one per cause family, with the merchant's branding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, StrictUndefined, select_autoescape

from shared.branding import template_loader
from shared.models import EmailKind
from shared.settings import get_settings
from worker.cases.classification import CauseFamily


@dataclass(frozen=True)
class AccountLine:
    display_name: str | None
    last4: str | None


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=4)
def environment(templates_dir: Path | None) -> Environment:
    return Environment(
        loader=template_loader("worker.emails", "emails", templates_dir),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _subject(
    family: CauseFamily,
    kind: EmailKind,
    institution: str,
    deadline: datetime | None = None,
    number_expiry: bool = False,
) -> str:
    if family is CauseFamily.UNREPAIRABLE:
        return f"Your {institution} account can no longer be used: please set up a new one"
    if family is CauseFamily.RECONNECTED:
        return f"Your {institution} account is reconnected"
    if family is CauseFamily.PROACTIVE:
        prefix = "Reminder: r" if kind == EmailKind.REMINDER else "R"
        when = f" before {format_date(deadline)}" if deadline else " soon"
        if number_expiry and not deadline:
            when = " to keep payments working"
        return f"{prefix}econnect your {institution} account{when}"
    if kind == EmailKind.REMINDER:
        return f"Reminder: reconnect your {institution} account"
    if kind == EmailKind.FRESH_LINK:
        return f"Your new link to reconnect your {institution} account"
    return f"Reconnect your {institution} account"


def format_expiry(expires_at: datetime) -> str:
    return expires_at.strftime("%-d %B %Y at %H:%M UTC")


def format_date(day: datetime) -> str:
    return day.strftime("%-d %B %Y")


def render_email(
    *,
    family: CauseFamily,
    kind: EmailKind,
    institution: str,
    accounts: list[AccountLine],
    link: str | None,
    expires_at: datetime | None,
    deadline: datetime | None = None,
    number_expiry: bool = False,
) -> EmailContent:
    """Render the email; `link` and `expires_at` are None for the unrepairable and
    reconnected families; `deadline` is a proactive email's expected deactivation date, or
    with `number_expiry` the date the number used for payments expires."""
    settings = get_settings()
    context = {
        "brand": settings.brand,
        "kind": kind.value,
        "institution": institution,
        "accounts": accounts,
        "link": link,
        "expires": format_expiry(expires_at) if expires_at else None,
        "deadline": format_date(deadline) if deadline else None,
        "number_expiry": number_expiry,
    }
    env = environment(settings.templates_dir)
    return EmailContent(
        subject=_subject(family, kind, institution, deadline, number_expiry),
        text=env.get_template(f"{family.value}.txt").render(context),
        html=env.get_template(f"{family.value}.html").render(context),
    )
