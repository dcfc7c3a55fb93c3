"""The service standard's subjects of the log: applications and complaints (docs/service.md).

Every event of theirs (types `application`, `complaint`) carries the full state of its row
after the event (`state`: every column but the id, times as the chain writes them) and its
SHA-256 (`state_sha256`). Replaying a history is taking the state of its last event, each
event's digest checked; the row is then compared with it column by column. The writer is
`certgen.service.log`; the state's form is defined here, once, for both.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any, Iterator, Mapping, Sequence

import sqlalchemy as sa

from .chain import canonical_json, iso
from .findings import LogProblem, safe
from .reader import LogReader, read_json, read_time
from .replay import History, RawEvent

APPLICATION_COLUMNS = ("number", "year", "serial", "kind", "client", "client_id", "email", "channel", "stage", "decision",
                       "access_hash", "created_at", "conditions", "pauses", "steps", "documents", "certificates", "paid_at",
                       "reported_at", "credit_letter", "apology_letter")
COMPLAINT_COLUMNS = ("number", "year", "serial", "type", "channel", "subject_kind", "subject", "summary", "contact", "status",
                     "received_at", "answered_at", "answered_by", "answer", "outcome", "closed_at", "letter_sha256", "steps")
_TIMES = {"created_at", "paid_at", "reported_at", "received_at", "answered_at", "closed_at"}
_JSON = {"conditions", "pauses", "steps", "documents", "certificates"}
COLUMNS = {"application": APPLICATION_COLUMNS, "complaint": COMPLAINT_COLUMNS}
_TABLES = {"application": sa.table("applications", *(sa.column(c) for c in APPLICATION_COLUMNS)),
           "complaint": sa.table("complaints", *(sa.column(c) for c in COMPLAINT_COLUMNS))}


def plain(value: Any) -> Any:
    """A column value as the state holds it: times as the chain writes them, dates ISO."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def state_of(kind: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical state of an application or complaint row (`kind`: "application" or "complaint")."""
    return {column: plain(row[column]) for column in COLUMNS[kind]}


def state_digest(state: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(state))).hexdigest()


def rows(kind: str, reader: LogReader) -> Iterator[tuple[str, dict[str, Any]]]:
    """The table's rows ordered by number in code-point order, values as the writer saw them."""
    table = _TABLES[kind]
    query = sa.select(table).order_by(reader._by_number(table.c.number))
    for r in reader.conn.execute(query.execution_options(stream_results=True, yield_per=1000)):
        row = dict(r._mapping)
        for name in _TIMES.intersection(row):
            row[name] = read_time(row[name])
        for name in _JSON.intersection(row):
            row[name] = read_json(row[name])
        row["number"] = str(row["number"])
        yield row["number"], row


def replay_state(number: str, events: Sequence[RawEvent]) -> History:
    """The state of the last event; every event's state must match its digest and name `number`."""
    history = History(number)
    for ev in events:
        history.seqs.append(ev.seq)
        where = f"event {ev.seq}"
        state = ev.data.get("state") if isinstance(ev.data, Mapping) else None
        if not isinstance(state, Mapping):
            history.problems.append(LogProblem(where, f"{safe(ev.type)} of {safe(number)} carries no state", "malformed_event"))
            continue
        if ev.data.get("state_sha256") != state_digest(state):
            history.problems.append(LogProblem(where, f"{safe(ev.type)} of {safe(number)}: the state it records does not match "
                                                      "its state_sha256", "event_state_mismatch"))
            continue
        if state.get("number") != number:
            history.problems.append(LogProblem(where, f"{safe(ev.type)} of {safe(number)} carries the state of "
                                                      f"{safe(state.get('number'))}", "event_state_mismatch", "number"))
            continue
        history.state = dict(state)
    return history


def checker(kind: str):
    """The row check of `kind`: every column against the state its history ends in."""
    def check(row: Mapping[str, Any], history: History | None) -> list[LogProblem]:
        where = f"{kind} {safe(row['number'])}"
        if history is None:
            return [LogProblem(where, "has a row but no history in the log", "no_history")]
        if history.state is None:
            return []  # its events' problems are reported already
        try:
            current = state_of(kind, row)
        except (TypeError, ValueError):
            return [LogProblem(where, "has values that cannot be read", "column_differs")]
        return [LogProblem(where, f"column {column} is {_short(current[column])}, but its history says "
                                  f"{_short(history.state.get(column))}", "column_differs", column)
                for column in COLUMNS[kind] if current[column] != history.state.get(column)]
    return check


def _short(value: Any) -> str:
    try:
        text = canonical_json(value).decode("utf-8")
    except (TypeError, ValueError):
        text = repr(value)
    return safe(text, 80)
