"""Published trust lists under the log (docs/registry.md, "Trust lists in the log").

Every trust list published to `trust_lists` is also a `trustlist` event of the hash chain,
written in the same transaction as its row, so the signed checkpoints cover it:

    number = "trustlist"    (every trust-list event has this key; no certificate number looks like it)
    data   = {"trust_list": state, "state_sha256": SHA-256(canonical JSON of state), "list": the exact signed text}
    state  = {id, issued_at, sha256, published_at, actor}     every value a string

The list itself travels in the event: a web instance reads the newest list the log names from
the event (verify.live), so deleting or editing `trust_lists` rows cannot hide it. The audit
(`certgen log --verify`) rebuilds the published lists from the events and names a row deleted,
edited or added behind the log's back, and a logged list that is not newer than the one logged
before it (a rollback written into the log itself).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..model import EventType
from .chain import actor_commitment, canonical_json, is_actor_commitment, iso
from .findings import LogProblem, safe, show
from .reader import LogReader, read_time
from .replay import RawEvent

#: The `number` of every trust-list event.
TRUST_KEY = "trustlist"
TRUST_EVENT_TYPES = frozenset({EventType.TRUST_LIST.value})
#: The columns of a `trust_lists` row the event pins (`data` is pinned through `sha256`).
STATE_KEYS: tuple[str, ...] = ("id", "issued_at", "sha256", "published_at", "actor")
REASON = "trust list published"

_rows = sa.table("trust_lists", *(sa.column(c) for c in ("id", "issued_at", "sha256", "data", "published_at", "actor")))


def trust_state(row: Mapping[str, Any] | Any) -> dict[str, str | None]:
    """The canonical state of a `trust_lists` row (a mapping or an ORM row)."""
    get = row.get if isinstance(row, Mapping) else row.__getattribute__
    out: dict[str, str | None] = {}
    for key in STATE_KEYS:
        value = get(key)
        out[key] = None if value is None else iso(value) if isinstance(value, datetime) else str(value)
    return out


def state_digest(state: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(state))).hexdigest()


def event_data(row: Any, text: str, salt: str | None = None) -> dict[str, Any]:
    """What the `trustlist` event of a just-written row carries. With `salt` (the event's own
    actor salt) the publisher is pinned as `actor_commitment(name, salt)`: the event is public
    (/api/v1/log/entry), the staff member's name is not (docs/registry.md)."""
    state = trust_state(row)
    if salt is not None and state["actor"] is not None:
        state["actor"] = actor_commitment(state["actor"], salt)
    return {"trust_list": state, "state_sha256": state_digest(state), "list": text}


def append_trust_event(session: Session, head: Any, row: Any, *, now: datetime, actor: str) -> None:
    """The event of a `trust_lists` row, inside the publisher's write transaction (its id flushed)."""
    from .repository import _actor_salt, _append  # the writers' chain append

    salt = _actor_salt()  # one fresh salt: the event's actor and the state's publisher commit with it
    _append(session, head, EventType.TRUST_LIST, TRUST_KEY, actor[:100], REASON, event_data(row, row.data, salt), now,
            salt=salt)


@dataclass(frozen=True)
class LoggedTrustList:
    """The newest trust list the log names, as its event carries it (unverified: the reader
    checks the signature against its root, and may check the event against a checkpoint)."""

    seq: int
    id: str
    issued_at: str
    sha256: str
    #: The exact signed text the event carries.
    data: bytes
    event: RawEvent


def read_lists(conn: Any) -> tuple[list[LoggedTrustList], list[str]]:
    """Every `trustlist` event that carries a well-formed list, in log order, and what is wrong
    with the others (one message each)."""
    from .reader import EVENT_COLUMNS, _raw_event, events

    query = sa.select(*(events.c[c] for c in EVENT_COLUMNS)).where(events.c.number == TRUST_KEY).order_by(events.c.seq)
    lists, malformed = [], []
    for row in conn.execute(query).all():
        try:
            lists.append(_logged(_raw_event(row)))
        except ValueError as exc:
            malformed.append(str(exc))
    return lists, malformed


