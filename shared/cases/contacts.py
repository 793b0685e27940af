"""Contacts the platform sets through the API (an account holder's, or a holder-less
Financial Connections account's): the email path prefers them to the Stripe lookup.
A contact belongs to the Stripe account its subject lives on (`stripe_account`: '' the
platform's own, else a connected account's `acct_…`): the same `cus_…` on two accounts is two
subjects with two contacts. Addresses never reach a log. Helpers here never commit."""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from shared.db import utcnow
from shared.models import Contact, ContactSubject

# A plain address: one @, no spaces, quotes, angle brackets, commas or line breaks (it becomes
# a To: header).
EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+"
)
LOCALE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}")


def mask_email(address: str) -> str:
    """`ada@example.com` → `a***@example.com`: enough to tell addresses apart, not to mail."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"


def get_contact(
    session: Session, subject_type: str, subject_id: str, *, stripe_account: str
) -> Contact | None:
    return session.exec(
        select(Contact).where(
            col(Contact.stripe_account) == stripe_account,
            col(Contact.subject_type) == subject_type,
            col(Contact.subject_id) == subject_id,
        )
    ).first()


def set_contact(
    session: Session,
    subject_type: ContactSubject,
    subject_id: str,
    *,
    stripe_account: str,
    email: str,
    name: str | None,
    locale: str | None,
) -> Contact:
    """Create or replace the subject's contact."""
    contact = get_contact(
        session, subject_type, subject_id, stripe_account=stripe_account
    ) or Contact(
        stripe_account=stripe_account, subject_type=subject_type, subject_id=subject_id, email=email
    )
    contact.email, contact.name, contact.locale = email, name, locale
    contact.updated_at = utcnow()
    session.add(contact)
    session.flush()
    return contact


def delete_contact(
    session: Session, subject_type: str, subject_id: str, *, stripe_account: str
) -> bool:
    contact = get_contact(session, subject_type, subject_id, stripe_account=stripe_account)
    if contact is None:
        return False
    session.delete(contact)
    return True


def stored_contact(
    session: Session,
    holder_type: str | None,
    holder_id: str | None,
    account_id: str | None,
    *,
    stripe_account: str,
) -> Contact | None:
    """The platform's contact for an account living on `stripe_account`: its holder's
    contact, else (for an account without a holder) the account's own — only contacts set
    for that Stripe account (one set for acct_A never reaches acct_B's same-id subject, nor
    the platform's)."""
    if (
        holder_type
        and holder_id
        and holder_type in (ContactSubject.CUSTOMER, ContactSubject.ACCOUNT)
    ):
        contact = get_contact(session, holder_type, holder_id, stripe_account=stripe_account)
        if contact is not None:
            return contact
    if account_id:
        return get_contact(
            session, ContactSubject.FC_ACCOUNT, account_id, stripe_account=stripe_account
        )
    return None
