"""The registry API: reserve numbers, record issuance, change status, read, checkpoint.

Every write runs in one transaction that first takes the writers' lock (`chain_head`, see
`engine`), so numbers and events are allocated gap-free and never twice, across processes.
Status changes append an event to the hash chain in the same transaction as the change.
"""

from __future__ import annotations

import base64
import json
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from itertools import islice
from typing import Any, ContextManager, Iterable, Iterator, Mapping, NamedTuple, Sequence

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import Session

from ..crypto import DocumentSigner
from ..errors import NotFoundError, RegistryError, ReplaceRefused, SuccessorDiscarded, TransitionError
from ..model import DocumentKind, EventType, Series, Status
from ..numbers import CertificateNumber, parse_number
from . import engine as engine_mod
from . import reports as reports_mod
from .chain import actor_commitment, checkpoint_message, event_hash
from .issuing import mark_issued_core
from .lifecycle import EffectiveStatus, effective_status, local_day, next_status
from .reader import LogReader, snapshot
from .reports import SuspicionReport
from .state import certificate_state, state_digest
from .succession import replacement_of
from .tables import CertificateRow, ChainHeadRow, CheckpointRow, EventRow, NumberSeriesRow

_IN_CHUNK = 500


@dataclass(frozen=True)
class NewCertificate:
    """A certificate to be numbered: what the registry must know before the PDF exists."""

    series: Series
    holder: str
    scheme: str
    granted: date
    expires: date | None
    #: Everything the document prints (JSON-serialisable).
    record: Mapping[str, Any]
    #: Identity of the input row; a second reservation with the same key returns the first.
    batch_key: str | None = None


class Reservation(NamedTuple):
    """A numbered certificate as `reserve` hands it back: small, because batches are large."""

    number: str
    status: Status
    batch_key: str | None


class Issued(NamedTuple):
    """What the issuing pipeline reports for one written certificate."""

    number: str
    pdf_sha256: str
    card_sha256: str | None = None
    seal: str | None = None
    #: The seal printed on the card (edition 1), when the card has a seal of its own.
    card_seal: str | None = None


@dataclass(frozen=True)
class Certificate:
    """A registry record as read."""

    number: str
    series: Series
    kind: DocumentKind
    holder: str
    scheme: str
    granted: date
    expires: date | None
    record: Mapping[str, Any]
    status: Status
    status_reason: str | None
    status_changed_at: datetime
    replaced_by: str | None
    dsc_kid: str | None
    pdf_sha256: str | None
    card_sha256: str | None
    seal: str | None
    batch_key: str | None
    created_at: datetime
    issued_at: datetime | None
    #: Person certificates: the card's current edition and its seal (None: no card editions yet).
    card_edition: int | None = None
    card_seal: str | None = None

    def effective_status(self, now: datetime) -> EffectiveStatus:
        return effective_status(self.status, self.expires, now)

    @property
    def replaces(self) -> str | None:
        """The number of the certificate this one replaced (renewal or correction), from the
        record, which the log covers (certgen.registry.succession)."""
        found = replacement_of(self.record)
        return found.number if found else None


@dataclass(frozen=True)
class Event:
    seq: int
    at: datetime
    type: EventType
    number: str
    actor: str
    reason: str | None
    data: Mapping[str, Any]
    prev_hash: str
    hash: str
    #: Hides `actor` in the hash (chain.actor_commitment); None for events before migration 0013.
    actor_salt: str | None = None

    @property
    def public_actor(self) -> dict[str, str]:
        """What the public log shows of who acted: the commitment, or (an older event, whose
        hash covers the name) the name."""
        if self.actor_salt is None:
            return {"actor": self.actor}
        return {"actor_commitment": actor_commitment(self.actor, self.actor_salt)}


MAX_REPORT_MESSAGE = reports_mod.MAX_MESSAGE


@dataclass(frozen=True)
class Checkpoint:
    id: int
    seq: int
    hash: str
    at: datetime
    kid: str
    alg: str
    signature: bytes


