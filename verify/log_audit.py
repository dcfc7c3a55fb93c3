"""Checking the registry's transparency log from outside (docs/registry.md, "Witnesses").

* `audit`: the witness. It keeps the last checkpoint it accepted in a folder, fetches the new
  one, checks its signature and the consistency proof from the old tree to the new (and to the
  checkpoints other witnesses kept), and names a rollback (a smaller tree), a truncation, a fork
  (another root for the same size, a proof that fails, a split view) or a bad signature.
  Several auditors, each with its own state, are the witness model.
* `LogInclusion`: proves that a certificate's latest event is in the latest checkpoint, with
  an inclusion proof checked here, for `certverify number|seal|pdf --log-proof`.

The log comes from a `verify.log_source` (a registry database, or the service over HTTP).
"""

from __future__ import annotations

import enum
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from certgen.note import CheckpointError, CheckpointProblem, LogKey, TreeHead, open_tree_head, parse_tree_head
from certgen.registry import merkle
from certgen.registry.chain import iso
from certgen.registry.state import is_state, seal_sha256, state_digest

from .log_source import MAX_RESPONSE, LogSource, LogUnavailable, b64, entry_problem
from .report import Check, Reason, StatusInfo

# -- the witness ------------------------------------------------------------------------------

class AuditOutcome(str, enum.Enum):
    """What `certverify log audit` found; each has its exit code (docs/registry.md)."""

    FIRST = "first"  # no earlier state: accepted (trust on first use)
    UNCHANGED = "unchanged"
    EXTENDED = "extended"  # a larger tree, proven consistent
    UNAVAILABLE = "unavailable"  # the log could not be read, or answered garbage
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    ROLLBACK = "rollback"
    TRUNCATED = "truncated"  # the checkpoint stands, but the log no longer holds its last event
    FORK = "fork"

    @property
    def exit_code(self) -> int:
        return {AuditOutcome.FIRST: 0, AuditOutcome.UNCHANGED: 0, AuditOutcome.EXTENDED: 0,
                AuditOutcome.UNAVAILABLE: 1, AuditOutcome.BAD_SIGNATURE: 3, AuditOutcome.UNKNOWN_KEY: 3,
                AuditOutcome.ROLLBACK: 4, AuditOutcome.TRUNCATED: 4, AuditOutcome.FORK: 5}[self]


@dataclass(frozen=True)
class AuditResult:
    outcome: AuditOutcome
    detail: str
    previous: TreeHead | None = None
    current: TreeHead | None = None
    evidence: Path | None = None  # the rejected checkpoint, kept in the state folder

    @property
    def ok(self) -> bool:
        return self.outcome.exit_code == 0

    def to_json(self) -> dict[str, Any]:
        def head(h: TreeHead | None) -> dict[str, Any] | None:
            return None if h is None else {"origin": h.origin, "size": h.size, "root": b64(h.root), "time": iso(h.time)}
        return {"format": "certverify-log-audit/1", "outcome": self.outcome.value, "ok": self.ok, "detail": self.detail,
                "previous": head(self.previous), "current": head(self.current),
                "evidence": str(self.evidence) if self.evidence else None}


STATE_FILE = "checkpoint"
#: How a hostile or broken answer fails when its fields are read: named, never a traceback.
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, OverflowError, LogUnavailable)


