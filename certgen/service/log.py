"""The one place where the service writes into the registry's log, and checks it.

Applications and complaints share the registry's `events` table and hash chain with the
certificates. Every event of theirs carries, in its data, the canonical full state of the
record after the event (`state`) and its SHA-256 (`state_sha256`), so the present row can be
rebuilt from history and a row edited behind the log's back is named with the column that
differs (`verify_service_log`). Writing goes through `writing(registry)` (the registry's
writers' lock, so numbers and events are allocated gap-free across processes) and
`append_event`; both call into the registry in this module only.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Iterator, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..model import EventType
from ..registry import Registry
from ..registry.audit import LogProblem
from ..registry.chain import canonical_json, iso
from ..registry.repository import _append  # the registry's one event writer
from ..registry.tables import ApplicationRow, ChainHeadRow, ComplaintRow

#: The table whose rows each service event type describes.
TABLES = {EventType.APPLICATION: ApplicationRow, EventType.COMPLAINT: ComplaintRow}


@contextmanager
def writing(registry: Registry) -> Iterator[tuple[Session, ChainHeadRow]]:
    """A write transaction holding the registry's writers' lock: (session, chain head)."""
    with registry._write() as pair:
        yield pair


def reading(registry: Registry) -> Session:
    """A read-only session that does not take the writers' lock (SQLite: BEGIN DEFERRED)."""
    return Session(registry.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)


def row_state(row: Any) -> dict[str, Any]:
    """The canonical state of an application or complaint row: every column but the id,
    times as the log writes them, JSON columns as they are."""
    state: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.name == "id":
            continue
        state[column.name] = _plain(getattr(row, column.name))
    return state


def state_digest(state: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(state))).hexdigest()


def append_event(session: Session, head: ChainHeadRow, type: EventType, row: Any, *, action: str, actor: str,
                 at: datetime, reason: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
    """Append one service event for `row` (flushed first), committing to its state after the event."""
    session.flush()
    state = row_state(row)
    data: dict[str, Any] = {"action": action, "state": state, "state_sha256": state_digest(state)}
    if detail:
        data["detail"] = dict(detail)
    _append(session, head, type, row.number, actor, reason, data, at)


def verify_service_log(registry: Registry) -> list[LogProblem]:
    """Rebuild every application and complaint row from its events and compare: names the
    record and the column that differ, every row without history and every history without a
    row. The hash chain itself is `verify_log`'s business."""
    problems: list[LogProblem] = []
    last: dict[tuple[EventType, str], Mapping[str, Any]] = {}
    for ev in registry.iter_events():
        if ev.type not in TABLES:
            continue
        what = f"{ev.type.value} {ev.number}"
        state = ev.data.get("state")
        if not isinstance(state, Mapping) or ev.data.get("state_sha256") != state_digest(state):
            problems.append(LogProblem(f"event {ev.seq}", f"{what}: the state it records does not match its state_sha256"))
            continue
        last[(ev.type, ev.number)] = state
    for type, table in TABLES.items():
        with reading(registry) as session:
            rows = list(session.scalars(select(table).order_by(table.number)))
        for row in rows:
            where = f"{type.value} {row.number}"
            state = last.pop((type, row.number), None)
            if state is None:
                problems.append(LogProblem(where, "has a row but no history in the log"))
                continue
            current = row_state(row)
            for column in current:
                if current[column] != state.get(column):
                    problems.append(LogProblem(where, f"column {column} is {_short(current[column])}, but its history "
                                                      f"says {_short(state.get(column))}"))
    for type, number in last:
        problems.append(LogProblem(f"{type.value} {number}", "has history in the log but no row: it was deleted"))
    return problems


def verify_applications(registry: Registry) -> list[LogProblem]:
    """`verify_service_log` limited to applications (the name the lead's hook expects)."""
    return [p for p in verify_service_log(registry) if p.where.startswith("application ")]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _short(value: Any) -> str:
    text = canonical_json(value).decode("utf-8")
    return text if len(text) <= 80 else text[:77] + "..."
