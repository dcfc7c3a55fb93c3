"""The auditor's reads: one snapshot of the database, streamed, with nothing in it trusted.

Everything is read through untyped columns, so a value an attacker wrote that is not what its
column should hold (a date that is not a date, a record that is not JSON, an event type that
does not exist) arrives as its raw text and is reported, instead of making the reader raise.
Rows come ordered by number in code-point order (`COLLATE "C"` on PostgreSQL, SQLite's binary
order), the order Python compares strings in: the audit merges two such streams.

The column lists are spelled out here rather than taken from `tables.py`, so migration
0003_record_state, which reads through this module, keeps reading the schema it was written for.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Any, Iterable, Iterator, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from .replay import RawEvent

CERTIFICATE_COLUMNS = ("number", "series", "year", "serial", "kind", "holder", "scheme", "granted", "expires", "record",
                       "status", "status_reason", "status_changed_at", "replaced_by", "dsc_kid", "pdf_sha256",
                       "card_sha256", "seal", "issued_at", "batch_key", "card_edition", "card_seal")
#: Columns added by migration 0010_card_editions: a migration before it reads rows without them.
CARD_COLUMNS = ("card_edition", "card_seal")
EVENT_COLUMNS = ("seq", "at", "type", "number", "actor", "reason", "data", "prev_hash", "hash", "actor_salt")
#: Added by migration 0013_actor_commitment: a migration before it reads events without it.
ACTOR_SALT = "actor_salt"
_DATES = ("granted", "expires")
_TIMES = ("status_changed_at", "issued_at")

certificates = sa.table("certificates", *(sa.column(c) for c in CERTIFICATE_COLUMNS))
_certificates_before_0010 = sa.table("certificates", *(sa.column(c) for c in CERTIFICATE_COLUMNS
                                                      if c not in CARD_COLUMNS))
events = sa.table("events", *(sa.column(c) for c in EVENT_COLUMNS))
_events_before_0013 = sa.table("events", *(sa.column(c) for c in EVENT_COLUMNS if c != ACTOR_SALT))
chain_head = sa.table("chain_head", sa.column("id"), sa.column("seq"), sa.column("hash"))
checkpoints = sa.table("checkpoints", *(sa.column(c) for c in ("id", "seq", "hash", "at", "kid", "alg", "signature")))
number_series = sa.table("number_series", sa.column("series"), sa.column("year"), sa.column("last_serial"))

_STREAM = {"stream_results": True, "yield_per": 1000}
_SQLITE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?")
_SQLITE_DATE = re.compile(r"\d{4}-\d\d-\d\d")


class RawCheckpoint(NamedTuple):
    id: Any
    seq: Any
    hash: Any
    at: datetime | str
    kid: Any
    alg: Any
    signature: Any


@contextmanager
def snapshot(engine: Engine) -> Iterator["LogReader"]:
    """A reader over one consistent snapshot: a read transaction (REPEATABLE READ on
    PostgreSQL; on SQLite in WAL mode every read transaction is one), so a writer working
    meanwhile neither blocks the audit nor makes it see half a change."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield LogReader(conn)


