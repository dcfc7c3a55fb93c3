"""The two passes of the audit over one snapshot, both streaming.

1. The chain, in log order: sequence without gaps, each `prev_hash` linking, each hash
   recomputed, each type known; an event found elsewhere in the chain is named as moved.
2. Per subject, a merge of its rows (ordered by key) with its events (ordered by key, then
   log order): each key's history is replayed and compared with its row. Memory holds one
   subject's events at a time, whatever the size of the registry.

Subjects are pluggable: a subject kind (certificates now, service applications later) names its
event types, its rows, its replayer and its row check; `SUBJECTS` lists them. An event type no
subject claims is named as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from .chain import GENESIS, event_hash, is_actor_commitment
from .findings import LogProblem, safe, show
from .reader import LogReader
from .replay import CERTIFICATE_EVENT_TYPES, History, RawEvent, check_certificate, replay_certificate


@dataclass(frozen=True)
class Subject:
    """One kind of thing the log describes."""

    name: str
    event_types: frozenset[str]
    #: Its rows as (key, row), ordered by key in code-point order.
    rows: Callable[[LogReader], Iterator[tuple[str, Mapping[str, Any]]]]
    replay: Callable[[str, Sequence[RawEvent]], History]
    #: Problems of one row against its history (None: no events).
    check: Callable[[Mapping[str, Any], History | None], list[LogProblem]]
    #: How a key is named in a problem, e.g. "certificate SK-2026-000001-7".
    label: str


CERTIFICATES = Subject(
    name="certificate", event_types=CERTIFICATE_EVENT_TYPES,
    rows=lambda reader: ((row["number"], row) for row in reader.certificates()),
    replay=replay_certificate, check=check_certificate, label="certificate")

from .visit_replay import VISIT_EVENT_TYPES, check_visits, replay_visits  # noqa: E402
from .visits import visit_rows  # noqa: E402

#: Surveillance visits of type 5 certificates, keyed by the certificate's number (docs/surveillance.md).
SURVEILLANCE_VISITS = Subject(
    name="surveillance", event_types=VISIT_EVENT_TYPES, rows=visit_rows,
    replay=replay_visits, check=check_visits, label="surveillance of certificate")  # type: ignore[arg-type]

#: Every subject the log knows; a later subject kind appends itself here.
SUBJECTS: list[Subject] = [CERTIFICATES, SURVEILLANCE_VISITS]


def known_types(subjects: Iterable[Subject]) -> frozenset[str]:
    return frozenset().union(*(s.event_types for s in subjects))


@dataclass
class ChainResult:
    """What the chain pass established."""

    events: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    #: Hashes of the events that checkpoints name (the only ones kept).
    hashes: dict[int, str] = field(default_factory=dict)
    problems: list[LogProblem] = field(default_factory=list)


def check_chain(reader: LogReader, *, keep: set[int], types: frozenset[str]) -> ChainResult:
    """Pass 1: the hash chain in log order. `keep`: sequence numbers whose hash to remember."""
    out = ChainResult()
    prev_hash, expected = GENESIS, 1
    for ev in reader.events():
        out.events += 1
        where = f"event {ev.seq}"
        if ev.seq != expected:
            out.problems.append(LogProblem(where, f"sequence jumps from {expected - 1} to {ev.seq}: events are missing",
                                           "events_missing"))
        moved_after = None
        if ev.prev_hash != prev_hash:
            moved_after = reader.seq_of_hash(ev.prev_hash)
            if moved_after is not None and moved_after != ev.seq - 1:
                out.problems.append(LogProblem(where, f"is out of order: it follows event {moved_after} in the chain, not "
                                                      f"event {expected - 1}: events were reordered", "events_reordered"))
            else:
                out.problems.append(LogProblem(where, "does not link to the event before it (prev_hash differs): the log was "
                                                      "rewritten", "chain_broken"))
        if _hash(ev, ev.seq) != ev.hash:
            if moved_after is not None and moved_after != ev.seq - 1 and _hash(ev, moved_after + 1) == ev.hash:
                out.problems.append(LogProblem(where, f"was written as event {moved_after + 1} and moved here: events were "
                                                      "reordered", "events_reordered"))
            else:
                out.problems.append(LogProblem(where, f"content does not match its hash ({safe(ev.type)} of {safe(ev.number)} "
                                                      "was altered)", "event_altered"))
        if ev.type not in types:
            out.problems.append(LogProblem(where, f"unknown event type {show(ev.type)}", "unknown_event_type"))
        if ev.actor_salt is None and is_actor_commitment(ev.actor):
            # the name replaced by the commitment the hash covers, the salt removed: the hash still
            # matches, but nobody can say any more who acted
            out.problems.append(LogProblem(where, "names no one: its actor is a bare commitment and its salt is gone (the "
                                                  "staff member's name was erased)", "actor_erased"))
        if ev.seq in keep:
            out.hashes[ev.seq] = ev.hash
        prev_hash, expected = ev.hash, ev.seq + 1
        out.last_seq, out.last_hash = ev.seq, ev.hash
    return out


def check_head(head: tuple[Any, Any] | None, last_seq: int, last_hash: str) -> list[LogProblem]:
    """The chain head row names the last event of the log (a log cut short or extended is caught)."""
    if head is None:
        return [LogProblem("chain head", "is missing: the chain_head row was deleted", "head_missing")]
    seq, digest = head
    if seq != last_seq:
        return [LogProblem("chain head", f"records event {safe(seq)}, but the log ends at event {last_seq}: events were removed "
                                         "or added behind the chain's back", "head_mismatch")]
    if digest != last_hash:
        return [LogProblem("chain head", f"records a different hash for event {last_seq} than the log has: the head or the log "
                                         "was rewritten", "head_mismatch")]
    return []


def _hash(ev: RawEvent, seq: int) -> str | None:
    """The event's hash recomputed as if it were event `seq`; None when its stored values cannot be hashed."""
    if not isinstance(ev.at, datetime) or not isinstance(ev.data, Mapping):
        return None
    try:
        return event_hash(ev.prev_hash, seq=seq, at=ev.at, type=ev.type, number=ev.number, actor=ev.actor,
                          reason=ev.reason, data=ev.data, actor_salt=ev.actor_salt)
    except (TypeError, ValueError):  # a value an attacker stored that JSON or ASCII cannot carry
        return None


