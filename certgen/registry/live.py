"""What a web instance asks the registry to see changes at once (docs/deploy.md, "Changes live").

Two version numbers, read in one cheap query: the sequence number of the log's last event
(`chain_head.seq`: every status change, issue, replacement or reprint appends an event naming
its certificate number) and the id of the newest published trust list. When the first moves,
`changed_numbers` names the certificates whose cached results must go; when the second moves,
the web reads the newest trust list and checks it against the root (verify.live).

Trust lists are published here by the `certgen keys` commands that write them and by `certgen
trust publish`: the exact root-signed bytes, checked before they are stored, never one older
than the newest already published nor than the newest the log names; each with its `trustlist`
event in the same transaction (certgen.registry.trust_log), so the signed log covers it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from ..errors import TrustListError
from ..trust import TrustList
from . import trust_log
from .chain import iso
from .tables import TrustListRow

#: More events or distinct numbers than this since the last check: drop every cached result instead.
MAX_CHANGED_NUMBERS = 5000


@dataclass(frozen=True)
class Versions:
    """Where the registry stands: its last event, and its newest published trust list."""

    events: int
    #: Id of the newest published trust list; None when none is published (or the schema predates them).
    trust: int | None
    #: Sequence number of the newest `trustlist` event (certgen.registry.trust_log); None when the log names none.
    trust_logged: int | None = None


@dataclass(frozen=True)
class PublishedTrustList:
    id: int
    issued_at: datetime
    sha256: str
    data: bytes
    published_at: datetime
    actor: str


_VERSIONS = text("SELECT (SELECT seq FROM chain_head WHERE id = 1), (SELECT max(id) FROM trust_lists), "
                 f"(SELECT max(seq) FROM events WHERE number = '{trust_log.TRUST_KEY}')")
_EVENTS_ONLY = text("SELECT seq FROM chain_head WHERE id = 1")


def versions(registry) -> Versions:
    """Both versions in one round trip. A registry migrated before trust lists were published
    (no `trust_lists` table) still gives its event version, with no trust version."""
    try:
        with registry.engine.connect() as conn:
            events, trust, logged = conn.execute(_VERSIONS).one()
        return Versions(int(events), None if trust is None else int(trust), None if logged is None else int(logged))
    except Exception as first:
        with registry.engine.connect() as conn:
            try:
                # there but unreadable (no grant after the migration): never "none published"
                events = None if inspect(conn).has_table("trust_lists") else conn.execute(_EVENTS_ONLY).scalar_one()
            except Exception:
                events = None
        if events is None:
            raise first from None
        return Versions(int(events), None)


def changed_numbers(registry, after: int, upto: int, limit: int = MAX_CHANGED_NUMBERS) -> frozenset[str] | None:
    """The certificate numbers named by the events after `after` up to `upto`; None when there
    are more than `limit` events or numbers (then everything cached is dropped: cheaper than a
    list, and the query never reads more than `limit` events)."""
    if upto - after > limit:  # more events than that: never scan a long stretch of the log (a batch of 100,000)
        return None
    query = text("SELECT DISTINCT number FROM events WHERE seq > :after AND seq <= :upto LIMIT :limit")
    with registry.engine.connect() as conn:
        numbers = conn.execute(query, {"after": after, "upto": upto, "limit": limit + 1}).scalars().all()
    return None if len(numbers) > limit else frozenset(numbers)


def latest_trust_list(registry) -> PublishedTrustList | None:
    """The newest published trust list (highest id), unchecked: the reader checks it against its root."""
    with Session(registry.engine) as session, session.begin():
        row = session.execute(select(TrustListRow).order_by(TrustListRow.id.desc()).limit(1)).scalar_one_or_none()
        return _published(row) if row is not None else None


def publish_trust_list(registry, data: bytes, root: x509.Certificate, *, now: datetime,
                       actor: str) -> tuple[PublishedTrustList, bool]:
    """Store a root-signed trust list for the web instances; (the stored list, whether it is new).

    Refuses, naming why: a list that does not verify against `root`, and a list older than the
    newest one already published (a rollback would bring back a revoked key). The same list
    again is no change."""
    trust = TrustList.load_signed(data, root)
    try:
        stored = data.decode("ascii")
    except UnicodeDecodeError:
        raise TrustListError("the trust list is not the ASCII JSON that `certgen keys trustlist` writes") from None
    if trust.issued_at is None:  # pragma: no cover - load_signed always reads issued_at
        raise TrustListError("the trust list has no issue time")
    digest = hashlib.sha256(data).hexdigest()
    with registry._write() as (session, head):  # the writers' lock: publishers serialise like every other registry write
        same = session.execute(select(TrustListRow).where(TrustListRow.sha256 == digest)).scalar_one_or_none()
        newest = session.execute(select(TrustListRow).order_by(TrustListRow.id.desc()).limit(1)).scalar_one_or_none()
        if same is not None and newest is not None and same.id == newest.id:
            return _published(same), False
        if newest is not None and trust.issued_at <= newest.issued_at:
            raise TrustListError(f"the trust list issued at {_iso(trust.issued_at)} is not newer than the one published "
                                 f"on {_iso(newest.published_at)} (issued at {_iso(newest.issued_at)}): refusing to roll "
                                 "the web instances back to it; sign a new one (`certgen keys trustlist`)")
        logged = _logged_floor(session, root)
        if logged is not None and iso(trust.issued_at) <= logged:
            raise TrustListError(f"the trust list issued at {_iso(trust.issued_at)} is not newer than the newest one the log "
                                 f"names (issued at {logged}): refusing to roll the web instances back to it (were rows of "
                                 "trust_lists deleted? run `certgen log --verify`)")
        row = TrustListRow(issued_at=trust.issued_at, sha256=digest, data=stored, published_at=now,
                           actor=actor[:100])
        session.add(row)
        session.flush()
        trust_log.append_trust_event(session, head, row, now=now, actor=actor)  # the same transaction: under the log
        return _published(row), True


def latest_logged_trust_list(registry) -> "trust_log.LoggedTrustList | None":
    """The newest trust-list event of the log (its event carries the list), unchecked."""
    with registry.engine.connect() as conn:
        return trust_log.latest_logged(conn)


def logged_trust_lists(registry) -> "tuple[list[trust_log.LoggedTrustList], list[str]]":
    """Every trust list the log names, in log order, unchecked; and what is wrong with the
    events that carry no well-formed list."""
    with registry.engine.connect() as conn:
        return trust_log.read_lists(conn)


def _logged_floor(session: Session, root: x509.Certificate) -> str | None:
    """The latest signed issue time of the lists the log names. Only lists that check out count
    (digest, root signature, the issue time they name is the signed one): an event a database
    writer appended naming a far future time must not stop every later publication (a
    revocation). An older list logged after a newer one does not lower it."""
    times = []
    for logged in trust_log.read_lists(session.connection())[0]:
        try:
            if hashlib.sha256(logged.data).hexdigest() != logged.sha256:
                continue
            signed = TrustList.load_signed(logged.data, root).issued_at
        except TrustListError:
            continue
        if signed is not None and iso(signed) == logged.issued_at:
            times.append(logged.issued_at)
    return max(times, default=None)


def count_trust_lists(registry) -> int:
    with Session(registry.engine) as session, session.begin():
        return int(session.execute(select(func.count()).select_from(TrustListRow)).scalar_one())


def _published(row: TrustListRow) -> PublishedTrustList:
    return PublishedTrustList(row.id, row.issued_at, row.sha256, row.data.encode("ascii"), row.published_at, row.actor)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")
