"""The one place where the service writes into the registry's log, and checks it.

Applications and complaints share the registry's `events` table and hash chain with the
certificates. Every event of theirs carries, in its data, the canonical full state of the
record after the event (`state`) and its SHA-256 (`state_sha256`); the form of the state and
the audit's replay live with the registry (`certgen.registry.service_subjects`), so
`certgen log --verify` rebuilds every application and complaint row from history and names the
column that differs. Writing goes through `writing(registry)` (the registry's writers' lock, so
numbers and events are allocated gap-free across processes) and `append_event`; both call into
the registry in this module only.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, Mapping

from sqlalchemy.orm import Session

from ..model import EventType
from ..registry import Registry
from ..registry.findings import LogProblem
from ..registry.history import SUBJECTS, check_subject
from ..registry.repository import _append  # the registry's one event writer
from ..registry.service_subjects import state_digest, state_of
from ..registry.tables import ChainHeadRow

_KINDS = {EventType.APPLICATION: "application", EventType.COMPLAINT: "complaint"}


@contextmanager
def writing(registry: Registry) -> Iterator[tuple[Session, ChainHeadRow]]:
    """A write transaction holding the registry's writers' lock: (session, chain head)."""
    with registry._write() as pair:
        yield pair


def reading(registry: Registry) -> Session:
    """A read-only session that does not take the writers' lock (SQLite: BEGIN DEFERRED)."""
    return Session(registry.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)


def row_state(type: EventType, row: Any) -> dict[str, Any]:
    """The canonical state of an application or complaint ORM row."""
    kind = _KINDS[type]
    return state_of(kind, {c.name: getattr(row, c.name) for c in row.__table__.columns})


def append_event(session: Session, head: ChainHeadRow, type: EventType, row: Any, *, action: str, actor: str,
                 at: datetime, reason: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
    """Append one service event for `row` (flushed first), committing to its state after the event."""
    session.flush()
    state = row_state(type, row)
    data: dict[str, Any] = {"action": action, "state": state, "state_sha256": state_digest(state)}
    if detail:
        data["detail"] = dict(detail)
    _append(session, head, type, row.number, actor, reason, data, at)


def verify_service_log(registry: Registry, kinds: tuple[str, ...] = ("application", "complaint")) -> list[LogProblem]:
    """Every application and complaint row rebuilt from its events and compared (the same check
    `verify_log` runs, without the chain and checkpoints): names the record and the column that
    differ, every row without history and every history without a row."""
    problems: list[LogProblem] = []
    with registry.snapshot() as reader:
        for subject in SUBJECTS:
            if subject.name in kinds:
                problems.extend(check_subject(reader, subject).problems)
    return problems


def verify_applications(registry: Registry) -> list[LogProblem]:
    """`verify_service_log` limited to applications."""
    return verify_service_log(registry, ("application",))
