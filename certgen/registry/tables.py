"""SQLAlchemy tables of the registry. Changing one needs an Alembic migration (tests check
that the migrations produce exactly these tables)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Index, Integer, LargeBinary, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite forgets time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the registry")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class CertificateRow(Base):
    """One certificate: the full record, its stored status, and what was issued for it."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("series", "year", "serial", name="uq_certificates_serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    series: Mapped[str] = mapped_column(String(2))
    year: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str] = mapped_column(String(200))
    scheme: Mapped[str] = mapped_column(String(200))
    granted: Mapped[date] = mapped_column(Date)
    expires: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: Everything the document prints, as JSON; its SHA-256 is in the issue event.
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_by: Mapped[str | None] = mapped_column(String(20), nullable=True)
    dsc_kid: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    card_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: The barcode text printed on the documents (the signed seal).
    seal: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Idempotency key of the input row that asked for this certificate: a rerun finds it.
    batch_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Person certificates: the current edition of the card (1 at issue, +1 per reprint); null
    #: for other kinds and for cards printed before editions (migration 0010_card_editions).
    card_edition: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The barcode text printed on the current card (its seal names the edition).
    card_seal: Mapped[str | None] = mapped_column(Text, nullable=True)


class NumberSeriesRow(Base):
    """Last serial handed out per series and year."""

    __tablename__ = "number_series"

    series: Mapped[str] = mapped_column(String(2), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer)


class EventRow(Base):
    """Append-only log entry; `hash` chains it to its predecessor (docs/registry.md)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_number", "number"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Random 16 bytes (hex) hiding the actor in the hashed event: the hash covers
    #: `actor_commitment(actor, actor_salt)`, the public log shows only that (migration 0013).
    #: NULL for events written before it, whose hash covers the name itself.
    actor_salt: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ChainHeadRow(Base):
    """The single row naming the last event: the writers' lock, and a truncation witness."""

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class CheckpointRow(Base):
    """A signed statement "the log had `seq` events ending in `hash`"."""

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kid: Mapped[str] = mapped_column(String(16))
    alg: Mapped[str] = mapped_column(String(8))
    signature: Mapped[str] = mapped_column(Text)


class ReportRow(Base):
    """A report of a suspicious certificate from the public (the service standard's complaint
    channel). Holds what the reporter typed, nothing about the reporter beyond an optional contact."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    seal: Mapped[str | None] = mapped_column(Text, nullable=True)
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: Moderation: new, spam, in_review, closed (certgen.registry.reports).
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    moderated_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class LogNodeRow(Base):
    """A perfect subtree of the Merkle tree over the events (certgen.registry.merkle): written
    once when its last leaf is added, never changed; `id` is `merkle.node_id(level, index)`.
    Derived data: `certgen log --verify` recomputes every node from the events."""

    __tablename__ = "log_nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeHeadRow(Base):
    """A checkpoint: a tree head signed by the log key, kept as the exact text that was signed
    (docs/registry.md, "Checkpoints"); `size` and `root_hash` repeat what the text says."""

    __tablename__ = "tree_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(Integer, index=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text)


class BatchLeaseRow(Base):
    """Who is issuing a batch right now (`certgen.registry.leases`): one row per batch name,
    held by one process on one host until it is released or expires."""

    __tablename__ = "batch_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- the service standard (certgen/service, docs/service.md) ----------------------------------

class ApplicationRow(Base):
    """An application for certification or training. Every column is part of the state that
    each of its events commits to (certgen/service/log.py), so a row edited behind the log's
    back is named by `certgen log --verify`."""

    __tablename__ = "applications"
    __table_args__ = (UniqueConstraint("year", "serial", name="uq_applications_serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    client: Mapped[str] = mapped_column(String(200))
    #: Who the client is for compensation (a letter is redeemable by the same client only).
    client_id: Mapped[str] = mapped_column(String(100), index=True)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16), index=True)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: SHA-256 of the applicant's access code (the code itself is never stored).
    access_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: {condition: ISO time recorded}
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: [{reason, from, to, by}] in order; `to` is None while open.
    pauses: Mapped[list[Any]] = mapped_column(JSON)
    #: [{at, actor, action, detail}]: every step recorded, stage moves and evaluation steps.
    steps: Mapped[list[Any]] = mapped_column(JSON)
    #: [{name, sha256, size, type, at, by}]
    documents: Mapped[list[Any]] = mapped_column(JSON)
    #: Numbers of the certificates issued from it.
    certificates: Mapped[list[Any]] = mapped_column(JSON)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The apology letter redeemed for one working day less on this application.
    credit_letter: Mapped[str | None] = mapped_column(String(20), nullable=True, unique=True)
    #: The apology letter issued because this application's result was late.
    apology_letter: Mapped[str | None] = mapped_column(String(20), nullable=True)


class ComplaintRow(Base):
    """A complaint or appeal from any channel of the service standard."""

    __tablename__ = "complaints"
    __table_args__ = (UniqueConstraint("year", "serial", name="uq_complaints_serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(Integer)
    #: complaint | appeal
    type: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    #: certificate | application | general
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(40), nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: received | in_review | answered | closed
    status: Mapped[str] = mapped_column(String(16), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: upheld | rejected | partly_upheld (set with the answer)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: SHA-256 of the answer letter PDF.
    letter_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: [{at, actor, action, detail}]
    steps: Mapped[list[Any]] = mapped_column(JSON)


class AbuseCounterRow(Base):
    """A count shared by every web worker and instance: requests of one client in one rate-limit
    window, complaints of one address, one certificate or the whole day. `window` is the
    window's start (seconds since 1970); old windows are deleted (certgen.registry.counters)."""

    __tablename__ = "abuse_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer)
class SurveillanceVisitRow(Base):
    """One surveillance visit of a type 5 product certificate (docs/surveillance.md). The visit's
    `surveillance` event commits to every column here but `id`; the report file is stored
    content-addressed under the data folder by its SHA-256."""

    __tablename__ = "surveillance_visits"
    __table_args__ = (UniqueConstraint("number", "ordinal", name="uq_surveillance_visit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), index=True)
    #: 1 for a certificate's first visit, 2 for its second, ...
    ordinal: Mapped[int] = mapped_column(Integer)
    visited_on: Mapped[date] = mapped_column(Date)
    result: Mapped[str] = mapped_column(String(8))
    report_sha256: Mapped[str] = mapped_column(String(64))
    report_size: Mapped[int] = mapped_column(Integer)
    report_type: Mapped[str] = mapped_column(String(40))
    #: Corrective action for minor/major findings is due by this day (null: passed or failed).
    corrective_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))


class TrustListRow(Base):
    """A root-signed trust list as published to the registry (`certgen keys ...`, `certgen trust
    publish`), exactly the bytes of `keys/trustlist.json`. The web instances read the newest one
    and check its signature against the root before use (verify.live): a database writer cannot
    plant a list, and one older than the list in use is refused as a rollback."""

    __tablename__ = "trust_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The `issued_at` of the signed payload (repeated here to order the lists; the web re-reads it).
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
