"""Rebuilding a certificate from its history, and comparing the rebuilt state with its row (pure).

A certificate's events, in log order, rebuild its state (`state.py`):

* `issue` carries the full state after issuance; `attest` (written once by migration
  0003_record_state for certificates issued before) carries the full state as it stood then,
  which must agree with every column the history before it pins;
* `suspend`, `reinstate`, `withdraw`, `replace` change `status` (`data.from` -> `data.to`, as
  the life cycle allows), `status_reason` (the event's reason), `status_changed_at` (its time)
  and, for replace, `replaced_by` (`data.successor`); each carries `state_sha256` of the state
  after it.

Events written before migration 0003 (an `issue` without `state`, changes without
`state_sha256`) are replayed by the rules they were written under: they pin fewer columns, and
the columns they leave open are named until an `attest` pins them.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from datetime import date, datetime
from typing import Any, Callable, Mapping, Sequence

from ..errors import NumberFormatError
from ..model import DocumentKind, EventType, PersonRecord, ProductRecord, Status, TrainingRecord, record_from_json
from ..numbers import parse_number
from .chain import iso
from .findings import LogProblem, safe, show
from .lifecycle import transition
from .state import CARD_KEYS, COLUMN_OF, DIGEST_KEYS, STATE_KEYS, certificate_state, is_state, state_digest

#: What an issue event before migration 0003 left open. The row's scheme, granted and expires
#: columns are copies of fields of the record, which it pins: `check_certificate` pins them
#: through the record when the record is a complete one.
LEGACY_UNPINNED = frozenset({"scheme", "granted", "expires", "seal_sha256", "batch_key"})


def record_class(kind: DocumentKind) -> type:
    return {DocumentKind.PRODUCT: ProductRecord, DocumentKind.PERSON: PersonRecord, DocumentKind.TRAINING: TrainingRecord}[kind]


@dataclass(frozen=True)
class RawEvent:
    """An event as stored, nothing trusted: `type` may be unknown, `data` anything, `at` the raw
    text when the database held something that is not a time."""

    seq: int
    at: datetime | str
    type: str
    number: str
    actor: str
    reason: str | None
    data: Any
    prev_hash: str
    hash: str
    #: Hides the actor in the hash (chain.actor_commitment); None before migration 0013.
    actor_salt: str | None = None


@dataclass
class History:
    """A certificate rebuilt from its events."""

    number: str
    #: The state after the last event; None before an issue event.
    state: dict[str, str | None] | None = None
    #: State keys the history does not fix (a certificate issued before migration 0003, not attested).
    unpinned: set[str] = field(default_factory=set)
    #: A full-state event was seen: every later event must carry `state_sha256`.
    full: bool = False
    issued_by: int | None = None
    seqs: list[int] = field(default_factory=list)
    problems: list[LogProblem] = field(default_factory=list)


def replay_certificate(number: str, events: Sequence[RawEvent]) -> History:
    """Replay one certificate's events (in log order); problems name the event at fault."""
    history = History(number)
    for ev in events:
        history.seqs.append(ev.seq)
        apply = _APPLY.get(ev.type)
        where = f"event {ev.seq}"
        if apply is None:
            history.problems.append(LogProblem(where, f"unknown event type {show(ev.type)}", "unknown_event_type"))
        elif not isinstance(ev.data, Mapping):
            history.problems.append(LogProblem(where, f"{ev.type} of {safe(number)} has malformed data", "malformed_event"))
        else:
            apply(history, ev, where)
    return history


def _full_state(history: History, ev: RawEvent, where: str) -> dict[str, str | None] | None:
    state, claimed = ev.data.get("state"), ev.data.get("state_sha256")
    if not is_state(state):
        history.problems.append(LogProblem(where, f"{ev.type} of {safe(history.number)} carries a malformed state", "malformed_event"))
        return None
    if claimed != state_digest(state):
        history.problems.append(LogProblem(where, f"{ev.type} of {safe(history.number)}: its state_sha256 does not match the state it carries",
                                           "event_state_mismatch"))
    if state["number"] != history.number:
        history.problems.append(LogProblem(where, f"{ev.type} of {safe(history.number)} carries the state of {show(state['number'])}",
                                           "event_state_mismatch", "number"))
    return dict(state)


