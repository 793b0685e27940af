"""Platform API keys: made by the CLI and shown once, kept as a sha256 (a 256-bit random
key needs no slow hash), found by their visible prefix and compared in constant time.
Helpers here never commit."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from shared.db import utcnow
from shared.errors import InvalidRequestError
from shared.models import ApiKey

SCOPES = ("read", "write", "read:pii", "write:contacts", "write:webhooks")
# rlk_ + 12 hex characters: visible in listings and logs, not enough to use the key.
KEY_FORMAT = re.compile(r"(rlk_[0-9a-f]{12})_[A-Za-z0-9_-]{43}")
# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class UnknownScope(InvalidRequestError):
    """A scope relink does not grant."""

    code = "unknown_scope"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """A new key row and the key itself (the only time it exists in plain text)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise UnknownScope(f"unknown scope {', '.join(unknown)} (known: {', '.join(SCOPES)})")
    prefix = f"rlk_{secrets.token_hex(6)}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    ordered = [scope for scope in SCOPES if scope in scopes]
    row = ApiKey(prefix=prefix, key_hash=key_hash(key), name=name, scopes=ordered)
    session.add(row)
    session.flush()
    return row, key


def find_key(session: Session, presented: str) -> ApiKey | None:
    """The live (unrevoked) key row `presented` is the key of, else None."""
    match = KEY_FORMAT.fullmatch(presented)
    if match is None:
        return None
    row = session.exec(select(ApiKey).where(col(ApiKey.prefix) == match.group(1))).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, key_hash(presented)):
        return None
    return row


def mark_used(session: Session, row: ApiKey, now: datetime | None = None) -> None:
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.add(row)


def revoke_key(session: Session, prefix: str, now: datetime | None = None) -> ApiKey | None:
    """Revoke the key with this prefix (again is a no-op); None if there is no such key."""
    row = session.exec(select(ApiKey).where(col(ApiKey.prefix) == prefix)).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = now or utcnow()
        session.add(row)
    return row


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))))
