"""The relink page's language: the same rule as the emails (shared/i18n.py), from what is
stored, with no Stripe call: the platform's contact for the account's holder (or for the
account), else the language the case's last email was written in, else DEFAULT_LOCALE."""

from __future__ import annotations

from shared.cases.contacts import stored_contact
from shared.cases.links import LinkPayload
from shared.db import session_scope
from shared.i18n import resolve_locale
from shared.models import FcAccount, RelinkCase
from shared.settings import get_settings


def page_locale(payload: LinkPayload) -> str:
    with session_scope() as db:
        case = db.get(RelinkCase, payload.case_id)
        account = db.get(FcAccount, (payload.account_id, payload.stripe_account))
        contact = stored_contact(
            db,
            account.holder_type if account else None,
            account.holder_id if account else None,
            payload.account_id,
            stripe_account=payload.stripe_account,
        )
        emailed = [case.locale] if case is not None and case.locale else []
        return resolve_locale(
            contact.locale if contact else None, emailed, get_settings().default_locale
        )
