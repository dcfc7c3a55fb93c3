"""What an applicant may see of an application (the public status page's read API).

Only the process: kind, stage, the clock, the pauses with their reasons, the certificates
issued and the apology letter. No client name, email, documents or actors: the page shows
nothing the applicant did not already know beyond where the application stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ..registry.lifecycle import local_day
from .applications import Application, Applications
from .rules import Label

STAGE_LABELS = {
    "application": Label("Permohonan diterima", "Application received"),
    "handling": Label("Penanganan permohonan", "Application handling"),
    "payment": Label("Pembayaran", "Payment"),
    "execution": Label("Pelaksanaan (audit, pengujian, asesmen atau pelatihan)",
                       "Execution (audit, testing, assessment or training)"),
    "decision": Label("Keputusan sertifikasi", "Certification decision"),
    "reporting": Label("Pelaporan hasil pelayanan (selesai)", "Result reported (closed)"),
}


@dataclass(frozen=True)
class PublicPause:
    reason: Label
    start: date
    end: date | None


@dataclass(frozen=True)
class PublicStatus:
    number: str
    kind: Label
    stage: str
    stage_label: Label
    decision: str | None
    allowed: int
    started: date | None
    used: int
    left: int
    deadline: date | None
    paused: bool
    pauses: tuple[PublicPause, ...]
    certificates: tuple[str, ...]
    reported: date | None
    late: bool
    days_late: int
    apology_letter: str | None
    credit_letter: str | None


def public_status(app: Application, apps: Applications) -> PublicStatus:
    rules = apps.rules
    c = app.clock
    pauses = tuple(PublicPause(rules.pause_reasons.get(p["reason"], Label(p["reason"], p["reason"])),
                               local_day(_dt(p["from"])), local_day(_dt(p["to"])) if p.get("to") else None)
                   for p in app.pauses)
    return PublicStatus(app.number, rules.kind(app.kind).label, app.stage, STAGE_LABELS[app.stage], app.decision,
                        c.allowed, c.started, c.used, c.left, c.deadline, c.paused, pauses, app.certificates, c.reported,
                        c.late, c.days_late, app.apology_letter, app.credit_letter)


def lookup(apps: Applications, number: str, code: str, now: datetime) -> PublicStatus | None:
    """The public status when `code` is the application's access code; None otherwise."""
    app = apps.check_access(number, code, now)
    return None if app is None else public_status(app, apps)


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
