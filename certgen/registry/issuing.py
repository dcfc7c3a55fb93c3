"""A batch group marked issued with Core statements: the registry's cost in the batch process.

`Registry.mark_issued_many` records each group of a batch: every certificate's row set active
with its digests, seals and signer, and an `issue` event carrying its full state, chained to the
one before. Done with ORM objects it cost about half a millisecond of the batch process's CPU a
certificate (attribute instrumentation and the unit of work), which on a two-core host runs
beside the two workers. Here the rows are read, checked and changed as plain mappings, and
written with one `UPDATE` and one `INSERT` of many parameter sets: the same rows, the same
events and hashes (tests/test_registry_issuing.py compares both ways). Successors (a record
naming what it replaces) take the ORM way, which also marks the old certificate replaced."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from ..errors import NotFoundError, SuccessorDiscarded, TransitionError
from ..model import EventType, Status
from .chain import event_hash
from .state import certificate_state, state_digest
from .succession import replacement_of
from .tables import CertificateRow, ChainHeadRow, EventRow

_CERTIFICATES = CertificateRow.__table__
_EVENTS = EventRow.__table__
_SET = ("status", "status_changed_at", "issued_at", "pdf_sha256", "card_sha256", "seal", "dsc_kid", "card_edition",
        "card_seal")
_UPDATE = (update(_CERTIFICATES).where(_CERTIFICATES.c.number == bindparam("b_number"))
           .values({name: bindparam(f"b_{name}") for name in _SET}))


def mark_issued_core(session: Session, head: ChainHeadRow, issued: Sequence[Any], *, dsc_kid: str, now: datetime,
                     actor: str, salt: Any) -> list[dict[str, Any]] | None:
    """Mark `issued` (items with number, pdf_sha256, card_sha256, seal, card_seal) issued in the
    open transaction; returns the rows as they now are, or None, having written nothing, when
    one of them is a successor (the caller's ORM way). Refuses as `mark_issued_many` does."""
    numbers = [item.number for item in issued]
    rows = {r["number"]: dict(r) for r in session.execute(select(_CERTIFICATES)
                                                          .where(_CERTIFICATES.c.number.in_(numbers))).mappings()}
    out: list[dict[str, Any]] = []
    for item in issued:
        row = rows.get(item.number)
        if row is None:
            raise NotFoundError(f"{item.number} is not in the registry")
        if replacement_of(row["record"]) is not None:
            return None
        if row["status"] == Status.WITHDRAWN.value and row["issued_at"] is None:  # certgen discard
            raise SuccessorDiscarded(f"{item.number} was not issued: it was discarded ({row['status_reason']})")
        if row["status"] != Status.PENDING.value:
            raise TransitionError(f"{item.number} is {row['status']}, not pending; it cannot be issued again")
        row.update(status=Status.ACTIVE.value, status_changed_at=now, issued_at=now, pdf_sha256=item.pdf_sha256,
                   card_sha256=item.card_sha256, seal=item.seal, dsc_kid=dsc_kid)
        if item.card_seal is not None:
            row.update(card_edition=1, card_seal=item.card_seal)
        out.append(row)
    events = []
    seq, previous = head.seq, head.hash
    for row in out:
        state = certificate_state(row)  # the whole row after issuance (docs/registry.md)
        data = {"state": state, "state_sha256": state_digest(state)}
        seq += 1
        actor_salt = salt()
        digest = event_hash(previous, seq=seq, at=now, type=EventType.ISSUE.value, number=row["number"], actor=actor,
                            reason=None, data=data, actor_salt=actor_salt)
        events.append({"seq": seq, "at": now, "type": EventType.ISSUE.value, "number": row["number"], "actor": actor,
                       "reason": None, "data": data, "prev_hash": previous, "hash": digest, "actor_salt": actor_salt})
        previous = digest
    if out:
        session.execute(_UPDATE, [{"b_number": row["number"], **{f"b_{name}": row[name] for name in _SET}}
                                  for row in out])
        session.execute(insert(_EVENTS), events)
        head.seq, head.hash = seq, previous
    return out
