"""Celery worker: `celery -A worker worker` and `celery -A worker beat`.

The app is built when Celery asks for it, not when this package is imported."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in {"app", "celery"}:
        from worker.celery_app import worker_app

        return worker_app()
    raise AttributeError(f"module 'worker' has no attribute {name!r}")
