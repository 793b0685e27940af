"""The platform webhooks relink sends, documented in the OpenAPI schema's `webhooks` section
from their models (shared/platform_webhooks/payloads.py): relink posts them, it serves no such
route."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

from shared.platform_webhooks.payloads import PAYLOADS


def document(app: FastAPI) -> None:
    for event_type, model in PAYLOADS.items():
        _document(app, event_type, model)


def _document(app: FastAPI, event_type: str, model: type[BaseModel]) -> None:
    def receive(body: BaseModel) -> None:
        """The platform's endpoint (PLATFORM_WEBHOOK_URL) receives it."""

    receive.__annotations__ = {"body": model, "return": None}  # this type's body
    app.webhooks.post(event_type, summary=model.__doc__, name=event_type)(receive)
