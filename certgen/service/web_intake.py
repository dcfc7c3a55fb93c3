"""The website's complaint form feeds the complaints register, through staff.

The public web service may not write the event log (its database role cannot: docs/deploy.md),
so a complaint sent through the website lands in the moderated `reports` table first. Staff
take the new ones into the register (`certgen complaints intake-web`): each becomes a complaint
of channel "website", under the log like every other channel, and its report is marked
"in_review". Spam is marked spam and never enters the register.

A rerun after a crash between the two steps registers nothing twice: the complaint's summary
starts with the report's marker, and a report whose marker is already in the register is only
marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..errors import NotFoundError, NumberFormatError
from ..registry import Registry
from ..registry.reports import list_reports, mark_report
from ..registry.tables import ComplaintRow
from .complaints import MAX_SUMMARY, Complaint, Complaints


@dataclass(frozen=True)
class Intake:
    """What one intake did: report id -> complaint number, and the reports already registered."""

    registered: dict[int, str]
    already: dict[int, str]


def marker(report_id: int) -> str:
    """The start of the summary of the complaint made from web report `report_id`."""
    return f"[web report #{report_id}] "


def intake_web_reports(registry: Registry, complaints: Complaints, *, now: datetime, actor: str,
                       limit: int = 1000) -> Intake:
    """Register every report still "new" as a website complaint, oldest first."""
    registered: dict[int, str] = {}
    already: dict[int, str] = {}
    for report in sorted(list_reports(registry.engine, status="new", limit=limit), key=lambda r: r.id):
        existing = _registered(registry, report.id)
        if existing is None:
            subject = _certificate(registry, report.number)
            complaint = complaints.register_complaint(
                channel="website", summary=_summary(report.id, report.message, report.number, report.verdict), now=now,
                actor=actor, subject_kind="certificate" if subject else "general", subject=subject, contact=report.contact)
            registered[report.id] = complaint.number
        else:
            already[report.id] = existing
        mark_report(registry.engine, report.id, "in_review", now=now, actor=actor)
    return Intake(registered, already)


def _registered(registry: Registry, report_id: int) -> str | None:
    prefix = marker(report_id)
    with registry.engine.connect() as conn:
        return conn.execute(select(ComplaintRow.number).where(ComplaintRow.channel == "website",
                                                              ComplaintRow.summary.startswith(prefix, autoescape=True))
                            ).scalar()


def _summary(report_id: int, message: str, number: str | None, verdict: str | None) -> str:
    about = f" (about {number}" + (f", verdict shown: {verdict})" if verdict else ")") if number else \
        (f" (verdict shown: {verdict})" if verdict else "")
    text = marker(report_id) + message + about
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


def _certificate(registry: Registry, number: str | None) -> str | None:
    """The report's certificate when the number the public typed is one of the registry's; a
    forged or mistyped number stays in the summary, and the complaint is a general one."""
    if not number:
        return None
    try:
        return registry.get(number).number
    except (NumberFormatError, NotFoundError):
        return None


__all__ = ["Complaint", "Intake", "intake_web_reports", "marker"]
