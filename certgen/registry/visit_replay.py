"""Surveillance visits under the log (pure, no database): the visit's canonical state, the
replay of a certificate's `surveillance` events, and the check of its visit rows against them.

    visit        = {number, ordinal, visited_on, result, report_sha256, report_size, report_type,
                    corrective_due, recorded_at, actor}     every value a string or null
    state_sha256 = SHA-256( canonical JSON of visit )

A `surveillance` event (number = the certificate's) carries `{"visit": visit, "state_sha256": H}`;
the visits of one certificate are numbered 1, 2, ... in log order. docs/surveillance.md is normative.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Mapping, Sequence

from ..model import EventType
from .chain import canonical_json, iso
from .findings import LogProblem, safe, show
from .replay import RawEvent

#: The keys of a visit's state, in the order problems are reported (each is also its column).
VISIT_KEYS: tuple[str, ...] = ("number", "ordinal", "visited_on", "result", "report_sha256", "report_size", "report_type",
                               "corrective_due", "recorded_at", "actor")
VISIT_EVENT_TYPES = frozenset({EventType.SURVEILLANCE.value})


def _text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def visit_state(values: Mapping[str, Any] | Any) -> dict[str, str | None]:
    """The canonical state of a visit row (a mapping or an object with the column names)."""
    get = values.get if isinstance(values, Mapping) else values.__getattribute__
    return {key: _text(get(key)) for key in VISIT_KEYS}


def visit_digest(state: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(state))).hexdigest()


def _is_visit(value: Any) -> bool:
    return (isinstance(value, Mapping) and set(value) == set(VISIT_KEYS)
            and all(v is None or isinstance(v, str) for v in value.values()))


@dataclass
class VisitHistory:
    """A certificate's visits rebuilt from its `surveillance` events (the audit's `History` shape)."""

    number: str
    #: ordinal -> the visit state its event carries.
    visits: dict[str, dict[str, str | None]] = field(default_factory=dict)
    seqs: list[int] = field(default_factory=list)
    problems: list[LogProblem] = field(default_factory=list)
    state: Any = None


def replay_visits(number: str, events: Sequence[RawEvent]) -> VisitHistory:
    """Replay one certificate's visit events in log order; problems name the event at fault."""
    history = VisitHistory(number)
    for ev in events:
        history.seqs.append(ev.seq)
        where = f"event {ev.seq}"
        data = ev.data
        visit = data.get("visit") if isinstance(data, Mapping) else None
        if not _is_visit(visit):
            history.problems.append(LogProblem(where, f"surveillance of {safe(number)} carries a malformed visit", "malformed_event"))
            continue
        if data.get("state_sha256") != visit_digest(visit):
            history.problems.append(LogProblem(where, f"surveillance of {safe(number)}: its state_sha256 does not match the visit "
                                                      "it carries", "event_state_mismatch"))
        if visit["number"] != number:
            history.problems.append(LogProblem(where, f"surveillance of {safe(number)} carries a visit of {show(visit['number'])}",
                                               "event_state_mismatch", "number"))
        expected = str(len(history.visits) + 1)
        if visit["ordinal"] in history.visits:
            history.problems.append(LogProblem(where, f"a second surveillance visit {show(visit['ordinal'])} of {safe(number)}: "
                                                      "a duplicated event", "duplicated_event"))
            continue
        if visit["ordinal"] != expected:
            history.problems.append(LogProblem(where, f"surveillance of {safe(number)} is visit {show(visit['ordinal'])}, but its "
                                                      f"history has it as visit {expected}: events were removed or reordered",
                                               "out_of_order"))
        history.visits[str(visit["ordinal"])] = dict(visit)
    return history


def check_visits(row: Mapping[str, Any], history: VisitHistory | None) -> list[LogProblem]:
    """Compare a certificate's visit rows (`row["visits"]`) with the visits its history rebuilds."""
    number = str(row["number"])
    replayed = dict(history.visits) if history is not None else {}
    problems: list[LogProblem] = []
    for visit_row in row["visits"]:
        table = visit_state(visit_row)
        ordinal = table["ordinal"]
        where = f"surveillance visit {safe(ordinal)} of certificate {safe(number)}"
        expected = replayed.pop(str(ordinal), None)
        if expected is None:
            problems.append(LogProblem(where, "has a row but no surveillance event in the log: it was added behind the log's "
                                              "back", "no_history"))
            continue
        for key in VISIT_KEYS:
            if table[key] != expected[key]:
                problems.append(LogProblem(where, f"column {key} is {show(table[key])} in the table, but its history says "
                                                  f"{show(expected[key])}", "column_differs", key))
    for ordinal in replayed:
        problems.append(LogProblem(f"surveillance visit {safe(ordinal)} of certificate {safe(number)}",
                                   "has an event in the log but no row: it was deleted", "history_without_row"))
    return problems