def audit(source: LogSource, keys: Sequence[LogKey], state: Path, *, peers: Sequence[tuple[str, bytes]] = (),
          now: datetime | None = None) -> AuditResult:
    """Fetch the log's latest checkpoint and judge it against the one accepted last time (kept
    in `state`) and against the checkpoints other witnesses kept (`peers`: (name, text)); the
    new one becomes the state only when it is accepted."""
    previous = None
    try:
        state.mkdir(parents=True, exist_ok=True)
        if (state / STATE_FILE).exists():
            previous = parse_tree_head((state / STATE_FILE).read_bytes())[0]
    except (OSError, CheckpointError) as exc:
        return AuditResult(AuditOutcome.UNAVAILABLE, f"{state / STATE_FILE}: the auditor's state is unreadable ({exc})")
    try:
        text = source.checkpoint()
    except LogUnavailable as exc:
        if exc.reason == "no_checkpoint" and previous is not None:
            return AuditResult(AuditOutcome.ROLLBACK, f"the log has no checkpoint any more, but one of {previous.size} events "
                                                      "was accepted before: a rollback", previous)
        return AuditResult(AuditOutcome.UNAVAILABLE, str(exc), previous)
    try:
        current = open_tree_head(text, keys).head
    except CheckpointError as exc:
        outcome = {CheckpointProblem.UNKNOWN_KEY: AuditOutcome.UNKNOWN_KEY,
                   CheckpointProblem.BAD_SIGNATURE: AuditOutcome.BAD_SIGNATURE}.get(exc.problem, AuditOutcome.UNAVAILABLE)
        return AuditResult(outcome, str(exc), previous, None, _evidence(state, outcome, text, now))
    verdict = _tail(source, current) or _against_kept(source, previous, current)
    for name, peer_text in peers:
        if verdict[0].exit_code:
            break
        verdict = _against_peer(source, keys, name, peer_text, current) or verdict
    outcome, detail = verdict
    if outcome.exit_code:
        evidence = _evidence(state, outcome, text, now) if outcome is not AuditOutcome.UNAVAILABLE else None
        return AuditResult(outcome, detail, previous, current, evidence)
    if outcome is not AuditOutcome.UNCHANGED:
        _save(state, text)
    return AuditResult(outcome, detail, previous, current)


def _against_kept(source: LogSource, previous: TreeHead | None, current: TreeHead) -> tuple[AuditOutcome, str]:
    if previous is None:
        return AuditOutcome.FIRST, f"first checkpoint accepted: {current.size} events"
    if current.origin != previous.origin:
        return AuditOutcome.UNAVAILABLE, f"this is the log {current.origin!r}; the state folder follows {previous.origin!r}"
    if current.size < previous.size:
        return AuditOutcome.ROLLBACK, f"the log shrank from {previous.size} to {current.size} events: a rollback"
    if current.size == previous.size:
        if current.root != previous.root:
            return AuditOutcome.FORK, f"two different trees of {current.size} events are signed: a fork"
        return AuditOutcome.UNCHANGED, f"unchanged: {current.size} events"
    try:
        proof = source.consistency(previous.size, current.size)
    except LogUnavailable as exc:
        return AuditOutcome.UNAVAILABLE, f"no consistency proof from {previous.size} to {current.size}: {exc}"
    if not merkle.verify_consistency(previous.size, current.size, previous.root, current.root, proof):
        return AuditOutcome.FORK, (f"the tree of {current.size} events does not extend the tree of {previous.size} "
                                   "accepted before (the consistency proof fails): a fork")
    return AuditOutcome.EXTENDED, f"consistent: {previous.size} -> {current.size} events"


def _against_peer(source: LogSource, keys: Sequence[LogKey], name: str, text: bytes,
                  current: TreeHead) -> tuple[AuditOutcome, str] | None:
    """Gossip: is the checkpoint another witness kept a view of the same tree as ours? None if so."""
    try:
        peer = open_tree_head(text, keys).head
    except CheckpointError as exc:
        return AuditOutcome.UNAVAILABLE, f"peer checkpoint {name}: {exc}"
    if peer.origin != current.origin:
        return AuditOutcome.UNAVAILABLE, f"peer checkpoint {name} is of the log {peer.origin!r}, not {current.origin!r}"
    try:
        consistent = views_agree(source, peer, current)
    except LogUnavailable as exc:
        return AuditOutcome.UNAVAILABLE, f"no consistency proof between {peer.size} and {current.size} (peer {name}): {exc}"
    if not consistent:
        return AuditOutcome.FORK, (f"the log shows this witness a tree of {current.size} events that is not consistent "
                                   f"with the tree of {peer.size} events peer {name} kept: a split view (fork)")
    return None