class Registry:
    """The registry over one database. Cheap to keep open; safe to share across threads
    of one process (one session per call); each process opens its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read_engine = engine.execution_options(sqlite_begin="DEFERRED")
        self._lookup_engine = engine_mod.make_lookup_engine(engine)
        self._sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> "Registry":
        """Open the database at `url`, migrating it to the current schema first."""
        engine = engine_mod.make_engine(url)
        if migrate:
            try:
                engine_mod.upgrade(engine)
            except Exception as exc:
                raise RegistryError(f"cannot open the registry at {engine.url.render_as_string(hide_password=True)}: {exc}") from exc
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()
        if self._lookup_engine.pool is not self.engine.pool:
            self._lookup_engine.dispose()

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[tuple[Session, ChainHeadRow]]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            head = session.execute(select(ChainHeadRow).where(ChainHeadRow.id == 1).with_for_update()).scalar_one()
            yield session, head

    def reserve(self, items: Iterable[NewCertificate], *, now: datetime) -> list["Reservation"]:
        """Number `items` as pending certificates, in one transaction, in order.

        An item whose `batch_key` is already known gets its earlier certificate back, so a
        rerun of an interrupted batch allocates nothing twice. Rows are inserted in chunks
        with Core statements: memory stays flat however many items there are.
        """
        year = local_day(now).year
        result: list[Reservation] = []
        seen: dict[str, Reservation] = {}
        table = CertificateRow.__table__
        with self._write() as (session, _head):
            counters: dict[Series, NumberSeriesRow] = {}
            for chunk in _chunks(items, _IN_CHUNK):
                keys = [i.batch_key for i in chunk if i.batch_key and i.batch_key not in seen]
                if keys:
                    for number, status, key in session.execute(
                            select(CertificateRow.number, CertificateRow.status, CertificateRow.batch_key)
                            .where(CertificateRow.batch_key.in_(keys))):
                        seen[key] = Reservation(number, Status(status), key)
                rows = []
                for item in chunk:
                    if item.batch_key and item.batch_key in seen:
                        result.append(seen[item.batch_key])
                        continue
                    counter = counters.get(item.series) or self._counter(session, item.series, year)
                    counters[item.series] = counter
                    counter.last_serial += 1
                    number = str(CertificateNumber.build(item.series, year, counter.last_serial))
                    rows.append(dict(
                        number=number, series=item.series.value, year=year, serial=counter.last_serial,
                        kind=item.series.kind.value, holder=item.holder, scheme=item.scheme, granted=item.granted,
                        expires=item.expires, record=dict(item.record), status=Status.PENDING.value,
                        status_changed_at=now, batch_key=item.batch_key, created_at=now))
                    reservation = Reservation(number, Status.PENDING, item.batch_key)
                    if item.batch_key:
                        seen[item.batch_key] = reservation
                    result.append(reservation)
                if rows:
                    session.flush()  # the counters first
                    session.execute(table.insert(), rows)
        return result

    @staticmethod
    def _counter(session: Session, series: Series, year: int) -> NumberSeriesRow:
        row = session.execute(select(NumberSeriesRow).where(NumberSeriesRow.series == series.value,
                                                            NumberSeriesRow.year == year).with_for_update()).scalar_one_or_none()
        if row is None:
            row = NumberSeriesRow(series=series.value, year=year, last_serial=0)
            session.add(row)
        return row

    def mark_issued(self, number: str, *, pdf_sha256: str, dsc_kid: str, now: datetime, actor: str,
                    card_sha256: str | None = None, seal: str | None = None) -> Certificate:
        """A pending certificate's document is written: it becomes active, with an issue event."""
        return self.mark_issued_many([Issued(number, pdf_sha256, card_sha256, seal)], dsc_kid=dsc_kid, now=now,
                                     actor=actor)[0]

    def mark_issued_many(self, issued: Sequence["Issued"], *, dsc_kid: str, now: datetime,
                         actor: str) -> list[Certificate]:
        """`mark_issued` for many at once, in one transaction (with Core statements,
        certgen/registry/issuing.py, unless one of them is a successor)."""
        out = []
        with self._write() as (session, head):
            rows_now = mark_issued_core(session, head, issued, dsc_kid=dsc_kid, now=now, actor=actor, salt=_actor_salt)
            if rows_now is not None:
                return [_certificate(row) for row in rows_now]
            numbers = [i.number for i in issued]
            rows = {r.number: r for r in session.scalars(select(CertificateRow).where(CertificateRow.number.in_(numbers)))}
            for item in issued:
                number, pdf_sha256, card_sha256, seal = item.number, item.pdf_sha256, item.card_sha256, item.seal
                row = rows.get(number)
                if row is None:
                    raise NotFoundError(f"{number} is not in the registry")
                if row.status == Status.WITHDRAWN.value and row.issued_at is None:  # certgen discard
                    raise SuccessorDiscarded(f"{number} was not issued: it was discarded ({row.status_reason})")
                if row.status != Status.PENDING.value:
                    raise TransitionError(f"{number} is {row.status}, not pending; it cannot be issued again")
                row.status = Status.ACTIVE.value
                row.status_changed_at = now
                row.issued_at = now
                row.pdf_sha256 = pdf_sha256
                row.card_sha256 = card_sha256
                row.seal = seal
                row.dsc_kid = dsc_kid
                if item.card_seal is not None:
                    row.card_edition, row.card_seal = 1, item.card_seal
                state = certificate_state(row)  # the whole row after issuance (docs/registry.md)
                data = {"state": state, "state_sha256": state_digest(state)}
                _append(session, head, EventType.ISSUE, row.number, actor, None, data, now)
                _replace_predecessor(session, head, row, now, actor)
                out.append(_certificate(row))
        return out

    def change_status(self, number: str, change: EventType, *, reason: str, now: datetime, actor: str,
                      successor: str | None = None) -> Certificate:
        """Suspend, reinstate, withdraw or replace; refuses what the life cycle forbids."""
        if change in (EventType.ISSUE, EventType.ATTEST, EventType.SURVEILLANCE, EventType.REPRINT, EventType.CARD_WRITTEN,
                      EventType.DISCARD):
            raise TransitionError(f"{change.value} is not a status change (issuing goes through reserve() and mark_issued())")
        if not reason or not reason.strip():
            raise TransitionError(f"a reason is required to change the status of {number}")
        canonical = str(parse_number(number))
        with self._write() as (session, head):
            row = self._row(session, canonical)
            if change is EventType.REDEEM and row.series != Series.APOLOGY.value:
                raise TransitionError(f"{row.number} is not an apology letter; only those are redeemed")
            next_status(row.number, Status(row.status), change, row.expires, now)  # the life cycle's refusal first
            succ = None
            if change is EventType.REPLACE:
                if not successor:
                    raise TransitionError(f"replacing {row.number} needs the successor's number")
                succ = self._row(session, str(parse_number(successor))).number
            apply_status_change(session, head, row, change, reason=reason, now=now, actor=actor, successor=succ)
            return _certificate(row)

    def suspend(self, number: str, *, reason: str, now: datetime, actor: str) -> Certificate:
        return self.change_status(number, EventType.SUSPEND, reason=reason, now=now, actor=actor)

    def reinstate(self, number: str, *, reason: str, now: datetime, actor: str) -> Certificate:
        return self.change_status(number, EventType.REINSTATE, reason=reason, now=now, actor=actor)

    def withdraw(self, number: str, *, reason: str, now: datetime, actor: str) -> Certificate:
        return self.change_status(number, EventType.WITHDRAW, reason=reason, now=now, actor=actor)

    def replace(self, number: str, successor: str, *, reason: str, now: datetime, actor: str) -> Certificate:
        return self.change_status(number, EventType.REPLACE, reason=reason, now=now, actor=actor, successor=successor)

    def checkpoint(self, signer: DocumentSigner, *, now: datetime) -> Checkpoint:
        """Sign the current head of the log (by a DSC or the root)."""
        with self._write() as (session, head):
            signature = signer.sign(checkpoint_message(head.seq, head.hash, now))
            row = CheckpointRow(seq=head.seq, hash=head.hash, at=now, kid=signer.kid.hex(), alg=signer.alg.jose_name,
                                signature=base64.b64encode(signature).decode("ascii"))
            session.add(row)
            session.flush()
            return _checkpoint(row)

    def add_report(self, *, message: str, now: datetime, number: str | None = None, seal: str | None = None,
                   verdict: str | None = None, contact: str | None = None, client: str | None = None,
                   certificate: str | None = None, caps: "reports_mod.ReportCaps | None" = None) -> SuspicionReport:
        """Store a report from the public (certgen.registry.reports.add_report: checks and caps)."""
        return reports_mod.add_report(self.engine, message=message, now=now, number=number, seal=seal, verdict=verdict,
                                      contact=contact, client=client, certificate=certificate, caps=caps)

    def reports(self, *, limit: int = 1000, status: str | Sequence[str] | None = None) -> list[SuspicionReport]:
        """Reports, newest first; only those in `status` when given."""
        return reports_mod.list_reports(self.engine, status=status, limit=limit)

    def mark_report(self, report_id: int, status: str, *, now: datetime, actor: str) -> SuspicionReport:
        """Moderate a report: new, spam, in_review or closed."""
        return reports_mod.mark_report(self.engine, report_id, status, now=now, actor=actor)

    def status_list(self) -> list[tuple[str, str, datetime, str | None, str | None]]:
        """(number, status, since, reason, successor) of every certificate that is not simply
        active: what an offline verifier needs besides the trust list."""
        query = (select(CertificateRow.number, CertificateRow.status, CertificateRow.status_changed_at,
                        CertificateRow.status_reason, CertificateRow.replaced_by)
                 .where(CertificateRow.status.in_([Status.SUSPENDED.value, Status.WITHDRAWN.value, Status.REPLACED.value,
                                                   Status.REDEEMED.value]))
                 .order_by(CertificateRow.number))
        with self._read() as session, session.begin():
            return [tuple(r) for r in session.execute(query)]  # type: ignore[misc]

    # -- reading -------------------------------------------------------------------------

    def _read(self) -> Session:
        return Session(self._read_engine, expire_on_commit=False)

    @staticmethod
    def _row(session: Session, number: str) -> CertificateRow:
        row = session.execute(select(CertificateRow).where(CertificateRow.number == number)).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"{number} is not in the registry")
        return row

    def get(self, number: str) -> Certificate:
        """The certificate with this number; the number is checked (check character) first.

        A Core statement, not the ORM: this is the verification page's hot path, and it is
        four times faster without an identity map."""
        canonical = str(parse_number(number))
        if self._sqlite:
            with self._lookup_engine.connect() as conn:
                row = _sqlite_lookup(conn, canonical)
        else:
            row = self._server_lookup(canonical)
        if row is None:
            raise NotFoundError(f"{canonical} is not in the registry")
        return _certificate(row)  # type: ignore[arg-type]

    def _server_lookup(self, number: str) -> dict[str, Any] | None:
        """The hot-path look-up on a database server. A pooled connection that the server
        dropped (a restart, a failover) is thrown away and the look-up tried once more on a new
        one: that replaces a "ping" round trip before every request (engine.py)."""
        for attempt in (1, 2):
            with self._lookup_engine.connect() as conn:
                try:
                    if self.engine.dialect.driver == "psycopg":
                        return _psycopg_lookup(conn, number)
                    return conn.execute(_BY_NUMBER, {"number": number}).mappings().first()  # type: ignore[return-value]
                except Exception as exc:
                    if attempt == 2 or not _is_disconnect(conn, exc):
                        raise
                    conn.invalidate()
        return None  # pragma: no cover - the loop returns or raises

    def get_core(self, number: str) -> Certificate:
        """`get` through SQLAlchemy Core on every backend (the reference the SQLite fast path is tested against)."""
        canonical = str(parse_number(number))
        with self._lookup_engine.connect() as conn:
            row = conn.execute(_BY_NUMBER, {"number": canonical}).mappings().first()
        if row is None:
            raise NotFoundError(f"{canonical} is not in the registry")
        return _certificate(row)  # type: ignore[arg-type]

    def find_by_batch_keys(self, keys: Sequence[str]) -> dict[str, Certificate]:
        out: dict[str, Certificate] = {}
        with self._read() as session, session.begin():
            for start in range(0, len(keys), _IN_CHUNK):
                rows = session.scalars(select(CertificateRow).where(CertificateRow.batch_key.in_(keys[start:start + _IN_CHUNK])))
                out.update({r.batch_key: _certificate(r) for r in rows})  # type: ignore[misc]
        return out

    def events(self, number: str | None = None, *, after: int = 0, limit: int | None = None) -> list[Event]:
        """Events in log order, all or of one certificate."""
        query = select(EventRow).where(EventRow.seq > after).order_by(EventRow.seq)
        if number is not None:
            query = query.where(EventRow.number == str(parse_number(number)))
        if limit is not None:
            query = query.limit(limit)
        with self._read() as session, session.begin():
            return [_event(r) for r in session.scalars(query)]

    def iter_events(self, batch: int = 2000) -> Iterator[Event]:
        """Every event in log order, read in batches (the log may be long)."""
        after = 0
        while True:
            chunk = self.events(after=after, limit=batch)
            if not chunk:
                return
            yield from chunk
            after = chunk[-1].seq

    def iter_certificates(self, batch: int = 2000) -> Iterator[Certificate]:
        last = ""
        while True:
            with self._read() as session, session.begin():
                rows = list(session.scalars(select(CertificateRow).where(CertificateRow.number > last)
                                            .order_by(CertificateRow.number).limit(batch)))
            if not rows:
                return
            yield from (_certificate(r) for r in rows)
            last = rows[-1].number

    def active_expiring(self, first: date, last: date) -> list[Certificate]:
        """Active certificates whose expiry day is from `first` to `last`, both included, by expiry
        then number (`certgen expiring`; the `expires` filter runs in the database)."""
        query = (select(CertificateRow).where(CertificateRow.status == Status.ACTIVE.value, CertificateRow.expires >= first,
                                              CertificateRow.expires <= last)
                 .order_by(CertificateRow.expires, CertificateRow.number))
        with self._read() as session, session.begin():
            return [_certificate(r) for r in session.scalars(query)]

    def snapshot(self) -> ContextManager[LogReader]:
        """A context manager giving a `LogReader` over one consistent snapshot (the audit's reads)."""
        return snapshot(self._read_engine)

    def checkpoints(self) -> list[Checkpoint]:
        with self._read() as session, session.begin():
            return [_checkpoint(r) for r in session.scalars(select(CheckpointRow).order_by(CheckpointRow.id))]

    def head(self) -> tuple[int, str]:
        """(sequence number, hash) of the last event."""
        with self._read() as session, session.begin():
            row = session.execute(select(ChainHeadRow).where(ChainHeadRow.id == 1)).scalar_one()
            return row.seq, row.hash

    def count(self, status: Status | None = None) -> int:
        query = select(func.count()).select_from(CertificateRow)
        if status is not None:
            query = query.where(CertificateRow.status == status.value)
        with self._read() as session, session.begin():
            return int(session.execute(query).scalar_one())


