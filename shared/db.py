"""Database engine and the unit of work: helpers never commit, the edge does."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TypeVar, cast

import structlog
from sqlalchemy import Connection, DateTime, Dialect, Engine, Table, create_engine, event, inspect
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

from shared.schema_compat import APPLICATION_NAME
from shared.settings import get_settings

T = TypeVar("T")
log = structlog.get_logger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None, *, timespec: str = "auto") -> str | None:
    """RFC 3339 with UTC as `Z` (as pydantic writes the API's and the platform's times)."""
    return value.isoformat(timespec=timespec).replace("+00:00", "Z") if value else None


class AwareDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that stores UTC and hands back aware UTC datetimes on every
    database: SQLite keeps no offset, so the plain type returns naive values there. A naive
    value written is taken as UTC (every time relink makes is)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _serialise_sqlite_writers(engine)
        return engine
    return create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args={"application_name": APPLICATION_NAME},  # which release is connected
    )


def _serialise_sqlite_writers(engine: Engine) -> None:
    """Make every SQLite transaction BEGIN IMMEDIATE, so check-then-write cannot interleave.

    pysqlite's own transaction handling is switched off (SQLAlchemy's documented recipe).
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Table, typed (SQLModel leaves `__table__` undeclared)."""
    return cast(Table, inspect(model).local_table)  # a table=True model maps one Table


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@contextmanager
def session_scope() -> Generator[Session]:
    """One unit of work: commit when the block ends, roll back if it raises."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def outlasting_outages(call: Callable[[], T], *, patience: float, what: str) -> T:
    """Run `call` (its own unit of work), again every second while the database is
    unreachable, for up to `patience` seconds: for writes that must not be lost to a short
    outage, such as recording that an email went out."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return call()
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            log.warning("database_unreachable_retrying", what=what)
            time.sleep(1.0)
