"""The register of complaints and appeals, one for every channel the service standard lists.

    received --review--> in_review --answer--> answered --close--> closed

Each case has a channel, a subject (a certificate, an application, or general), its own
working-day clock (`complaints.days` in templates/service.yaml, from the day it was received
to the day it was answered), and an answer with an outcome. An appeal is answered only by
someone who took no part in its subject (no event of the certificate, no step of the
application). Every change is an event in the registry's log (`log.append_event`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from ..errors import CertgenError, NotFoundError, NumberFormatError
from ..model import EventType
from ..numbers import parse_number
from ..registry import Registry
from ..registry.lifecycle import local_day
from ..registry.tables import ApplicationRow, ComplaintRow, EventRow
from . import numbers
from .applications import _counter, _step
from .calendar import WorkingCalendar
from .clock import Clock, compute
from .log import append_event, reading, writing
from .rules import ServiceRules

TYPES = ("complaint", "appeal")
SUBJECTS = ("certificate", "application", "general")
STATUSES = ("received", "in_review", "answered", "closed")
OUTCOMES = ("upheld", "partly_upheld", "rejected")
MAX_SUMMARY = 4000


class ComplaintError(CertgenError):
    """A complaint operation its case does not allow; nothing was changed."""


@dataclass(frozen=True)
class Complaint:
    number: str
    type: str
    channel: str
    subject_kind: str
    subject: str | None
    summary: str
    contact: str | None
    status: str
    received_at: datetime
    answered_at: datetime | None
    answered_by: str | None
    answer: str | None
    outcome: str | None
    closed_at: datetime | None
    letter_sha256: str | None
    steps: tuple[Mapping[str, Any], ...]
    clock: Clock


class Complaints:
    def __init__(self, registry: Registry, rules: ServiceRules, calendar: WorkingCalendar) -> None:
        self.registry = registry
        self.rules = rules
        self.calendar = calendar

    def _clock(self, row: ComplaintRow, now: datetime) -> Clock:
        answered = local_day(row.answered_at) if row.answered_at else None
        return compute(self.calendar, self.rules.complaint_days, local_day(row.received_at), [], answered, local_day(now))

    def _read(self, row: ComplaintRow, now: datetime) -> Complaint:
        return Complaint(row.number, row.type, row.channel, row.subject_kind, row.subject, row.summary, row.contact,
                         row.status, row.received_at, row.answered_at, row.answered_by, row.answer, row.outcome,
                         row.closed_at, row.letter_sha256, tuple(row.steps), self._clock(row, now))

    def register_complaint(self, *, channel: str, summary: str, now: datetime, actor: str, type: str = "complaint",
                           subject_kind: str = "general", subject: str | None = None,
                           contact: str | None = None) -> Complaint:
        """Record a complaint or appeal from any channel (the website form calls this with channel="website")."""
        if channel not in self.rules.complaint_channels:
            raise ComplaintError(f"unknown channel {channel!r} (known: {', '.join(self.rules.complaint_channels)})")
        if type not in TYPES:
            raise ComplaintError(f"unknown type {type!r} (complaint or appeal)")
        if subject_kind not in SUBJECTS:
            raise ComplaintError(f"unknown subject kind {subject_kind!r} (known: {', '.join(SUBJECTS)})")
        summary = (summary or "").strip()
        if not summary:
            raise ComplaintError("a complaint needs a summary of what it is about")
        if len(summary) > MAX_SUMMARY:
            raise ComplaintError(f"the summary has at most {MAX_SUMMARY} characters")
        subject = self._subject(subject_kind, subject)
        if type == "appeal" and subject is None:
            raise ComplaintError("an appeal is against a decision: name the certificate or application")
        year = local_day(now).year
        with writing(self.registry) as (session, head):
            counter = _counter(session, numbers.COMPLAINT_SERIES, year)
            counter.last_serial += 1
            row = ComplaintRow(number=numbers.build(numbers.COMPLAINT_SERIES, year, counter.last_serial), year=year,
                               serial=counter.last_serial, type=type, channel=channel, subject_kind=subject_kind,
                               subject=subject, summary=summary, contact=(contact or "").strip()[:200] or None,
                               status="received", received_at=now, answered_at=None, answered_by=None, answer=None,
                               outcome=None, closed_at=None, letter_sha256=None,
                               steps=[_step(now, actor, "received", channel)])
            session.add(row)
            append_event(session, head, EventType.COMPLAINT, row, action="received", actor=actor, at=now)
            return self._read(row, now)

    def _subject(self, kind: str, subject: str | None) -> str | None:
        if kind == "general":
            if subject:
                raise ComplaintError("a general complaint has no subject number")
            return None
        if not subject:
            raise ComplaintError(f"a complaint about a {kind} needs its number")
        try:
            canonical = str(parse_number(subject)) if kind == "certificate" else numbers.parse_application(subject)
        except NumberFormatError as exc:
            raise ComplaintError(str(exc)) from None
        if kind == "certificate":
            try:
                self.registry.get(canonical)
            except NotFoundError:
                raise ComplaintError(f"certificate {canonical} is not in the registry") from None
        else:
            with reading(self.registry) as session:
                if session.execute(select(ApplicationRow.id).where(ApplicationRow.number == canonical)).first() is None:
                    raise ComplaintError(f"application {canonical} is not in the register")
        return canonical

    @staticmethod
    def involved(session: Session, complaint: Complaint | ComplaintRow) -> set[str]:
        """Who took part in the subject: actors of the certificate's events or the application's steps
        (read in `session`: the answer's own write transaction)."""
        if complaint.subject is None:
            return set()
        if complaint.subject_kind == "certificate":
            return set(session.scalars(select(EventRow.actor).where(EventRow.number == complaint.subject)))
        steps = session.execute(select(ApplicationRow.steps).where(ApplicationRow.number == complaint.subject)).scalar_one()
        return {s["actor"] for s in steps}

    def _change(self, number: str, now: datetime, actor: str, action: str,
                apply: Callable[[ComplaintRow], str | None]) -> Complaint:
        canonical = numbers.parse_complaint(number)
        with writing(self.registry) as (session, head):
            row = session.execute(select(ComplaintRow).where(ComplaintRow.number == canonical)).scalar_one_or_none()
            if row is None:
                raise NotFoundError(f"complaint {canonical} is not in the register")
            detail = apply(row)
            row.steps = [*row.steps, _step(now, actor, action, detail)]
            append_event(session, head, EventType.COMPLAINT, row, action=action, actor=actor, at=now)
            return self._read(row, now)

    def review(self, number: str, *, now: datetime, actor: str) -> Complaint:
        def apply(row: ComplaintRow) -> None:
            if row.status != "received":
                raise ComplaintError(f"{row.number} is {row.status}; only a received case goes into review")
            row.status = "in_review"
        return self._change(number, now, actor, "in_review", apply)

    def answer(self, number: str, text: str, outcome: str, *, now: datetime, actor: str) -> Complaint:
        """Answer a case in review; an appeal only by someone not involved in its subject."""
        if outcome not in OUTCOMES:
            raise ComplaintError(f"unknown outcome {outcome!r} (known: {', '.join(OUTCOMES)})")
        if not text or not text.strip():
            raise ComplaintError("an answer needs its text")

        def apply(row: ComplaintRow) -> str:
            if row.status != "in_review":
                raise ComplaintError(f"{row.number} is {row.status}; a case is answered when it is in review")
            if row.type == "appeal":
                involved = self.involved(object_session(row), row)  # type: ignore[arg-type]
                if actor in involved:
                    raise ComplaintError(f"{row.number}: {actor} took part in {row.subject} and may not answer the "
                                         f"appeal against it (involved: {', '.join(sorted(involved))})")
            row.status, row.answer, row.outcome = "answered", text.strip()[:MAX_SUMMARY], outcome
            row.answered_at, row.answered_by = now, actor
            return outcome
        return self._change(number, now, actor, "answered", apply)

    def attach_letter(self, number: str, sha256: str, *, now: datetime, actor: str) -> Complaint:
        def apply(row: ComplaintRow) -> str:
            if row.status not in ("answered", "closed"):
                raise ComplaintError(f"{row.number} is {row.status}; the answer letter follows the answer")
            row.letter_sha256 = sha256
            return sha256
        return self._change(number, now, actor, "letter", apply)

    def close(self, number: str, *, now: datetime, actor: str) -> Complaint:
        def apply(row: ComplaintRow) -> None:
            if row.status != "answered":
                raise ComplaintError(f"{row.number} is {row.status}; a case is closed after its answer")
            row.status, row.closed_at = "closed", now
        return self._change(number, now, actor, "closed", apply)

    def get(self, number: str, now: datetime) -> Complaint:
        canonical = numbers.parse_complaint(number)
        with reading(self.registry) as session:
            row = session.execute(select(ComplaintRow).where(ComplaintRow.number == canonical)).scalar_one_or_none()
            if row is None:
                raise NotFoundError(f"complaint {canonical} is not in the register")
            return self._read(row, now)

    def iter(self, now: datetime, *, status: str | None = None, channel: str | None = None, type: str | None = None,
             year: int | None = None) -> Iterator[Complaint]:
        query = select(ComplaintRow).order_by(ComplaintRow.number)
        for column, value in ((ComplaintRow.status, status), (ComplaintRow.channel, channel), (ComplaintRow.type, type),
                              (ComplaintRow.year, year)):
            if value is not None:
                query = query.where(column == value)
        with reading(self.registry) as session:
            rows = list(session.scalars(query))
        return (self._read(r, now) for r in rows)


def answer_letter_text(c: Complaint) -> tuple[str, str]:
    """(Indonesian, English) opening of the answer letter."""
    kind = {"complaint": ("pengaduan", "complaint"), "appeal": ("banding", "appeal")}[c.type]
    outcome = {"upheld": ("diterima", "upheld"), "partly_upheld": ("diterima sebagian", "partly upheld"),
               "rejected": ("tidak diterima", "not upheld")}[c.outcome or "rejected"]
    about = f" mengenai {c.subject}" if c.subject else ""
    about_en = f" about {c.subject}" if c.subject else ""
    return (f"Kami telah memeriksa {kind[0]} Anda nomor {c.number}{about}, yang kami terima pada "
            f"{local_day(c.received_at):%d-%m-%Y}. Hasilnya: {outcome[0]}.",
            f"We have reviewed your {kind[1]} number {c.number}{about_en}, received on "
            f"{local_day(c.received_at):%d-%m-%Y}. Outcome: {outcome[1]}.")


__all__ = ["Complaint", "ComplaintError", "Complaints", "OUTCOMES", "STATUSES", "SUBJECTS", "TYPES"]