def apply_status_change(session: Session, head: ChainHeadRow, row: CertificateRow, change: EventType, *, reason: str,
                        now: datetime, actor: str, successor: str | None = None) -> None:
    """One status change of a locked row with its event, inside the caller's write transaction
    (`Registry.change_status`, and a failed surveillance visit that suspends in the same one)."""
    new = next_status(row.number, Status(row.status), change, row.expires, now)
    data: dict[str, Any] = {"from": row.status, "to": new.value}
    if change is EventType.REPLACE:
        if successor == row.number:
            raise TransitionError(f"{row.number} cannot replace itself")
        row.replaced_by = successor
        data["successor"] = successor
    row.status = new.value
    row.status_reason = reason.strip()
    row.status_changed_at = now
    data["state_sha256"] = state_digest(certificate_state(row))
    _append(session, head, change, row.number, actor, reason.strip(), data, now)


def _replace_predecessor(session: Session, head: ChainHeadRow, row: CertificateRow, now: datetime, actor: str) -> None:
    """A successor just issued (its record names what it replaces): mark the old certificate
    replaced in the same transaction, so that no crash leaves both valid (docs/lifecycle.md)."""
    replacement = replacement_of(row.record)
    if replacement is None:
        return
    old = session.execute(select(CertificateRow).where(CertificateRow.number == replacement.number)).scalar_one_or_none()
    if old is None:
        raise ReplaceRefused(f"{row.number} replaces {replacement.number}, which is not in the registry; not issued")
    if old.status == Status.SUSPENDED.value:  # a successor must not lift a suspension
        raise ReplaceRefused(f"{row.number} was not issued: {old.number} is suspended meanwhile ({old.status_reason})")
    try:
        apply_status_change(session, head, old, EventType.REPLACE, reason=replacement.reason, now=now, actor=actor,
                            successor=row.number)
    except TransitionError as exc:
        hint = (f"; {row.number} can never be issued: discard it (certgen discard {row.number} --reason TEXT)"
                if old.status in (Status.WITHDRAWN.value, Status.REPLACED.value) else "")
        raise ReplaceRefused(f"{row.number} was not issued: {exc}{hint}") from None


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _actor_salt() -> str | None:
    """A fresh salt for an event's actor commitment (chain.actor_commitment)."""
    return secrets.token_hex(16)