def _issue(history: History, ev: RawEvent, where: str) -> None:
    if history.issued_by is not None:
        history.problems.append(LogProblem(where, f"a second issue of {safe(history.number)} (event {history.issued_by} issued it): "
                                                  "a duplicated event", "duplicated_event"))
        return
    if history.state is not None:  # a discarded successor (`discard` came first): never issued after it
        history.problems.append(LogProblem(where, f"issue of {safe(history.number)} after it was discarded before issue: "
                                                  "a discarded successor is never issued", "bad_transition"))
        return
    history.issued_by = ev.seq
    if "state" in ev.data:
        state = _full_state(history, ev, where)
        if state is None:
            return
        if state["status"] != Status.ACTIVE.value:
            history.problems.append(LogProblem(where, f"issue of {safe(history.number)} carries status {show(state['status'])}, not active",
                                               "event_state_mismatch", "status"))
        history.state, history.unpinned, history.full = state, set(), True
        return
    history.state, history.unpinned = _legacy_issue_state(history.number, ev), set(LEGACY_UNPINNED)


def _legacy_issue_state(number: str, ev: RawEvent) -> dict[str, str | None]:
    """What an issue event of the landed format (before 0003) fixed: kind, holder, the record,
    PDF and card digests, the signer key id; the issue time; and the series, from the number."""
    data, at = ev.data, _when(ev.at)
    try:
        series: str | None = parse_number(number).series.value
    except NumberFormatError:
        series = None
    values = {key: None for key in STATE_KEYS}
    values.update(number=number, series=series, kind=data.get("kind"), holder=data.get("holder"),
                  record_sha256=data.get("record_sha256"), status=Status.ACTIVE.value, status_changed_at=at,
                  dsc_kid=data.get("dsc_kid"), pdf_sha256=data.get("pdf_sha256"), card_sha256=data.get("card_sha256"),
                  issued_at=at)
    return {key: (None if v is None else str(v)) for key, v in values.items()}


def _change(history: History, ev: RawEvent, where: str) -> None:
    state, number = history.state, safe(history.number)
    if state is None:
        history.problems.append(LogProblem(where, f"{ev.type} of {number} comes before its issue: events reordered or the issue removed",
                                           "out_of_order"))
        return
    change = EventType(ev.type)
    current, said_from, said_to = state["status"], ev.data.get("from"), ev.data.get("to")
    if said_from != current:
        history.problems.append(LogProblem(where, f"{ev.type} of {number} starts from {show(said_from)}, but its history has it "
                                                  f"{show(current)} by then: an event was duplicated, reordered or removed", "out_of_order"))
    try:
        allowed = transition(Status(current), change) if current is not None else None
    except ValueError:
        allowed = None
    if allowed is None:
        history.problems.append(LogProblem(where, f"{ev.type} of {number} is not allowed from {show(current)}", "bad_transition"))
    elif said_to != allowed.value:
        history.problems.append(LogProblem(where, f"{ev.type} of {number} leads to {show(said_to)}, but the life cycle leads to "
                                                  f"{allowed.value}", "bad_transition"))
    new = dict(state)
    new.update(status=str(said_to) if said_to is not None else (allowed.value if allowed else None),
               status_reason=ev.reason, status_changed_at=_when(ev.at))
    if change is EventType.REPLACE:
        successor = ev.data.get("successor")
        if not successor:
            history.problems.append(LogProblem(where, f"replace of {number} names no successor", "malformed_event", "replaced_by"))
        new["replaced_by"] = None if successor is None else str(successor)
    history.state = new
    claimed = ev.data.get("state_sha256")
    if claimed is None:
        if history.full:
            history.problems.append(LogProblem(where, f"{ev.type} of {number} carries no state_sha256", "malformed_event"))
    elif not history.unpinned and claimed != state_digest(new):
        history.problems.append(LogProblem(where, f"{ev.type} of {number}: its state_sha256 does not match the state its history "
                                                  "leads to", "event_state_mismatch"))


def _attest(history: History, ev: RawEvent, where: str) -> None:
    if history.state is None:
        history.problems.append(LogProblem(where, f"attest of {safe(history.number)} without an issue before it", "out_of_order"))
        return
    state = _full_state(history, ev, where)
    if state is None:
        return
    pinned = tuple(k for k in STATE_KEYS if k not in history.unpinned)
    for key in pinned:
        if state[key] != history.state[key]:
            history.problems.append(LogProblem(where, f"attest of {safe(history.number)} says column {COLUMN_OF[key]} is "
                                                      f"{show(state[key])}, but its history says {show(history.state[key])}",
                                               "attest_contradicts", COLUMN_OF[key]))
    history.state, history.unpinned, history.full = state, set(), True


#: What a card reprint may change in a certificate's state: nothing but its card.
_REPRINT_KEYS = frozenset({"card_sha256", *CARD_KEYS})


