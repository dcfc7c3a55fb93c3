"""Card editions in the registry: record a reprint of a certified-person card (pure SQL, no drawing).

A reprint is one transaction: the certificate row gets the new edition, its card seal and the
new card file's SHA-256, and a `reprint` event carries the full state after it (state.py), so
`certgen log --verify` names an edition, a card seal or a card digest edited behind the log's back.
The edition is checked against the row's under the writers' lock: two reprints racing for the
same card cannot both print edition N (the second is refused and prints nothing).
"""

from __future__ import annotations

from datetime import datetime

from ..errors import TransitionError
from ..model import DocumentKind, EventType, Status
from ..numbers import parse_number
from .lifecycle import is_expired
from .repository import Certificate, Registry, _append, _certificate
from .state import certificate_state, state_digest

#: Why a card is reprinted (recorded in the event; docs/issuing.md, "Card editions").
REPRINT_REASONS = ("lost", "damaged", "correction")


def current_edition(cert: Certificate) -> int:
    """The card edition the registry holds: cards printed before editions are edition 1."""
    return cert.card_edition or 1


def reprint_problem(cert: Certificate, now: datetime) -> str | None:
    """Why this certificate's card cannot be reprinted, or None."""
    if cert.kind is not DocumentKind.PERSON:
        return f"{cert.number} is a {cert.kind.value} certificate: only person certificates have a card"
    if cert.status is Status.REPLACED:
        return (f"{cert.number} was replaced by {cert.replaced_by}: print the successor's card "
                f"(a successor gets its own card, edition 1)")
    if cert.status is not Status.ACTIVE:
        reason = f" ({cert.status_reason})" if cert.status_reason else ""
        return f"{cert.number} is {cert.status.value}{reason}: its card cannot be reprinted"
    if is_expired(cert.expires, now):
        return f"{cert.number} expired on {cert.expires:%Y-%m-%d}: renew it instead of reprinting its card"
    if not cert.seal:
        return f"{cert.number} has no seal in the registry: it was never issued"
    return None


def record_reprint(registry: Registry, number: str, *, edition: int, seal: str, card_sha256: str, reason: str,
                   now: datetime, actor: str) -> Certificate:
    """Make `edition` the certificate's current card (the previous one must be `edition - 1`)."""
    if reason not in REPRINT_REASONS:
        raise TransitionError(f"reprint reason {reason!r} is not one of {', '.join(REPRINT_REASONS)}")
    canonical = str(parse_number(number))
    with registry._write() as (session, head):
        row = registry._row(session, canonical)
        cert = _certificate(row)
        problem = reprint_problem(cert, now)
        if problem is not None:
            raise TransitionError(problem)
        if current_edition(cert) != edition - 1:
            raise TransitionError(f"{canonical}: its card is at edition {current_edition(cert)} in the registry, so "
                                  f"edition {edition} cannot be recorded (another reprint ran meanwhile?)")
        row.card_edition, row.card_seal, row.card_sha256 = edition, seal, card_sha256
        state = certificate_state(row)
        data = {"edition": edition, "from": edition - 1, "state": state, "state_sha256": state_digest(state)}
        _append(session, head, EventType.REPRINT, canonical, actor, reason, data, now)
        return _certificate(row)
