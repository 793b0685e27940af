"""The Stripe account a unit of work acts on: '' for the platform's own objects, or a
connected account's id (Connect). The worker sets it around an event's handler and a case's
task (`acting_on`); the Stripe client (`Stripe-Account`) and the cases' queries and new rows
of `fc_account`, `fc_authorization` and `relink_case` read it, so one event of a connected
account never reads or writes another account's objects, even when their ids collide."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

PLATFORM = ""
_acting: ContextVar[str] = ContextVar("relink_stripe_account", default=PLATFORM)


def current_account() -> str:
    return _acting.get()


@contextmanager
def acting_on(stripe_account: str | None) -> Generator[str]:
    """Act on `stripe_account` (None or '': the platform) until the block ends; the logs of a
    connected account's work carry `stripe_account`."""
    account = stripe_account or PLATFORM
    token = _acting.set(account)
    logged = {"stripe_account": account} if account else {}
    try:
        with structlog.contextvars.bound_contextvars(**logged):
            yield account
    finally:
        _acting.reset(token)