def _append(session: Session, head: ChainHeadRow, type: EventType, number: str, actor: str,
            reason: str | None, data: Mapping[str, Any], at: datetime, salt: str | None = None) -> None:
    """`salt`: the event's fresh actor salt when its data already commits to the actor with it
    (a trust list's state, trust_log.append_trust_event); a new one otherwise."""
    seq = head.seq + 1
    salt = salt or _actor_salt()  # the public log shows a commitment to the actor, not the name
    digest = event_hash(head.hash, seq=seq, at=at, type=type.value, number=number, actor=actor, reason=reason, data=data,
                        actor_salt=salt)
    session.add(EventRow(seq=seq, at=at, type=type.value, number=number, actor=actor, reason=reason,
                         data=dict(data), prev_hash=head.hash, hash=digest, actor_salt=salt))
    head.seq = seq
    head.hash = digest


_BY_NUMBER = select(CertificateRow.__table__).where(CertificateRow.__table__.c.number == bindparam("number"))
_COLUMNS = [c.name for c in CertificateRow.__table__.columns]
_SQLITE_BY_NUMBER = f"SELECT {', '.join(_COLUMNS)} FROM certificates WHERE number = ?"
_DATES = {"granted", "expires"}
_TIMES = {"status_changed_at", "created_at", "issued_at"}