@dataclass
class SubjectResult:
    rows: int = 0
    problems: list[LogProblem] = field(default_factory=list)


def check_subject(reader: LogReader, subject: Subject) -> SubjectResult:
    """Pass 2 for one subject: every row against its replayed history, every history against a row."""
    out = SubjectResult()
    rows = subject.rows(reader)
    row = next(rows, None)
    for key, group in _grouped(reader.events(types=subject.event_types, by_number=True)):
        while row is not None and row[0] < key:
            out.rows += 1
            out.problems.extend(subject.check(row[1], None))
            row = next(rows, None)
        history = subject.replay(key, group)
        out.problems.extend(history.problems)
        if row is not None and row[0] == key:
            out.rows += 1
            out.problems.extend(subject.check(row[1], history))
            row = next(rows, None)
        else:
            seqs = ", ".join(str(s) for s in history.seqs[:5]) + (", ..." if len(history.seqs) > 5 else "")
            out.problems.append(LogProblem(f"{subject.label} {safe(key)}", f"has events in the log (event {seqs}) but no row: "
                                                                          "it was deleted", "history_without_row"))
    while row is not None:
        out.rows += 1
        out.problems.extend(subject.check(row[1], None))
        row = next(rows, None)
    return out


def _grouped(events: Iterator[RawEvent]) -> Iterator[tuple[str, list[RawEvent]]]:
    key: str | None = None
    group: list[RawEvent] = []
    for ev in events:
        if ev.number != key:
            if group:
                yield key, group  # type: ignore[misc]
            key, group = ev.number, []
        group.append(ev)
    if group:
        yield key, group  # type: ignore[misc]


# the service standard's subjects (docs/service.md): applications and complaints
from . import service_subjects as _service  # noqa: E402

SUBJECTS.extend(Subject(name=kind, event_types=frozenset({kind}), rows=lambda reader, kind=kind: _service.rows(kind, reader),
                        replay=_service.replay_state, check=_service.checker(kind), label=kind)
                for kind in ("application", "complaint"))

# the trust lists published to the registry (docs/registry.md, "Trust lists in the log")
from . import trust_log as _trust  # noqa: E402

SUBJECTS.append(Subject(name="trust list", event_types=_trust.TRUST_EVENT_TYPES, rows=_trust.rows,
                        replay=_trust.replay_trust_lists, check=_trust.check_trust_lists,  # type: ignore[arg-type]
                        label="trust lists"))