def latest_logged(conn: Any) -> LoggedTrustList | None:
    """The newest `trustlist` event (by sequence number) and the list it carries; None when the
    log names none. Raises ValueError for an event that does not carry a well-formed list."""
    from .reader import EVENT_COLUMNS, _raw_event, events

    query = (sa.select(*(events.c[c] for c in EVENT_COLUMNS)).where(events.c.number == TRUST_KEY)
             .order_by(events.c.seq.desc()).limit(1))
    row = conn.execute(query).first()
    return None if row is None else _logged(_raw_event(row))


def _logged(ev: RawEvent) -> LoggedTrustList:
    data = ev.data if isinstance(ev.data, Mapping) else {}
    state, text = data.get("trust_list"), data.get("list")
    if ev.type != EventType.TRUST_LIST.value or not _is_state(state) or not isinstance(text, str):
        raise ValueError(f"event {ev.seq} ({safe(ev.type)} of {safe(ev.number)}) does not carry a well-formed trust list")
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"event {ev.seq} carries a trust list that is not ASCII") from None
    return LoggedTrustList(ev.seq, str(state["id"]), str(state["issued_at"]), str(state["sha256"]), raw, ev)


def _is_state(value: Any) -> bool:
    return (isinstance(value, Mapping) and set(value) == set(STATE_KEYS)
            and all(isinstance(v, str) for v in value.values()))


# -- the audit's subject ---------------------------------------------------------------------

def _all_rows(reader: LogReader) -> list[dict[str, Any]]:
    """Every `trust_lists` row, by id, times read as the registry reads them."""
    lists = []
    for r in reader.conn.execute(sa.select(_rows).order_by(_rows.c.id)):
        row = dict(r._mapping)
        for name in ("issued_at", "published_at"):
            row[name] = read_time(row[name])
        lists.append(row)
    return lists


@dataclass
class TrustHistory:
    """The published trust lists rebuilt from the `trustlist` events (the audit's `History` shape)."""

    number: str
    #: id -> (state the event carries, its sha256 of the list text, event seq)
    lists: dict[str, tuple[dict[str, str], int]] = field(default_factory=dict)
    #: id -> the actor salt of its event (its state's `actor` is then a commitment to the name)
    salts: dict[str, str | None] = field(default_factory=dict)
    seqs: list[int] = field(default_factory=list)
    problems: list[LogProblem] = field(default_factory=list)
    state: Any = None


def replay_trust_lists(number: str, events: Sequence[RawEvent]) -> TrustHistory:
    """Replay the trust-list events in log order; problems name the event at fault."""
    history = TrustHistory(number)
    newest: str | None = None
    for ev in events:
        history.seqs.append(ev.seq)
        where = f"event {ev.seq}"
        data = ev.data if isinstance(ev.data, Mapping) else {}
        state, text = data.get("trust_list"), data.get("list")
        if not _is_state(state) or not isinstance(text, str):
            history.problems.append(LogProblem(where, "a trust-list event that carries no well-formed trust list",
                                               "malformed_event"))
            continue
        if data.get("state_sha256") != state_digest(state):
            history.problems.append(LogProblem(where, "trust list: its state_sha256 does not match the state it carries",
                                               "event_state_mismatch"))
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != state["sha256"]:
            history.problems.append(LogProblem(where, f"trust list {safe(state['id'])}: the list it carries does not match "
                                                      "its sha256", "event_state_mismatch", "sha256"))
        if state["id"] in history.lists:
            history.problems.append(LogProblem(where, f"a second event for trust list {safe(state['id'])}: a duplicated event",
                                               "duplicated_event"))
            continue
        if newest is not None and state["issued_at"] <= newest:
            history.problems.append(LogProblem(where, f"trust list {safe(state['id'])} issued at {safe(state['issued_at'])} is "
                                                      f"not newer than the one logged before it (issued at {safe(newest)}): a "
                                                      "rollback was published", "trust_list_not_newer", "issued_at"))
        newest = max(newest or "", state["issued_at"])
        history.lists[state["id"]] = (dict(state), ev.seq)
        history.salts[state["id"]] = ev.actor_salt
    return history