def _reprint(history: History, ev: RawEvent, where: str) -> None:
    """A new edition of the certified-person card (certgen/card_reprint.py): the event carries
    the full state after it, which must be its history's state but for the card, one edition up,
    and the certificate must have been active."""
    number = safe(history.number)
    if history.state is None:
        history.problems.append(LogProblem(where, f"reprint of {number} comes before its issue: events reordered or "
                                                  "the issue removed", "out_of_order"))
        return
    state = _full_state(history, ev, where)
    if state is None:
        return
    before = history.state
    if before["status"] != Status.ACTIVE.value or before["kind"] != DocumentKind.PERSON.value:
        history.problems.append(LogProblem(where, f"reprint of the card of {number}, a {show(before['kind'])} certificate "
                                                  f"that is {show(before['status'])}: only an active person certificate's "
                                                  "card is reprinted", "bad_transition"))
    previous = before.get("card_edition") or "1"
    edition = ev.data.get("edition")
    if not isinstance(edition, int) or isinstance(edition, bool) or str(edition - 1) != previous:
        history.problems.append(LogProblem(where, f"reprint of {number} prints edition {show(edition)}, but its history "
                                                  f"has edition {previous} by then: an event was duplicated, reordered or "
                                                  "removed", "out_of_order", "card_edition"))
    elif state.get("card_edition") != str(edition):
        history.problems.append(LogProblem(where, f"reprint of {number} prints edition {edition}, but the state it carries "
                                                  f"says {show(state.get('card_edition'))}", "event_state_mismatch",
                                           "card_edition"))
    for key in (*STATE_KEYS, *CARD_KEYS):
        if key not in _REPRINT_KEYS and key not in history.unpinned and state.get(key) != before.get(key):
            history.problems.append(LogProblem(where, f"reprint of {number} changes column {COLUMN_OF[key]} "
                                                      f"({show(before.get(key))} -> {show(state.get(key))}): a reprint "
                                                      "changes the card only", "event_state_mismatch", COLUMN_OF[key]))
    history.state, history.full = state, True


def _card_written(history: History, ev: RawEvent, where: str) -> None:
    """The file of the current card edition is written (certgen/registry/cards.py): no state
    change; it names the current edition and card digest, and commits to the state as it is."""
    number = safe(history.number)
    if history.state is None:
        history.problems.append(LogProblem(where, f"card_written of {number} comes before its issue: events reordered or "
                                                  "the issue removed", "out_of_order"))
        return
    edition, digest = ev.data.get("edition"), ev.data.get("card_sha256")
    if str(edition) != history.state.get("card_edition") or digest != history.state.get("card_sha256"):
        history.problems.append(LogProblem(where, f"card_written of {number} names edition {show(edition)} (card "
                                                  f"{_short(digest)}), but its history has edition "
                                                  f"{show(history.state.get('card_edition'))} (card "
                                                  f"{_short(history.state.get('card_sha256'))}) by then: an event was "
                                                  "duplicated, reordered or removed", "out_of_order", "card_edition"))
    if ev.data.get("state_sha256") != state_digest(history.state):
        history.problems.append(LogProblem(where, f"card_written of {number}: its state_sha256 does not match the state its "
                                                  "history leads to", "event_state_mismatch"))


def _discard(history: History, ev: RawEvent, where: str) -> None:
    """A pending successor discarded before issue (certgen/registry/discard.py): its first and
    only event; the state it carries is withdrawn, never issued, with no batch key."""
    number = safe(history.number)
    if history.state is not None:
        history.problems.append(LogProblem(where, f"discard of {number} after its issue: only a pending successor is "
                                                  "discarded", "bad_transition"))
        return
    state = _full_state(history, ev, where)
    if state is None:
        return
    if (ev.data.get("from"), ev.data.get("to")) != (Status.PENDING.value, Status.WITHDRAWN.value) \
            or state["status"] != Status.WITHDRAWN.value:
        history.problems.append(LogProblem(where, f"discard of {number} leads to {show(state['status'])}, not from "
                                                  "pending to withdrawn", "bad_transition", "status"))
    for key in ("issued_at", "pdf_sha256", "seal_sha256", "dsc_kid", "batch_key"):
        if state.get(key) is not None:
            history.problems.append(LogProblem(where, f"discard of {number} carries column {COLUMN_OF[key]} set: a "
                                                      "discarded successor was never issued", "event_state_mismatch",
                                               COLUMN_OF[key]))
    if state["status_reason"] != ev.reason or state["status_changed_at"] != _when(ev.at):
        history.problems.append(LogProblem(where, f"discard of {number}: the state's reason or time is not the event's",
                                           "event_state_mismatch", "status_reason"))
    history.state, history.unpinned, history.full = state, set(), True


_APPLY: dict[str, Callable[[History, RawEvent, str], None]] = {
    EventType.ISSUE.value: _issue, EventType.ATTEST.value: _attest, EventType.SUSPEND.value: _change,
    EventType.REINSTATE.value: _change, EventType.WITHDRAW.value: _change, EventType.REPLACE.value: _change,
    EventType.REDEEM.value: _change,  # an apology letter's credit used (docs/service.md)
    EventType.REPRINT.value: _reprint,  # a new edition of a person certificate's card
    EventType.CARD_WRITTEN.value: _card_written,  # that edition's file is written (no state change)
    EventType.DISCARD.value: _discard,  # a pending successor withdrawn before issue
}
#: The event types this replayer handles: the certificate subject's types.
CERTIFICATE_EVENT_TYPES = frozenset(_APPLY)


