"""The MIME message: text and HTML alternatives, and a Message-ID fixed by the outbox row."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from shared.db import utcnow
from shared.settings import Settings
from worker.emails.render import EmailContent


def message_id_header(outbox_id: int, sender: str) -> str:
    """`<relink-outbox-{id}@{sender's domain}>`: a retry of the same row is the same email."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<relink-outbox-{outbox_id}@{domain}>"


def sender_address(settings: Settings) -> str:
    """EMAIL_FROM; a bare address there is shown with MERCHANT_NAME as its display name."""
    name, address = parseaddr(settings.email_from)
    if name or not settings.merchant_name:
        return settings.email_from
    return formataddr((settings.merchant_name, address))


def build_message(
    content: EmailContent, *, sender: str, recipient: str, outbox_id: int
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = content.subject
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id_header(outbox_id, sender)
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = content.locale
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    return message