def check_trust_lists(row: Mapping[str, Any], history: TrustHistory | None) -> list[LogProblem]:
    """Every `trust_lists` row against the state its event carries, and every logged list against a row."""
    replayed = dict(history.lists) if history is not None else {}
    problems: list[LogProblem] = []
    for table_row in row["lists"]:
        table = trust_state(table_row)
        where = f"trust list {safe(table['id'])}"
        data = table_row.get("data")
        if not isinstance(data, str) or hashlib.sha256(data.encode("utf-8")).hexdigest() != table["sha256"]:
            problems.append(LogProblem(where, "column data does not match its sha256: the published list was edited",
                                       "column_differs", "data"))
        logged = replayed.pop(str(table["id"]), None)
        if logged is None:
            problems.append(LogProblem(where, "has a row but no trustlist event in the log: it was added behind the log's "
                                              "back", "no_history"))
            continue
        expected, _seq = logged
        compared = dict(table)
        salt = history.salts.get(str(table["id"])) if history is not None else None
        if salt is not None and is_actor_commitment(expected["actor"]) and table["actor"] is not None:
            try:  # the publisher's name, pinned by the commitment the event carries
                compared["actor"] = actor_commitment(table["actor"], salt)
            except ValueError:  # a salt that is not hex: the event's hash check names it
                pass
        for key in STATE_KEYS:
            if compared[key] != expected[key]:
                problems.append(LogProblem(where, f"column {key} is {show(table[key])} in the table, but its history says "
                                                  f"{show(expected[key])}", "column_differs", key))
    for ident, (state, seq) in replayed.items():
        problems.append(LogProblem(f"trust list {safe(ident)}", f"issued at {safe(state['issued_at'])} is named by event {seq} "
                                                                 "but has no row: it was deleted", "history_without_row"))
    return problems


def rows(reader: LogReader) -> Iterator[tuple[str, dict[str, Any]]]:
    """One aggregate row keyed `trustlist` holding every `trust_lists` row (also when none is
    left: every deleted row is then named by its event); nothing before migration 0011."""
    if sa.inspect(reader.conn).has_table("trust_lists"):
        yield TRUST_KEY, {"number": TRUST_KEY, "lists": _all_rows(reader)}


# -- migration 0012_trust_log ------------------------------------------------------------------

MIGRATION_ACTOR = "migration 0012_trust_log"


def log_existing(conn: Any, *, now: datetime) -> int:
    """Append a `trustlist` event for every `trust_lists` row that has none (the lists published
    before migration 0012_trust_log), in id order. Returns how many were appended."""
    from .attest import _events, _head
    from .chain import event_hash

    if conn.dialect.name == "postgresql":  # the writers' lock (repository._write)
        conn.execute(sa.select(_head.c.seq).where(_head.c.id == 1).with_for_update())
    logged = {str(state.get("id")) for (data,) in conn.execute(sa.select(_events.c.data).where(_events.c.number == TRUST_KEY))
              for state in [_mapping(_mapping(data).get("trust_list"))]}
    head = conn.execute(sa.select(_head.c.seq, _head.c.hash).where(_head.c.id == 1)).first()
    seq, prev = head[0], head[1]
    count = 0
    for r in conn.execute(sa.select(_rows).order_by(_rows.c.id)).all():
        row = dict(r._mapping)
        if str(row["id"]) in logged:
            continue
        for name in ("issued_at", "published_at"):
            row[name] = read_time(row[name])
        data = event_data(row, row["data"])
        seq += 1
        digest = event_hash(prev, seq=seq, at=now, type=EventType.TRUST_LIST.value, number=TRUST_KEY, actor=MIGRATION_ACTOR,
                            reason=REASON, data=data)
        conn.execute(_events.insert().values(seq=seq, at=now, type=EventType.TRUST_LIST.value, number=TRUST_KEY,
                                             actor=MIGRATION_ACTOR, reason=REASON, data=data, prev_hash=prev, hash=digest))
        prev = digest
        count += 1
    conn.execute(_head.update().where(_head.c.id == 1).values(seq=seq, hash=prev))
    return count


def _mapping(value: Any) -> Mapping[str, Any]:
    from .reader import read_json

    value = read_json(value)
    return value if isinstance(value, Mapping) else {}
