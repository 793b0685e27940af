"""API-key authentication: `Authorization: Bearer rlk_…`; 401 without a live key, 403
without the scope a route needs. The key itself is never logged or echoed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.api_keys import find_key, mark_used
from shared.db import session_scope
from shared.errors import AuthenticationError, ForbiddenError

bearer = HTTPBearer(auto_error=False, description="an API key made with `relink keys create`")


@dataclass(frozen=True)
class Caller:
    prefix: str
    scopes: frozenset[str]

    @property
    def sees_pii(self) -> bool:
        return "read:pii" in self.scopes


def authenticate(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None:
        raise AuthenticationError("an API key is required: Authorization: Bearer <key>")
    with session_scope() as session:
        row = find_key(session, credentials.credentials)
        if row is None:
            raise AuthenticationError("the API key is not valid")
        mark_used(session, row)
        return Caller(prefix=row.prefix, scopes=frozenset(row.scopes))


def require(scope: str) -> Callable[[Caller], Caller]:
    """A dependency: the caller, if its key has `scope`; 403 otherwise."""

    def check(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        if scope not in caller.scopes:
            raise ForbiddenError(f"the API key lacks the {scope} scope")
        return caller

    return check
