"""The customer's language: which supported locale a customer reads, the Babel catalogs
(shared/locales/<locale>/LC_MESSAGES/messages.po, compiled in memory on first use, so a
wheel, `pip install -e .` and the runtime lock alone all work without a build step), and
dates formatted the way that locale writes them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol, cast

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import BaseLoader, Environment

SOURCE_LOCALE = "en"  # the msgids' language
SUPPORTED_LOCALES = ("en", "es")
LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
# Financial Connections serves US banks: dates and amounts as written in the US.
BABEL_LOCALES = {"en": "en_US", "es": "es_US"}
# Stripe.js's own locale codes (https://docs.stripe.com/js/appendix/supported_locales).
STRIPE_JS_LOCALES = {"en": "en", "es": "es-419"}


def supported_locale(tag: str | None) -> str | None:
    """The supported locale a BCP 47 tag (or Stripe's `es-419`, a POSIX `es_MX`) asks for, by
    its language; None for an unsupported, empty or missing one."""
    if not tag:
        return None
    language = tag.replace("_", "-").split("-", 1)[0].lower()
    return language if language in SUPPORTED_LOCALES else None


def resolve_locale(
    contact_locale: str | None, preferred_locales: Sequence[str], default: str
) -> str:
    """The platform's `contact.locale` when supported, else the first supported of the Stripe
    Customer's `preferred_locales`, else DEFAULT_LOCALE."""
    for tag in (contact_locale, *preferred_locales):
        found = supported_locale(tag)
        if found is not None:
            return found
    return default


@lru_cache(maxsize=len(SUPPORTED_LOCALES))
def translations(locale: str) -> Translations:
    """The locale's catalog, compiled from its .po (fuzzy and untranslated entries left out,
    so they read as the English msgid)."""
    with (LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def i18n_environment(
    loader: BaseLoader,
    locale: str,
    autoescape: Callable[[str | None], bool],
    **options: Any,
) -> Environment:
    """A Jinja2 environment whose `{% trans %}` and `_()` speak `locale`, with `locale` (the
    `<html lang>`, the Content-Language) and `stripe_locale` (Stripe.js's) as globals."""
    env = Environment(
        loader=loader,
        autoescape=autoescape,  # noqa: S701 (callers pass select_autoescape)
        extensions=["jinja2.ext.i18n"],
        **options,
    )
    env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them
    i18n = cast(_I18nEnvironment, env)  # what the i18n extension adds, and the globals typed
    i18n.install_gettext_translations(translations(locale), newstyle=True)
    i18n.globals.update(locale=locale, stripe_locale=STRIPE_JS_LOCALES[locale])
    return env


class _I18nEnvironment(Protocol):
    """An Environment with `jinja2.ext.i18n` loaded: Jinja2 declares neither the method the
    extension adds nor the globals' value type."""

    globals: dict[str, Any]

    def install_gettext_translations(
        self, translations: Translations, *, newstyle: bool
    ) -> None: ...


def long_date(day: datetime, locale: str) -> str:
    """`December 3, 2026` / `3 de diciembre de 2026`."""
    return format_date(day, "long", locale=BABEL_LOCALES[locale])


def long_datetime_utc(moment: datetime, locale: str) -> str:
    """`December 3, 2026 at 2:30 PM UTC` / `3 de diciembre de 2026 a las 2:30 p.m. UTC`."""
    babel_locale = BABEL_LOCALES[locale]
    return translations(locale).gettext("%(date)s at %(time)s UTC") % {
        "date": format_date(moment, "long", locale=babel_locale),
        "time": format_time(moment, "short", tzinfo=UTC, locale=babel_locale),
    }
