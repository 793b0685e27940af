"""Text and HTML bodies from Jinja2 templates (worker/emails/templates, behind
TEMPLATES_DIR/emails/), one per cause family, with the merchant's branding, in the
customer's language (shared/i18n.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, StrictUndefined, select_autoescape

from shared.branding import template_loader
from shared.i18n import (
    SOURCE_LOCALE,
    i18n_environment,
    long_date,
    long_datetime_utc,
    translations,
)
from shared.models import EmailKind
from shared.settings import get_settings
from worker.cases.core.classification import EmailTemplate


@dataclass(frozen=True)
class AccountLine:
    display_name: str | None
    last4: str | None


@dataclass(frozen=True)
class EmailContent:
    locale: str  # its Content-Language
    subject: str
    text: str
    html: str


@lru_cache(maxsize=8)
def environment(templates_dir: Path | None, locale: str) -> Environment:
    return i18n_environment(
        template_loader("worker.emails", "emails", templates_dir, locale),
        locale,
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _subject(
    family: EmailTemplate,
    kind: EmailKind,
    institution: str | None,
    deadline: str | None,
    locale: str,
    number_expiry: bool = False,
) -> str:
    _ = translations(locale).gettext
    # "Reconnect your bank account", never "your your bank": the subject's own noun
    names = {"institution": institution or _("bank"), "deadline": deadline}
    if family is EmailTemplate.UNREPAIRABLE:
        subject = _("Your %(institution)s account can no longer be used: please set up a new one")
    elif family is EmailTemplate.RECONNECTED:
        subject = _("Your %(institution)s account is reconnected")
    elif family is EmailTemplate.PROACTIVE and kind == EmailKind.REMINDER:
        if deadline:
            subject = _("Reminder: reconnect your %(institution)s account before %(deadline)s")
        elif number_expiry:
            subject = _("Reminder: reconnect your %(institution)s account to keep payments working")
        else:
            subject = _("Reminder: reconnect your %(institution)s account soon")
    elif family is EmailTemplate.PROACTIVE:
        if deadline:
            subject = _("Reconnect your %(institution)s account before %(deadline)s")
        elif number_expiry:
            subject = _("Reconnect your %(institution)s account to keep payments working")
        else:
            subject = _("Reconnect your %(institution)s account soon")
    elif kind == EmailKind.REMINDER:
        subject = _("Reminder: reconnect your %(institution)s account")
    elif kind == EmailKind.FRESH_LINK:
        subject = _("Your new link to reconnect your %(institution)s account")
    else:
        subject = _("Reconnect your %(institution)s account")
    return subject % names


def render_email(
    *,
    family: EmailTemplate,
    kind: EmailKind,
    institution: str | None,
    accounts: list[AccountLine],
    link: str | None,
    expires_at: datetime | None,
    deadline: datetime | None = None,
    locale: str = SOURCE_LOCALE,
    number_expiry: bool = False,
) -> EmailContent:
    """Render the email in `locale` (a supported one); `link` and `expires_at` are None for
    the unrepairable and reconnected families; `deadline` is a proactive email's expected
    deactivation date, or with `number_expiry` the date the number used for payments
    expires; `institution` is None when neither Stripe nor our records name the bank."""
    settings = get_settings()
    _ = translations(locale).gettext
    day = long_date(deadline, locale) if deadline else None
    subject = _subject(family, kind, institution, day, locale, number_expiry)
    context = {
        "brand": settings.brand,
        "subject": subject,
        "kind": kind.value,
        "institution": institution or _("your bank"),
        "accounts": accounts,
        "link": link,
        "expires": long_datetime_utc(expires_at, locale) if expires_at else None,
        "deadline": day,
        "number_expiry": number_expiry,
    }
    env = environment(settings.templates_dir, locale)
    return EmailContent(
        locale=locale,
        subject=subject,
        text=env.get_template(f"{family.value}.txt").render(context),
        html=env.get_template(f"{family.value}.html").render(context),
    )