def _sqlite_lookup(conn: Any, number: str) -> dict[str, Any] | None:
    """The look-up of the verification page's hot path, straight on the sqlite3 cursor.

    SQLAlchemy's statement machinery costs 73 us here against 12 us for the query itself; the
    values are converted as SQLAlchemy stores them in SQLite (ISO dates, naive UTC datetimes,
    JSON text). tests/test_registry.py checks it returns exactly what `get_core` returns."""
    cursor = conn.connection.driver_connection.execute(_SQLITE_BY_NUMBER, (number,))
    values = cursor.fetchone()
    if values is None:
        return None
    row = dict(zip(_COLUMNS, values))
    for name in _DATES:
        if row[name] is not None:
            row[name] = date.fromisoformat(row[name])
    for name in _TIMES:
        if row[name] is not None:
            row[name] = datetime.fromisoformat(row[name]).replace(tzinfo=timezone.utc)
    row["record"] = json.loads(row["record"])
    return row


_PG_BY_NUMBER = f"SELECT {', '.join(_COLUMNS)} FROM certificates WHERE number = %s"


def _psycopg_lookup(conn: Any, number: str) -> dict[str, Any] | None:
    """The look-up on psycopg's own connection (prepared by psycopg after a few uses): what
    SQLAlchemy's statement machinery would add costs more than the query. Values converted as
    the Core path converts them; tests/test_registry_fast_paths.py checks both give the same."""
    cursor = conn.connection.driver_connection.execute(_PG_BY_NUMBER, (number,))
    values = cursor.fetchone()
    if values is None:
        return None
    row = dict(zip(_COLUMNS, values))
    for name in _TIMES:
        if row[name] is not None:
            row[name] = row[name].replace(tzinfo=timezone.utc)
    return row


