"""Run Alembic migrations from code (the CLI, `relink dev`, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["configure_logger"] = False
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def stale_session_warnings(database_url: str) -> list[str]:
    """After an upgrade: the processes still connected that may not run on the new schema."""
    from shared.db import make_engine
    from shared.schema_compat import known_revisions, other_sessions, read_schema, stale_sessions

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            oldest = read_schema(connection).oldest_code
            names = other_sessions(connection)
    finally:
        engine.dispose()
    return stale_sessions(names, oldest, known_revisions()) if oldest else []
