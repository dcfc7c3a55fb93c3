"""Counters shared by every web worker and instance, kept in the registry database.

One row per (key, window): `add` increments a batch of keys in one transaction and answers
their new totals (an upsert, `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, on SQLite 3.35+
and PostgreSQL alike), so concurrent workers never lose an increment. The rate limiter of the
web service (verify.web.ratelimit) batches its increments; complaint caps
(certgen.registry.reports) count inside the transaction that stores the complaint.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .tables import AbuseCounterRow

#: Longest key stored (a client address or a certificate number, with a prefix).
MAX_KEY = 200


def increment(session: Session, window: int, deltas: Mapping[str, int]) -> dict[str, int]:
    """Add `deltas` to the counters of `window` inside the caller's transaction; their new totals."""
    stored = {key[:MAX_KEY]: key for key in deltas}
    rows = [{"key": key[:MAX_KEY], "window": window, "count": delta} for key, delta in deltas.items()]
    totals: dict[str, int] = {}
    # executemany with RETURNING: SQLAlchemy batches the rows into a few multi-row statements
    # ("insertmanyvalues") from one cached compilation
    for key, count in session.execute(_upsert(session.get_bind().dialect.name), rows):
        totals[stored.get(key, key)] = count
    return totals


@lru_cache(maxsize=4)
def _upsert(dialect: str) -> Any:
    table = AbuseCounterRow.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(index_elements=[table.c.key, table.c.window],
                                                set_={"count": table.c.count + statement.excluded.count})
    return statement.returning(table.c.key, table.c.count)


class SharedCounters:
    """The `abuse_counters` table of a registry database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, window: int, deltas: Mapping[str, int]) -> dict[str, int]:
        """Add `deltas` to the counters of `window` in one transaction; their new totals."""
        if not deltas:
            return {}
        with Session(self.engine) as session, session.begin():
            return increment(session, window, deltas)

    def prune(self, before: int, prefix: str) -> int:
        """Delete the counters whose key starts with `prefix` (one user's: "rate:", "complaint:")
        of windows that started before `before`; how many rows went."""
        with Session(self.engine) as session, session.begin():
            return prune(session, before, prefix)


def prune(session: Session, before: int, prefix: str) -> int:
    """`SharedCounters.prune` inside the caller's transaction."""
    result = session.execute(delete(AbuseCounterRow).where(AbuseCounterRow.window < before,
                                                           AbuseCounterRow.key.startswith(prefix, autoescape=True)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
