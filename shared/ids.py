"""Primary keys drawn ahead from PostgreSQL's sequences: a new case or outbox row gets its id
when it is made, so its INSERT waits for the flush at the end of the batch (one multi-row
statement per table) instead of an INSERT … RETURNING round trip each. SQLite has no
sequences: there the row is flushed for its id, as before.

Ids drawn and not used leave gaps in the sequence, as rolled-back inserts always have."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import text
from sqlmodel import Session

# session.info keys: the ids drawn per table (a dict, so a savepoint's rollback leaves it be:
# shared.queue.savepoint trims only lists), and how many to draw at a time.
_POOL = "relink.id_pool"
_DRAW = "relink.id_draw"
_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")


class Keyed(Protocol):
    id: int | None


def plan_inserts(session: Session, rows: int) -> None:
    """At most about `rows` new rows per table are expected in this unit of work (a batch's
    authorizations): the next draw takes that many ids at once."""
    session.info[_DRAW] = max(1, rows)


def assign_id(session: Session, row: Keyed, table: str) -> None:
    """Give the new `row` (an `id`-keyed model of `table`) its id now: from the pool on
    PostgreSQL, else by flushing it."""
    if row.id is not None:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.add(row)
        session.flush()
        return
    pool: list[int] = session.info.setdefault(_POOL, {}).setdefault(table, [])
    if not pool:
        draw = int(session.info.get(_DRAW, 1))
        pool.extend(session.connection().execute(_NEXT_IDS, {"t": table, "n": draw}).scalars())
        pool.reverse()  # popped from the end: ascending ids
    row.id = pool.pop()
