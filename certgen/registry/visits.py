"""Surveillance visits in the registry: recording one (with its event, and the suspension a
failed visit brings, in one transaction), reading them, and the audit's reads of their rows.

What a visit means for the schedule (intervals, grace, corrective action) is policy, in
`certgen.surveillance`; this module only refuses what can never be recorded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterator, Mapping

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import RegistryError
from ..model import DocumentKind, EventType, Series, Status
from ..numbers import parse_number
from .lifecycle import is_expired, local_day
from .reader import LogReader, read_date, read_time
from .repository import Certificate, Registry, _append, _certificate, apply_status_change
from .succession import CORRECTION, replacement_of
from .tables import CertificateRow, SurveillanceVisitRow
from .visit_replay import VISIT_KEYS, visit_digest, visit_state


class SurveillanceError(RegistryError):
    """A visit that cannot be recorded (the message says which certificate and why)."""


class VisitResult(str, enum.Enum):
    """The outcome of a surveillance visit."""

    PASSED = "passed"
    MINOR = "minor"  # minor nonconformities: corrective action by a due date
    MAJOR = "major"  # major nonconformities: corrective action by a shorter due date
    FAILED = "failed"  # the certificate is suspended with the visit as reason


@dataclass(frozen=True)
class Visit:
    number: str
    ordinal: int
    visited_on: date
    result: VisitResult
    report_sha256: str
    report_size: int
    report_type: str
    corrective_due: date | None
    recorded_at: datetime
    actor: str


@dataclass(frozen=True)
class NewVisit:
    """A visit to record; the report file is already stored under its digest."""

    visited_on: date
    result: VisitResult
    report_sha256: str
    report_size: int
    report_type: str
    corrective_due: date | None = None


def _value(x: Any) -> str:
    return str(getattr(x, "value", x))


def check_recordable(cert: Any, visited_on: date, now: datetime) -> None:
    """Refuse what can never be recorded on `cert` (a row or a `Certificate`): other kinds, type 1
    products, unissued, withdrawn, replaced or expired certificates, and impossible visit days."""
    number, kind, series = cert.number, _value(cert.kind), _value(cert.series)
    if kind != DocumentKind.PRODUCT.value:
        raise SurveillanceError(f"{number} is a {kind} certificate: only type 5 product certificates are under surveillance")
    if series != Series.PRODUCT_TYPE5.value:
        raise SurveillanceError(f"{number} is a type 1 product certificate (type testing): scheme type 1 has no "
                                "surveillance, only type 5 has")
    status = Status(_value(cert.status))
    if status not in (Status.ACTIVE, Status.SUSPENDED):
        raise SurveillanceError(f"{number} is {status.value}: a surveillance visit cannot be recorded on it")
    if is_expired(cert.expires, now):
        raise SurveillanceError(f"{number} expired on {cert.expires:%Y-%m-%d}: a surveillance visit cannot be recorded on it")
    today = local_day(now)
    if visited_on > today:
        raise SurveillanceError(f"the visit date {visited_on:%Y-%m-%d} is in the future (today is {today:%Y-%m-%d} in Jakarta)")
    if visited_on < cert.granted:
        raise SurveillanceError(f"the visit date {visited_on:%Y-%m-%d} is before {number} was granted ({cert.granted:%Y-%m-%d})")


def record_visit(registry: Registry, number: str, visit: NewVisit, *, now: datetime, actor: str) -> tuple[Visit, Certificate]:
    """Record `visit` of certificate `number` with its `surveillance` event. A failed visit of an
    active certificate suspends it in the same transaction, the suspension ordered after the visit."""
    canonical = str(parse_number(number))
    with registry._write() as (session, head):
        row = registry._row(session, canonical)
        check_recordable(row, visit.visited_on, now)
        status = Status(row.status)
        last = _last(session, row.number)
        if last is not None and visit.visited_on < last.visited_on:
            raise SurveillanceError(f"the visit date {visit.visited_on:%Y-%m-%d} is before visit {last.ordinal} of "
                                    f"{row.number} ({last.visited_on:%Y-%m-%d})")
        new = SurveillanceVisitRow(number=row.number, ordinal=(last.ordinal + 1 if last else 1), visited_on=visit.visited_on,
                                   result=VisitResult(visit.result).value, report_sha256=visit.report_sha256,
                                   report_size=visit.report_size, report_type=visit.report_type,
                                   corrective_due=visit.corrective_due, recorded_at=now, actor=actor[:100])
        session.add(new)
        state = visit_state(new)
        _append(session, head, EventType.SURVEILLANCE, row.number, new.actor,
                f"surveillance visit {new.ordinal}: {new.result}", {"visit": state, "state_sha256": visit_digest(state)}, now)
        if visit.result is VisitResult.FAILED and status is Status.ACTIVE:
            reason = (f"failed surveillance visit {new.ordinal} on {visit.visited_on:%Y-%m-%d} "
                      f"(report SHA-256 {visit.report_sha256[:16]})")
            apply_status_change(session, head, row, EventType.SUSPEND, reason=reason, now=now, actor=actor)
        session.flush()
        return _visit(new), _certificate(row)


def _last(session: Session, number: str) -> SurveillanceVisitRow | None:
    return session.execute(select(SurveillanceVisitRow).where(SurveillanceVisitRow.number == number)
                           .order_by(SurveillanceVisitRow.ordinal.desc()).limit(1)).scalar_one_or_none()


def visits_of(registry: Registry, number: str) -> list[Visit]:
    """A certificate's visits, first first."""
    canonical = str(parse_number(number))
    with registry._read() as session, session.begin():
        rows = session.scalars(select(SurveillanceVisitRow).where(SurveillanceVisitRow.number == canonical)
                               .order_by(SurveillanceVisitRow.ordinal))
        return [_visit(r) for r in rows]


