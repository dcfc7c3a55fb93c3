"""Discard a pending successor that can no longer be issued (docs/lifecycle.md, "Discarding").

A successor (correction or renewal) is recorded pending before its files are drawn; it turns
active only in the transaction that marks its predecessor replaced. When the predecessor is
withdrawn (or suspended, or replaced by another) meanwhile, the successor can never be issued
as it is. `discard_successor` ends it for good, in one transaction under the writers' lock:

* its status becomes `withdrawn`, its reason `discarded before issue: REASON`: its number, and
  any file drawn for it, verify WITHDRAWN, never VALID;
* its batch key is released (set to null), so a new correction or renewal of an active
  predecessor can be started again instead of meeting "already has a pending successor";
* a `discard` event carries the full state after it (state.py), so `certgen log --verify` names
  a discarded row edited behind the log's back, and an issue after a discard.

Only a pending row whose record names what it replaces (a successor) is discarded here: a
pending row of an ordinary batch is finished by rerunning its input.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import TransitionError
from ..model import EventType, Status
from ..numbers import parse_number
from .repository import Certificate, Registry, _append, _certificate
from .state import certificate_state, state_digest
from .succession import replacement_of

#: The prefix of a discarded successor's status reason (also what `mark_issued_many` reads).
DISCARDED = "discarded before issue"


def discard_successor(registry: Registry, number: str, *, reason: str, now: datetime, actor: str) -> Certificate:
    """Withdraw the pending successor `number` before issue (see the module doc); refuses
    anything that is not a pending successor, naming why."""
    if not reason or not reason.strip():
        raise TransitionError(f"a reason is required to discard {number}")
    canonical = str(parse_number(number))
    with registry._write() as (session, head):
        row = registry._row(session, canonical)
        replacement = replacement_of(row.record)
        if row.status != Status.PENDING.value:
            what = "issued" if row.issued_at is not None else row.status
            raise TransitionError(f"{canonical} is {what}, not a pending successor: only a successor that was never "
                                  f"issued is discarded (withdraw an issued certificate instead)")
        if replacement is None:
            raise TransitionError(f"{canonical} is pending but replaces nothing: it is a row of an ordinary batch; "
                                  "rerun that batch's input to finish it")
        text = f"{DISCARDED} (successor of {replacement.number}): {reason.strip()}"
        row.status = Status.WITHDRAWN.value
        row.status_reason = text
        row.status_changed_at = now
        row.batch_key = None
        state = certificate_state(row)
        data = {"from": Status.PENDING.value, "to": Status.WITHDRAWN.value, "replaces": replacement.number,
                "state": state, "state_sha256": state_digest(state)}
        _append(session, head, EventType.DISCARD, canonical, actor, text, data, now)
        return _certificate(row)


__all__ = ["DISCARDED", "discard_successor"]