def _when(at: datetime | str) -> str:
    return iso(at) if isinstance(at, datetime) else str(at)


# -- the row against its history --------------------------------------------------------------

#: Columns a pending row leaves empty: it has been numbered, nothing more.
_PENDING_EMPTY = ("status_reason", "replaced_by", "dsc_kid", "pdf_sha256", "card_sha256", "seal", "issued_at",
                  "card_edition", "card_seal")


def check_certificate(row: Mapping[str, Any], history: History | None) -> list[LogProblem]:
    """Compare one certificate row (values as read, see `reader`) with the history of its number."""
    number = str(row["number"])
    where = f"certificate {safe(number)}"
    problems = _number_problems(where, row)
    if row["status"] == Status.PENDING.value:
        if history is not None and history.seqs:
            problems.append(LogProblem(where, f"is pending, but the log has events for it (event {history.seqs[0]})",
                                       "pending_with_events"))
        problems.extend(LogProblem(where, f"is pending, but column {col} is set: a pending certificate has nothing issued",
                                   "pending_not_blank", col) for col in _PENDING_EMPTY if row.get(col) is not None)
        return problems
    if history is None or history.state is None:
        problems.append(LogProblem(where, f"is {safe(row['status'])}, but the log has no issue event for it", "no_history"))
        return problems
    table = certificate_state(row)
    expected, unpinned = dict(history.state), set(history.unpinned)
    if unpinned & set(_RECORD_DERIVED) and table["record_sha256"] == expected["record_sha256"]:
        derived = record_columns(row.get("kind"), row.get("record"))  # the record is the pinned one: its copies are pinned too
        if derived is not None:
            expected.update(derived)
            unpinned -= set(derived)
    for key in (*STATE_KEYS, *CARD_KEYS):
        if key in unpinned or table.get(key) == expected.get(key):
            continue
        column = COLUMN_OF[key]
        if key in DIGEST_KEYS:
            what = (f"column {column} differs from its history (SHA-256 {_short(table.get(key))} in the table, "
                    f"{_short(expected.get(key))} in its history)")
        else:
            what = f"column {column} is {show(table.get(key))} in the table, but its history says {show(expected.get(key))}"
        problems.append(LogProblem(where, what, "column_differs", column))
    if unpinned:
        columns = ", ".join(sorted(COLUMN_OF[k] for k in unpinned))
        problems.append(LogProblem(where, f"its history does not pin column(s) {columns}: issued before migration "
                                          "0003_record_state and never attested", "unpinned"))
    return problems


_RECORD_DERIVED = ("holder", "scheme", "granted", "expires")


def record_columns(kind: Any, record: Any) -> dict[str, str | None] | None:
    """The columns that copy a record's fields (holder, scheme, granted, expires), as the issuing
    pipeline fills them from the record; None when the record is not a complete record of `kind`."""
    try:
        cls = record_class(DocumentKind(kind))
    except ValueError:
        return None
    if not isinstance(record, Mapping):
        return None
    required = [f.name for f in fields(cls) if f.default is MISSING]
    if any(record.get(name) in (None, "") for name in required):
        return None
    try:
        parsed = record_from_json(DocumentKind(kind), dict(record))
        values = {"holder": parsed.holder, "scheme": parsed.scheme, "granted": parsed.grant_date, "expires": parsed.expires}
    except (TypeError, ValueError):
        return None
    return {key: (None if v is None else (v.isoformat() if isinstance(v, date) else str(v))) for key, v in values.items()}


def _short(digest: str | None) -> str:
    return "none" if digest is None else safe(digest, 16)


def _number_problems(where: str, row: Mapping[str, Any]) -> list[LogProblem]:
    """The number is well formed, and the series, year and serial columns say what it says."""
    try:
        parsed = parse_number(str(row["number"]))
    except NumberFormatError as exc:
        return [LogProblem(where, f"is not a valid certificate number ({safe(exc)})", "bad_number", "number")]
    if str(parsed) != row["number"]:
        return [LogProblem(where, f"is not written in the canonical form {parsed}", "bad_number", "number")]
    out = []
    for column, value in (("year", parsed.year), ("serial", parsed.serial)):
        if str(row.get(column)) != str(value):
            out.append(LogProblem(where, f"column {column} is {show(row.get(column))} in the table, but the number says {value}",
                                  "number_mismatch", column))
    return out

