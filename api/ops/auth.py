"""Who may see /ops: the holder of OPS_TOKEN, by `Authorization: Bearer <token>` or by a login
form that sets a signed session cookie (HttpOnly, SameSite=Strict, Secure over https). The
token is compared in constant time and never travels in a URL.

The cookie holds a random session id signed (itsdangerous, keyed by the token, so a new token
ends every session) with its issue time; a form that changes something carries a CSRF token,
an HMAC of that session id. Logging out records the session id as ended, so a copy of the
cookie opens nothing either. A bearer-token client sends no cookie, so it needs none. Logins
and bearer tokens are rate-limited per client address (`attempt_allowed`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlmodel import col

from api import request_limits
from api.ops.settings import ops_settings
from shared.db import session_scope, utcnow
from shared.models import OpsSessionEnd
from shared.settings import get_settings

COOKIE = "relink_ops"
SALT = "relink-ops-session"
ATTEMPTS = "ops_auth_attempts"


@dataclass(frozen=True)
class Operator:
    session_id: str | None  # None: authenticated by the Authorization header

    @property
    def csrf(self) -> str:
        return csrf_token(self.session_id) if self.session_id else ""


def configured_token() -> str | None:
    token = ops_settings().ops_token
    value = token.get_secret_value() if token else ""
    return value or None


def token_matches(given: str) -> bool:
    expected = configured_token()
    if expected is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _signer(token: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(token, salt=SALT)


def new_session_cookie() -> str:
    token = configured_token()
    assert token is not None
    return _signer(token).dumps(secrets.token_urlsafe(24))


def csrf_token(session_id: str) -> str:
    token = configured_token() or ""
    return hmac.new(token.encode(), f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def csrf_matches(operator: Operator, given: str) -> bool:
    if operator.session_id is None:
        return True  # a bearer token is no ambient credential: nothing to forge
    return hmac.compare_digest(given.encode(), operator.csrf.encode())


def bearer(request: Request) -> str | None:
    """The Authorization header's bearer token, '' for any other header, None without one."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def attempt_allowed(request: Request) -> bool:
    """Take one of the client address's credential attempts (a login, a request with a bearer
    token), or False when none is left: guessing OPS_TOKEN then goes no faster than
    OPS_AUTH_ATTEMPTS_PER_MINUTE per address. A signed session cookie costs none."""
    client = request.client.host if request.client else "unknown"
    per_minute = ops_settings().ops_auth_attempts_per_minute
    return request_limits.take(ATTEMPTS, client, per_minute, get_settings())


def operator_of(request: Request) -> Operator | None:
    token = configured_token()
    if token is None:
        return None
    given = bearer(request)
    if given is not None:
        return Operator(None) if token_matches(given) else None
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    max_age = int(ops_settings().ops_session_hours * 3600)
    try:
        session_id = str(_signer(token).loads(cookie, max_age=max_age))
    except BadSignature:
        return None
    with session_scope() as db:
        if db.get(OpsSessionEnd, session_id) is not None:
            return None  # logged out
    return Operator(session_id)


def end_session(operator: Operator) -> None:
    """Log the operator's cookie session out for good (a copy of the cookie opens nothing);
    ends older than any cookie's lifetime are forgotten meanwhile."""
    if operator.session_id is None:
        return
    now = utcnow()
    forget_before = now - timedelta(hours=ops_settings().ops_session_hours)
    with session_scope() as db:
        db.execute(delete(OpsSessionEnd).where(col(OpsSessionEnd.ended_at) < forget_before))
        if db.get(OpsSessionEnd, operator.session_id) is None:
            db.add(OpsSessionEnd(session_id=operator.session_id, ended_at=now))


def cookie_is_secure(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings().public_base_url.startswith("https:")
