"""The customer's language: the locale rule, and catalogs that leave no customer-facing
string (template or gettext-marked Python, as babel.cfg maps them) untranslated in Spanish."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from shared.i18n import (
    LOCALES_DIR,
    SOURCE_LOCALE,
    SUPPORTED_LOCALES,
    long_date,
    long_datetime_utc,
    resolve_locale,
    supported_locale,
    translations,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("contact", "preferred", "default", "expected"),
    [
        ("es", ["en"], "en", "es"),  # the platform's contact first
        ("es-MX", [], "en", "es"),  # by language
        ("en_GB", ["es"], "es", "en"),
        ("fr-FR", ["es-419", "en"], "en", "es"),  # unsupported: the Customer's next
        (None, ["fr", "ES-us"], "en", "es"),  # the first supported preferred locale
        (None, ["de", "fr"], "es", "es"),  # none supported: DEFAULT_LOCALE
        ("", [], "es", "es"),
        (None, [], "en", "en"),
    ],
)
def test_the_locale_rule(
    contact: str | None, preferred: list[str], default: str, expected: str
) -> None:
    assert resolve_locale(contact, preferred, default) == expected


@pytest.mark.parametrize("tag", ["", None, "e", "esperanto", "x-es", "-es"])
def test_tags_that_name_no_supported_language(tag: str | None) -> None:
    assert supported_locale(tag) is None


def extracted_messages() -> set[str]:
    """What `pybabel extract -F babel.cfg .` finds in the code today."""
    with (ROOT / "babel.cfg").open() as cfg:
        methods, options = parse_mapping_cfg(cfg)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), methods, options):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("locale", [x for x in SUPPORTED_LOCALES if x != SOURCE_LOCALE])
def test_every_customer_facing_string_has_a_translation(locale: str) -> None:
    """Spanish (and any locale added): no template or gettext string left in English."""
    messages = extracted_messages()
    assert len(messages) > 100  # the templates and the subjects were read
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=locale)
    untranslated = sorted(
        m for m in messages if not (found := catalog.get(m)) or not found.string or found.fuzzy
    )
    assert untranslated == [], "run pybabel extract/update and translate these"
    # every placeholder of a translation is one its msgid provides
    assert [(m.id, errors) for m, errors in catalog.check()] == []


def test_each_supported_locale_has_a_catalog_that_compiles() -> None:
    for locale in SUPPORTED_LOCALES:
        assert translations(locale).gettext("Hello,") == {"en": "Hello,", "es": "Hola:"}[locale]


def test_dates_are_written_as_each_locale_writes_them() -> None:
    moment = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
    assert long_date(moment, "en") == "December 3, 2026"
    assert long_date(moment, "es") == "3 de diciembre de 2026"
    assert long_datetime_utc(moment, "es") == "3 de diciembre de 2026 a las 2:30\u202fp.m. UTC"


def test_the_spanish_mandate_is_marked_for_counsel() -> None:
    """Every entry of the ACH mandate (its template's translator comment) says, in the
    catalog, that the Spanish is relink's translation for the operator's counsel to check."""
    with (LOCALES_DIR / "es" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale="es")
    mandate = [m for m in catalog if any("ACH mandate" in c for c in m.auto_comments)]
    assert len(mandate) == 6  # two paragraphs, with or without a name and a contact
    for message in mandate:
        assert any("counsel must check" in c for c in message.user_comments), message.id