def _is_disconnect(conn: Any, exc: Exception) -> bool:
    """True when `exc` says the server connection is gone (SQLAlchemy's own judgement)."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    dialect = conn.dialect
    return isinstance(exc, dialect.loaded_dbapi.Error) and dialect.is_disconnect(exc, conn.connection.driver_connection, None)


def _certificate(row: Any) -> Certificate:
    """From an ORM row or a Core row mapping (same attribute names)."""
    get = row.__getitem__ if isinstance(row, Mapping) else row.__getattribute__
    return Certificate(
        number=get("number"), series=Series(get("series")), kind=DocumentKind(get("kind")), holder=get("holder"),
        scheme=get("scheme"), granted=get("granted"), expires=get("expires"), record=get("record"),
        status=Status(get("status")), status_reason=get("status_reason"), status_changed_at=get("status_changed_at"),
        replaced_by=get("replaced_by"), dsc_kid=get("dsc_kid"), pdf_sha256=get("pdf_sha256"),
        card_sha256=get("card_sha256"), seal=get("seal"), batch_key=get("batch_key"), created_at=get("created_at"),
        issued_at=get("issued_at"), card_edition=get("card_edition"), card_seal=get("card_seal"),
    )


def _event(row: EventRow) -> Event:
    try:
        type = EventType(row.type)
    except ValueError:
        raise RegistryError(f"event {row.seq} has an unknown type {row.type!r}: run certgen log --verify") from None
    return Event(row.seq, row.at, type, row.number, row.actor, row.reason, row.data, row.prev_hash, row.hash,
                 row.actor_salt)



def _checkpoint(row: CheckpointRow) -> Checkpoint:
    return Checkpoint(row.id, row.seq, row.hash, row.at, row.kid, row.alg, base64.b64decode(row.signature))