def views_agree(source: LogSource, a: TreeHead, b: TreeHead) -> bool:
    """Are two signed tree heads views of one append-only log? (Same size: same root; else the
    smaller's tree is proven a prefix of the larger's.) Raises LogUnavailable without a proof."""
    small, large = sorted((a, b), key=lambda h: h.size)
    if small.size == large.size:
        return small.root == large.root
    proof = source.consistency(small.size, large.size)
    return merkle.verify_consistency(small.size, large.size, small.root, large.root, proof)


def _tail(source: LogSource, head: TreeHead) -> tuple[AuditOutcome, str] | None:
    """Does the log still hold the last event its checkpoint signs? (A log cut short below its
    checkpoint shows nothing wrong in the checkpoint itself.)"""
    if head.size == 0:
        return None
    try:
        doc = source.entry(head.size - 1)
    except LogUnavailable as exc:
        if exc.reason == "truncated":
            return AuditOutcome.TRUNCATED, str(exc)
        return AuditOutcome.UNAVAILABLE, f"the last event of the checkpoint cannot be read: {exc}"
    try:
        problem = entry_problem(doc, head)
        if problem is None:
            return None
        return AuditOutcome.FORK, f"event {head.size} as the log serves it now is not the one its checkpoint signs: {problem}"
    except _MALFORMED as exc:
        return AuditOutcome.UNAVAILABLE, f"the log's answer for event {head.size} is malformed ({type(exc).__name__}: {exc})"