class LogReader:
    """Streaming reads over one connection (the caller owns its transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._binary = conn.dialect.name == "postgresql"
        self._certificates = certificates
        if not {c["name"] for c in sa.inspect(conn).get_columns("certificates")} >= set(CARD_COLUMNS):
            self._certificates = _certificates_before_0010  # read inside a migration before 0010
        self._events = events
        if ACTOR_SALT not in {c["name"] for c in sa.inspect(conn).get_columns("events")}:
            self._events = _events_before_0013  # read inside a migration before 0013

    def _by_number(self, column: Any) -> Any:
        return sa.collate(column, "C") if self._binary else column

    def head(self) -> tuple[Any, Any] | None:
        row = self.conn.execute(sa.select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)).first()
        return None if row is None else (row[0], row[1])

    def checkpoints(self) -> list[RawCheckpoint]:
        rows = self.conn.execute(sa.select(checkpoints).order_by(checkpoints.c.id))
        return [RawCheckpoint(r.id, r.seq, r.hash, read_time(r.at), r.kid, r.alg, r.signature) for r in rows]

    def events(self, *, types: Iterable[str] | None = None, by_number: bool = False) -> Iterator[RawEvent]:
        """Events in log order, or (by_number) grouped by number, in log order within one."""
        e = self._events.c
        query = sa.select(self._events)
        if types is not None:
            query = query.where(e.type.in_(sorted(types)))
        query = query.order_by(self._by_number(e.number), e.seq) if by_number else query.order_by(e.seq)
        for r in self.conn.execute(query.execution_options(**_STREAM)):
            yield _raw_event(r)

    def events_of(self, number: str, types: Iterable[str]) -> list[RawEvent]:
        """One key's events of the given types, in log order (the `number` index)."""
        e = self._events.c
        query = sa.select(self._events).where(e.number == number, e.type.in_(sorted(types))).order_by(e.seq)
        return [_raw_event(r) for r in self.conn.execute(query)]

    def certificate(self, number: str) -> dict[str, Any] | None:
        """One certificate row, read as `certificates` reads them."""
        table = self._certificates
        row = self.conn.execute(sa.select(table).where(table.c.number == number)).first()
        return None if row is None else _certificate_row(row)

    def seq_of_hash(self, digest: str) -> int | None:
        """The event whose hash is `digest` (the unique index makes this cheap)."""
        return self.conn.execute(sa.select(events.c.seq).where(events.c.hash == digest).limit(1)).scalar()

    def certificates(self) -> Iterator[dict[str, Any]]:
        """Every certificate row, ordered by number, values as the registry's readers see them
        (dates, aware UTC times, the record as JSON), or their raw text when unreadable."""
        query = sa.select(self._certificates).order_by(self._by_number(self._certificates.c.number))
        for r in self.conn.execute(query.execution_options(**_STREAM)):
            yield _certificate_row(r)

    def series_usage(self) -> list[tuple[Any, Any, int, Any]]:
        """(series, year, rows, highest serial) per series and year in `certificates`."""
        c = certificates.c
        query = sa.select(c.series, c.year, sa.func.count(), sa.func.max(c.serial)).group_by(c.series, c.year)
        return [tuple(r) for r in self.conn.execute(query)]  # type: ignore[misc]

    def number_series(self) -> dict[tuple[str, str], Any]:
        rows = self.conn.execute(sa.select(number_series))
        return {(str(r.series), str(r.year)): r.last_serial for r in rows}

    def serials(self, series: Any, year: Any) -> Iterator[Any]:
        c = certificates.c
        query = sa.select(c.serial).where(c.series == series, c.year == year).order_by(c.serial)
        for r in self.conn.execute(query.execution_options(**_STREAM)):
            yield r[0]


def _raw_event(r: Any) -> RawEvent:
    reason = r.reason if r.reason is None or isinstance(r.reason, str) else repr(r.reason)
    salt = getattr(r, ACTOR_SALT, None)
    return RawEvent(r.seq, read_time(r.at), str(r.type), str(r.number), str(r.actor), reason, read_json(r.data),
                    str(r.prev_hash), str(r.hash), None if salt is None else str(salt))


def _certificate_row(r: Any) -> dict[str, Any]:
    row = dict(r._mapping)
    for name in _DATES:
        row[name] = read_date(row[name])
    for name in _TIMES:
        row[name] = read_time(row[name])
    row["record"] = read_json(row["record"])
    row["number"] = str(row["number"])
    return row


def read_time(value: Any) -> datetime | Any:
    """An aware UTC datetime from what the backend returns; raw text when it is not one."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if isinstance(value, str) and _SQLITE_TIME.fullmatch(value):
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return value


def read_date(value: Any) -> date | Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _SQLITE_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def read_json(value: Any) -> Any:
    """A JSON column's value; text that is not JSON stays text (and is reported as such)."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
