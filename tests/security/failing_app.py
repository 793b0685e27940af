"""relink's app plus one route that fails as a unique-constraint violation does, with an email
address and a webhook secret among the statement's parameters: for the redaction of
tracebacks that uvicorn logs ("Exception in ASGI application")."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import create_engine, text

from api.app import create_app as relink_app

EMAIL = "ada.lovelace@example.com"
WEBHOOK_SECRET = "whsec_c2VjcmV0IGluIHBhcmFtZXRlcnM"


def violate_unique_constraint() -> None:
    """Raises SQLAlchemy's IntegrityError, whose text ends `[parameters: (EMAIL, SECRET)]`."""
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE contact (email TEXT UNIQUE, secret TEXT)")
        for _ in range(2):
            connection.execute(
                text("INSERT INTO contact (email, secret) VALUES (:email, :secret)"),
                {"email": EMAIL, "secret": WEBHOOK_SECRET},
            )


def create_app() -> FastAPI:
    app = relink_app()

    @app.get("/boom")
    def boom() -> None:
        violate_unique_constraint()

    return app