def _save(state: Path, text: bytes | str) -> None:
    data = text.encode() if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(dir=state, prefix=".checkpoint.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, state / STATE_FILE)


def _evidence(state: Path, outcome: AuditOutcome, text: bytes | str, now: datetime | None) -> Path:
    """Keep what was rejected: with the accepted checkpoint, two signed notes prove a fork."""
    moment = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")
    folder = state / "evidence"
    folder.mkdir(exist_ok=True)
    path = folder / f"{outcome.value}-{moment}.txt"
    path.write_bytes(text.encode() if isinstance(text, str) else text[:MAX_RESPONSE])
    return path


# -- inclusion of a certificate's latest event ------------------------------------------------

#: The stored status an event leaves its certificate in, and the public statuses it allows.
_SHOWN = {"active": {"valid", "expired"}, "suspended": {"suspended", "expired"}, "withdrawn": {"withdrawn"},
          "replaced": {"replaced"}}


def _state_differs(state: dict[str, Any], certificate: StatusInfo | None) -> str | None:
    """The first field the registry shows that the logged state does not say, or None."""
    if certificate is None:
        return None
    shown = {"holder": certificate.holder, "scheme": certificate.scheme,
             "kind": str(getattr(certificate.kind, "value", certificate.kind)),
             "granted": certificate.granted.isoformat() if certificate.granted else None,
             "expires": certificate.expires.isoformat() if certificate.expires else None,
             "pdf_sha256": certificate.pdf_sha256, "status_reason": certificate.status_reason,
             "replaced_by": certificate.replaced_by}
    for key, value in shown.items():
        if key in state and value is not None and state[key] != value:
            return f"another {key.replace('_', ' ')}"
    if certificate.seal is not None and state.get("seal_sha256") not in (None, seal_sha256(certificate.seal)):
        return "another seal"
    return None


def _shown(certificate: StatusInfo) -> str:
    """The public status as its plain value (an enum member, or a string from older callers)."""
    return str(getattr(certificate.status, "value", certificate.status))


class LogInclusion:
    """The `log_inclusion` check of a verification report (`Verifier.log`)."""

    def __init__(self, source: LogSource, keys: Sequence[LogKey], kept: TreeHead | None = None) -> None:
        self.source = source
        self.keys = tuple(keys)
        #: A checkpoint a witness kept (`--log-state`): the proof's checkpoint must be consistent
        #: with it, so the log cannot show this verifier a tree the witnesses never saw.
        self.kept = kept

    def check(self, number: str, certificate: StatusInfo | None) -> Check:
        name = "log_inclusion"
        if not self.keys:
            return Check.indeterminate(name, Reason.LOG_CHECKPOINT_UNTRUSTED, "the trust list names no log key")
        try:
            doc = self.source.proof(number)
        except LogUnavailable as exc:
            reason = Reason.LOG_NOT_CHECKPOINTED if exc.reason == "not_checkpointed" else Reason.LOG_UNAVAILABLE
            if exc.reason == "not_in_registry" and certificate is not None and _shown(certificate) != "pending":
                return Check.failed(name, Reason.LOG_INCLUSION_FAILED, f"the registry shows {number}, but its log has no event for it")
            return Check.indeterminate(name, reason, f"inclusion not proven: {exc}")
        try:
            return self._judge(number, doc, certificate)
        except _MALFORMED as exc:
            return Check.failed(name, Reason.LOG_INCLUSION_FAILED, f"the inclusion proof is malformed ({type(exc).__name__}: {exc})")

    def _judge(self, number: str, doc: dict[str, Any], certificate: StatusInfo | None) -> Check:
        name = "log_inclusion"
        try:
            head = open_tree_head(str(doc["checkpoint"]), self.keys).head
        except CheckpointError as exc:
            return Check.failed(name, Reason.LOG_CHECKPOINT_UNTRUSTED, f"the log's checkpoint is not trusted: {exc}")
        if self.kept is not None:
            try:
                agree = views_agree(self.source, self.kept, head)
            except LogUnavailable as exc:
                return Check.indeterminate(name, Reason.LOG_UNAVAILABLE, f"inclusion not proven: no consistency proof "
                                                                         f"with the witness's checkpoint ({exc})")
            if not agree:
                return Check.failed(name, Reason.LOG_INCLUSION_FAILED,
                                    f"the log's checkpoint of {head.size} events is not consistent with the checkpoint of "
                                    f"{self.kept.size} events the witness kept: a fork")
        event, index, size = doc["event"], int(doc["leaf_index"]), int(doc["tree_size"])
        if event["number"] != number:
            return Check.failed(name, Reason.LOG_INCLUSION_FAILED, f"the event offered as {number}'s latest is about {event['number']}")
        problem = entry_problem(doc, head)
        if problem is not None:
            return Check.failed(name, Reason.LOG_INCLUSION_FAILED, f"{number}: {problem}")
        data = dict(event["data"] or {})
        state = data.get("state") if isinstance(data.get("state"), dict) else None
        row = doc.get("state")
        if row is not None and "state_sha256" in data:  # the row the registry holds now, by the event's digest
            if not is_state(row) or row["number"] != number:
                return Check.failed(name, Reason.LOG_INCLUSION_FAILED, f"the registry's state of {number} is malformed")
            if state_digest(row) != data["state_sha256"]:
                return Check.failed(name, Reason.LOG_INCLUSION_FAILED,
                                    f"the registry's row of {number} is not the state its latest logged event "
                                    f"({event['type']}, event {index + 1}) commits to: it was changed behind the log")
            state = row
        if state is not None:  # issue and attest events carry the whole state (docs/registry.md)
            stored = state.get("status")
            differs = _state_differs(state, certificate)
            if differs:
                return Check.failed(name, Reason.LOG_INCLUSION_FAILED,
                                    f"the registry shows {number} with {differs}, but its latest logged event "
                                    f"({event['type']}, event {index + 1}) says otherwise")
        else:
            stored = "active" if event["type"] == "issue" else data.get("to")
        if certificate is not None and _shown(certificate) not in _SHOWN.get(stored, set()):
            return Check.failed(name, Reason.LOG_INCLUSION_FAILED,
                                f"the registry shows {number} as {_shown(certificate)}, but its latest logged event "
                                f"({event['type']}, event {index + 1}) leaves it {stored}")
        return Check.passed(name, Reason.LOG_INCLUSION_PROVEN,
                            f"the latest event of {number} ({event['type']}, event {index + 1}) is in the log's checkpoint "
                            f"of {size} events signed {head.time:%Y-%m-%d %H:%M}Z")
