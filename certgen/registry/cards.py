"""Card editions in the registry: record a reprint of a certified-person card (pure SQL, no drawing).

A reprint is one transaction: the certificate row gets the new edition, its card seal and the
new card file's SHA-256, and a `reprint` event carries the full state after it (state.py), so
`certgen log --verify` names an edition, a card seal or a card digest edited behind the log's back.
The edition is checked against the row's under the writers' lock: two reprints racing for the
same card cannot both print edition N (the second is refused and prints nothing).

A reprint is finished when its card file is written: `record_card_written` then appends a
`card_written` event (no state change; it commits to the state as it stands). Whether the
current edition's file was written is therefore read from the log (`reprint_finished`), never
from the folder: a card file deleted or moved after a finished reprint does not turn the next
reprint into a rewrite of the same (perhaps lost) edition.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..errors import TransitionError
from ..model import DocumentKind, EventType, Status
from ..numbers import parse_number
from ..seal import MAX_EDITION
from .lifecycle import is_expired
from .repository import Certificate, Registry, _append, _certificate
from .state import certificate_state, state_digest
from .tables import EventRow

#: Why a card is reprinted (recorded in the event; docs/issuing.md, "Card editions").
REPRINT_REASONS = ("lost", "damaged", "correction")
#: The `reprint` event's data key saying a `card_written` event follows once the file is written
#: (reprints recorded before it existed have no such key: `reprint_finished` reads them as finished).
AWAITS = "awaits"


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
    if current_edition(cert) >= MAX_EDITION:
        return (f"{cert.number}: its card is at edition {current_edition(cert)}, the last one a card seal can name "
                f"(1 to {MAX_EDITION}, docs/seal.md): it cannot be reprinted again; correct or renew the certificate "
                f"(its successor's card starts again at edition 1)")
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
        data = {"edition": edition, "from": edition - 1, AWAITS: EventType.CARD_WRITTEN.value, "state": state,
                "state_sha256": state_digest(state)}
        _append(session, head, EventType.REPRINT, canonical, actor, reason, data, now)
        return _certificate(row)


def reprint_finished(registry: Registry, number: str) -> bool:
    """Whether the registry's current card edition of `number` is written (see the module doc).

    True for a card never reprinted, for a reprint followed by its `card_written` event, and for
    a reprint recorded before those events existed (then the next reprint takes a new edition:
    the safe side, it supersedes the recorded one). False only for a reprint of the current
    edition that announced a `card_written` event not yet appended: a crash between recording
    and writing."""
    canonical = str(parse_number(number))
    query = (select(EventRow.type, EventRow.data).where(
        EventRow.number == canonical, EventRow.type.in_([EventType.REPRINT.value, EventType.CARD_WRITTEN.value]))
        .order_by(EventRow.seq.desc()).limit(1))
    with registry._read() as session, session.begin():
        latest = session.execute(query).first()
    if latest is None or latest.type != EventType.REPRINT.value:
        return True
    data = latest.data if isinstance(latest.data, dict) else {}
    return data.get(AWAITS) != EventType.CARD_WRITTEN.value


def record_card_written(registry: Registry, number: str, *, edition: int, card_sha256: str, now: datetime,
                        actor: str) -> bool:
    """Append the `card_written` event of `edition` (its file, of digest `card_sha256`, is on
    disk), unless the registry holds another edition or digest by now (False: nothing appended)
    or the event is there already (True). Changes no column: the event commits to the state."""
    canonical = str(parse_number(number))
    with registry._write() as (session, head):
        row = registry._row(session, canonical)
        if row.card_edition != edition or row.card_sha256 != card_sha256:
            return False
        latest = session.execute(select(EventRow.type).where(
            EventRow.number == canonical, EventRow.type.in_([EventType.REPRINT.value, EventType.CARD_WRITTEN.value]))
            .order_by(EventRow.seq.desc()).limit(1)).scalar()
        if latest == EventType.CARD_WRITTEN.value:
            return True
        state = certificate_state(row)
        data = {"edition": edition, "card_sha256": card_sha256, "state_sha256": state_digest(state)}
        _append(session, head, EventType.CARD_WRITTEN, canonical, actor, None, data, now)
        return True


def card_editions(registry: Registry) -> list[tuple[str, int, str | None]]:
    """(number, current edition, SHA-256 of its card seal) of every card reprinted at least once,
    by number: the cards of `/api/v1/status-list` (an edition absent from it is edition 1). The
    values are the log's full state's `card_edition` and `card_seal_sha256` (state.py)."""
    from .state import seal_sha256
    from .tables import CertificateRow

    query = (select(CertificateRow.number, CertificateRow.card_edition, CertificateRow.card_seal)
             .where(CertificateRow.card_edition >= 2).order_by(CertificateRow.number))
    with registry._read() as session, session.begin():
        return [(number, int(edition), seal_sha256(seal)) for number, edition, seal in session.execute(query)]
