"""The auditor's check of the registry: is the history intact, and does the present agree with it?

Over one snapshot of the database, streaming (`history`): the event chain (sequence without
gaps, each `prev_hash` linking, each hash recomputed, each type known, moved events named), the
chain head (a truncated log is caught), every signed checkpoint (signature by a trusted key not
revoked at that time, and the hash it signed still in the chain), the checks plugged in by the
caller (`extra_checks`, e.g. signed tree heads kept outside the database), every subject of the
log (each certificate row rebuilt from its events and compared column by column; rows without
history; histories without a row), and the number series (every allocated number has its row).
Problems come in that order; the first is the "first break".
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from cryptography import x509

from ..crypto import Alg, key_id, verify_bytes
from ..trust import TrustList
from .chain import GENESIS, checkpoint_message
from .findings import LogProblem, safe, show
from .history import CERTIFICATES, SUBJECTS, Subject, check_chain, check_head, check_subject, known_types
from .reader import LogReader, RawCheckpoint
from .repository import Registry

__all__ = ["ExtraCheck", "LogFacts", "LogProblem", "LogReport", "verify_certificate", "verify_log"]


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


@dataclass(frozen=True)
class LogFacts:
    """What the chain pass established, handed to every extra check."""

    registry: Registry
    #: The snapshot the audit reads (its transaction is open while the extra checks run).
    reader: LogReader
    #: Events read, and the sequence number and hash of the last one.
    events: int
    last_seq: int
    last_hash: str


#: A check plugged into `verify_log`: returns its problems (an exception becomes one).
ExtraCheck = Callable[[LogFacts], Iterable[LogProblem]]


def verify_log(registry: Registry, trust: TrustList, root: x509.Certificate | None = None, *,
               extra_checks: Sequence[ExtraCheck] = (), subjects: Sequence[Subject] | None = None) -> LogReport:
    """Check the whole registry; returns every problem found (see the module docstring)."""
    subjects = SUBJECTS if subjects is None else subjects
    problems: list[LogProblem] = []
    with registry.snapshot() as reader:
        checkpoints = reader.checkpoints()
        chain = check_chain(reader, keep={cp.seq for cp in checkpoints if isinstance(cp.seq, int)},
                            types=known_types(subjects))
        problems.extend(chain.problems)
        problems.extend(check_head(reader.head(), chain.last_seq, chain.last_hash))
        for cp in checkpoints:
            problems.extend(_check_checkpoint(cp, chain.hashes, trust, root))
        facts = LogFacts(registry, reader, chain.events, chain.last_seq, chain.last_hash)
        for check in extra_checks:
            problems.extend(_run_extra(check, facts))
        rows = 0
        for subject in subjects:
            result = check_subject(reader, subject)
            problems.extend(result.problems)
            if subject.name == "certificate":
                rows = result.rows
        problems.extend(check_number_series(reader))
    return LogReport(chain.events, len(checkpoints), rows, problems)


def verify_certificate(registry: Registry, number: str) -> list[LogProblem]:
    """One certificate's row against its own history (its events replayed), without the rest
    of the log: cheap enough for a look-up. Whether those events are themselves untouched is the
    chain's and the signed tree heads' business (`verify_log`, inclusion proofs)."""
    with registry.snapshot() as reader:
        row = reader.certificate(number)
        events = reader.events_of(number, CERTIFICATES.event_types)
    history = CERTIFICATES.replay(number, events) if events else None
    problems = list(history.problems) if history else []
    if row is None:
        if events:
            problems.append(LogProblem(f"certificate {safe(number)}", "has events in the log but no row: it was deleted",
                                       "history_without_row"))
        return problems
    return problems + CERTIFICATES.check(row, history)


def _run_extra(check: ExtraCheck, facts: LogFacts) -> list[LogProblem]:
    name = getattr(check, "__name__", type(check).__name__)
    try:
        with facts.reader.conn.begin_nested():  # a failed statement of its own must not end the snapshot
            return list(check(facts))
    except Exception as exc:  # a plugged-in check fails in its own ways: a problem, not a traceback
        return [LogProblem(f"check {safe(name)}", f"could not run: {safe(exc)}", "check_failed")]


def _check_checkpoint(cp: RawCheckpoint, hashes: dict[int, str], trust: TrustList,
                      root: x509.Certificate | None) -> list[LogProblem]:
    where = f"checkpoint {safe(cp.id)} (event {safe(cp.seq)})"
    try:
        kid = bytes.fromhex(str(cp.kid))
        signature = base64.b64decode(str(cp.signature), validate=True)
    except (ValueError, binascii.Error):
        return [LogProblem(where, "has an unreadable key id or signature: the checkpoint was altered", "checkpoint_altered")]
    if not isinstance(cp.at, datetime) or not isinstance(cp.seq, int) or not isinstance(cp.hash, str):
        return [LogProblem(where, "has an unreadable time, event or hash: the checkpoint was altered", "checkpoint_altered")]
    signer = trust.get(kid)
    cert = signer.certificate if signer else (root if root is not None and key_id(root) == kid else None)
    if cert is None:
        return [LogProblem(where, f"signed by key {safe(cp.kid)}, which is neither in the trust list nor the root", "checkpoint_untrusted")]
    if signer is not None:
        problem = signer.problem_at(cp.at)
        if problem is not None:
            return [LogProblem(where, f"signed by key {safe(cp.kid)} at {cp.at:%Y-%m-%d %H:%M}Z, when it was not trusted "
                                      f"({problem.value})", "checkpoint_untrusted")]
    try:
        alg = Alg.from_jose_name(str(cp.alg))
    except ValueError:
        return [LogProblem(where, f"unknown signature algorithm {show(cp.alg)}", "checkpoint_altered")]
    if not verify_bytes(cert.public_key(), alg, checkpoint_message(cp.seq, cp.hash, cp.at), signature):  # type: ignore[arg-type]
        return [LogProblem(where, "signature does not verify: the checkpoint was altered", "checkpoint_altered")]
    if cp.seq == 0:
        return [] if cp.hash == GENESIS else [LogProblem(where, "signs an empty log with a non-genesis hash", "checkpoint_altered")]
    if cp.seq not in hashes:
        return [LogProblem(where, f"signed event {cp.seq}, which is no longer in the log: the log was truncated", "log_truncated")]
    if hashes[cp.seq] != cp.hash:
        return [LogProblem(where, f"signed a different hash for event {cp.seq}: the history before it was rewritten",
                           "history_rewritten")]
    return []


def check_number_series(reader: LogReader) -> list[LogProblem]:
    """Every number handed out has its row: numbers are allocated gap-free from `number_series`,
    so a missing serial is a deleted row (pending or issued), and a counter behind the highest
    serial would hand a number out twice."""
    problems: list[LogProblem] = []
    counters = reader.number_series()
    for series, year, rows, highest in sorted(reader.series_usage(), key=lambda r: (str(r[0]), str(r[1]))):
        where = f"number series {safe(series)}/{safe(year)}"
        last = counters.get((str(series), str(year)))
        if last is None:
            problems.append(LogProblem(where, f"has {rows} certificates but no counter row in number_series", "series_missing",
                                       "last_serial"))
            continue
        if not isinstance(last, int) or not isinstance(highest, int):
            problems.append(LogProblem(where, f"holds a serial that is not a number ({show(last)}, {show(highest)})",
                                       "series_garbled", "last_serial"))
            continue
        if last < highest:
            problems.append(LogProblem(where, f"counter is at {last}, but serial {highest} exists: the next numbers would be "
                                              "handed out twice", "series_behind", "last_serial"))
        elif rows < last:
            missing = _missing(reader.serials(series, year), last)
            problems.append(LogProblem(where, f"{last} numbers were handed out but {rows} rows exist: serial(s) {missing} "
                                              "were deleted", "series_gap"))
    return problems


def _missing(serials: Iterable[Any], last: int, limit: int = 10) -> str:
    found, expected = [], 1
    for serial in serials:
        if not isinstance(serial, int):
            continue
        while expected < serial and len(found) <= limit:
            found.append(expected)
            expected += 1
        expected = max(expected, serial + 1)
    while expected <= last and len(found) <= limit:
        found.append(expected)
        expected += 1
    shown = ", ".join(str(s) for s in found[:limit])
    return shown + (", ..." if len(found) > limit else "")
