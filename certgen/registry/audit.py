"""The auditor's check of the registry: is the history intact, and does the present agree with it?

Checked, in order: the event chain (sequence without gaps, each `prev_hash` linking, each hash
recomputed), the chain head (a truncated log is caught), every signed checkpoint (signature by
a trusted key not revoked at that time, and the hash it signed still in the chain), and every
certificate (an issue event for each issued one, the record digest it pinned, and the status
its events lead to). The first problem is the "first break".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from ..crypto import Alg, key_id, verify_bytes
from ..model import EventType, Status
from ..trust import TrustList
from .chain import GENESIS, checkpoint_message, event_hash, record_digest
from .repository import Registry


@dataclass(frozen=True)
class LogProblem:
    """One thing that does not check out; `where` names the event, checkpoint or certificate."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass(frozen=True)
class LogReport:
    events: int
    checkpoints: int
    certificates: int
    problems: list[LogProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_break(self) -> LogProblem | None:
        return self.problems[0] if self.problems else None


def verify_log(registry: Registry, trust: TrustList, root: x509.Certificate | None = None) -> LogReport:
    """Check the whole registry; returns every problem found, in log order."""
    problems: list[LogProblem] = []
    hashes: dict[int, str] = {}
    replay: dict[str, dict[str, Any]] = {}
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for ev in registry.iter_events():
        count += 1
        where = f"event {ev.seq}"
        if ev.seq != expected_seq:
            problems.append(LogProblem(where, f"sequence jumps from {expected_seq - 1} to {ev.seq}: events are missing"))
        if ev.prev_hash != prev_hash:
            problems.append(LogProblem(where, "does not link to the event before it (prev_hash differs): the log was rewritten"))
        recomputed = event_hash(ev.prev_hash, seq=ev.seq, at=ev.at, type=ev.type.value, number=ev.number,
                                actor=ev.actor, reason=ev.reason, data=ev.data)
        if recomputed != ev.hash:
            problems.append(LogProblem(where, f"content does not match its hash ({ev.type.value} of {ev.number} was altered)"))
        hashes[ev.seq] = ev.hash
        prev_hash, expected_seq = ev.hash, ev.seq + 1
        if ev.type.about_certificate:  # applications and complaints: certgen.service.log checks them
            _replay(replay, ev)
    head_seq, head_hash = registry.head()
    if head_seq != expected_seq - 1 or head_hash != prev_hash:
        problems.append(LogProblem("chain head", f"records event {head_seq}, but the log ends at event {expected_seq - 1}: events were removed or added behind the chain's back"))

    checkpoints = registry.checkpoints()
    for cp in checkpoints:
        problems.extend(_check_checkpoint(cp, hashes, trust, root))

    certificates = 0
    for cert in registry.iter_certificates():
        certificates += 1
        where = f"certificate {cert.number}"
        state = replay.pop(cert.number, None)
        if cert.status is Status.PENDING:
            if state is not None:
                problems.append(LogProblem(where, "is pending, but the log has events for it"))
            continue
        if state is None or not state["issued"]:
            problems.append(LogProblem(where, f"is {cert.status.value}, but the log has no issue event for it"))
            continue
        if state["record_sha256"] != record_digest(cert.record):
            problems.append(LogProblem(where, "record differs from the one recorded when it was issued"))
        if state["pdf_sha256"] != cert.pdf_sha256:
            problems.append(LogProblem(where, "PDF digest differs from the one recorded when it was issued"))
        if state["status"] != cert.status.value:
            problems.append(LogProblem(where, f"status is {cert.status.value}, but its events lead to {state['status']}"))
        if state["replaced_by"] != cert.replaced_by:
            problems.append(LogProblem(where, f"successor is {cert.replaced_by}, but its events name {state['replaced_by']}"))
    for number in replay:
        problems.append(LogProblem(f"certificate {number}", "has events in the log but no record: it was deleted"))
    return LogReport(count, len(checkpoints), certificates, problems)


def _replay(replay: dict[str, dict[str, Any]], ev: Any) -> None:
    state = replay.setdefault(ev.number, {"issued": False, "status": None, "record_sha256": None,
                                          "pdf_sha256": None, "replaced_by": None})
    if ev.type is EventType.ISSUE:
        state.update(issued=True, status=Status.ACTIVE.value, record_sha256=ev.data.get("record_sha256"),
                     pdf_sha256=ev.data.get("pdf_sha256"))
    else:
        state["status"] = ev.data.get("to")
        if ev.type is EventType.REPLACE:
            state["replaced_by"] = ev.data.get("successor")


def _check_checkpoint(cp: Any, hashes: dict[int, str], trust: TrustList, root: x509.Certificate | None) -> list[LogProblem]:
    where = f"checkpoint {cp.id} (event {cp.seq})"
    kid = bytes.fromhex(cp.kid)
    signer = trust.get(kid)
    cert = signer.certificate if signer else (root if root is not None and key_id(root) == kid else None)
    if cert is None:
        return [LogProblem(where, f"signed by key {cp.kid}, which is neither in the trust list nor the root")]
    if signer is not None:
        problem = signer.problem_at(cp.at)
        if problem is not None:
            return [LogProblem(where, f"signed by key {cp.kid} at {cp.at:%Y-%m-%d %H:%M}Z, when it was not trusted ({problem.value})")]
    try:
        alg = Alg.from_jose_name(cp.alg)
    except ValueError:
        return [LogProblem(where, f"unknown signature algorithm {cp.alg!r}")]
    if not verify_bytes(cert.public_key(), alg, checkpoint_message(cp.seq, cp.hash, cp.at), cp.signature):  # type: ignore[arg-type]
        return [LogProblem(where, "signature does not verify: the checkpoint was altered")]
    if cp.seq == 0:
        return [] if cp.hash == GENESIS else [LogProblem(where, "signs an empty log with a non-genesis hash")]
    if cp.seq not in hashes:
        return [LogProblem(where, f"signed event {cp.seq}, which is no longer in the log: the log was truncated")]
    if hashes[cp.seq] != cp.hash:
        return [LogProblem(where, f"signed a different hash for event {cp.seq}: the history before it was rewritten")]
    return []