def under_surveillance(registry: Registry) -> Iterator[tuple[Certificate, Visit | None]]:
    """Every active type 5 certificate with its latest visit (None before the first)."""
    latest = (select(SurveillanceVisitRow.number, func.max(SurveillanceVisitRow.ordinal).label("ordinal"))
              .group_by(SurveillanceVisitRow.number).subquery())
    query = (select(CertificateRow, SurveillanceVisitRow)
             .where(CertificateRow.series == Series.PRODUCT_TYPE5.value, CertificateRow.status == Status.ACTIVE.value)
             .outerjoin(latest, latest.c.number == CertificateRow.number)
             .outerjoin(SurveillanceVisitRow, sa.and_(SurveillanceVisitRow.number == latest.c.number,
                                                      SurveillanceVisitRow.ordinal == latest.c.ordinal))
             .order_by(CertificateRow.number))
    with registry._read() as session, session.begin():
        rows = [(_certificate(c), None if v is None else _visit(v)) for c, v in session.execute(query)]
    for cert, visit in rows:
        yield cert, carried_over(registry, cert, visit)


def carried_over(registry: Registry, cert: Certificate, own: Visit | None) -> Visit | None:
    """The latest visit that counts for `cert`: its own, or one of the certificates it corrected
    (a correction keeps the surveillance schedule; a renewal starts a new one: docs/lifecycle.md)."""
    best, current, seen = own, cert, {cert.number}
    while (found := replacement_of(current.record)) and found.change == CORRECTION and found.number not in seen:
        seen.add(found.number)
        try:
            current = registry.get(found.number)
        except RegistryError:
            break
        earlier = visits_of(registry, found.number)
        if earlier and (best is None or earlier[-1].visited_on > best.visited_on):
            best = earlier[-1]
    return best


def _visit(row: SurveillanceVisitRow) -> Visit:
    return Visit(row.number, row.ordinal, row.visited_on, VisitResult(row.result), row.report_sha256, row.report_size,
                 row.report_type, row.corrective_due, row.recorded_at, row.actor)


# -- the audit's reads ---------------------------------------------------------------------------

_visits = sa.table("surveillance_visits", *(sa.column(c) for c in VISIT_KEYS))


def visit_rows(reader: LogReader) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(number, {"number", "visits"}) per certificate with visits, ordered by number in
    code-point order, its visits by ordinal; values as read, raw text when unreadable."""
    number_col = sa.collate(_visits.c.number, "C") if reader.conn.dialect.name == "postgresql" else _visits.c.number
    query = sa.select(_visits).order_by(number_col, _visits.c.ordinal)
    key: str | None = None
    group: list[dict[str, Any]] = []
    for r in reader.conn.execute(query.execution_options(stream_results=True, yield_per=1000)):
        row = dict(r._mapping)
        row["number"] = str(row["number"])
        for name in ("visited_on", "corrective_due"):
            row[name] = read_date(row[name])
        row["recorded_at"] = read_time(row["recorded_at"])
        if row["number"] != key:
            if group:
                yield key, {"number": key, "visits": group}  # type: ignore[misc]
            key, group = row["number"], []
        group.append(row)
    if group:
        yield key, {"number": key, "visits": group}  # type: ignore[misc]
