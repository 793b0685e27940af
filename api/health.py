"""Liveness and readiness."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from shared.db import session_scope
from shared.events.inbox import count_stuck
from shared.queue import check_broker

STUCK_AFTER = timedelta(minutes=5)
router = APIRouter()


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check_database() -> dict[str, Any]:
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
            return {"ok": True, "events_unprocessed_over_5m": count_stuck(session, STUCK_AFTER)}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}


def _check_broker() -> dict[str, Any]:
    error = check_broker()
    return {"ok": True} if error is None else {"ok": False, "error": error}


@router.get("/readyz")
def readyz() -> JSONResponse:
    checks = {"database": _check_database(), "broker": _check_broker()}
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)
