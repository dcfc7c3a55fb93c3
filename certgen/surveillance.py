"""Surveillance of type 5 product certificates (ISO/IEC 17065 §7.9, ISO/IEC 17067 scheme type 5):
the rules (template data), the schedule (what is due, overdue, or for suspension), and the
visit report's intake (size and type limits, content-addressed storage).

Nothing here suspends anything: a certificate past its due date and the grace period is
*listed* for suspension, and staff decide. Only a visit recorded as failed suspends, through
`certgen.registry.visits.record_visit` (docs/surveillance.md).
"""

from __future__ import annotations

import calendar
import enum
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import ConfigError
from .registry.lifecycle import is_expired, local_day
from .registry.repository import Certificate
from .registry.visits import NewVisit, SurveillanceError, Visit, VisitResult

#: What a report file may be, by its first bytes (never by its name).
REPORT_TYPES: dict[bytes, tuple[str, str]] = {
    b"%PDF-": ("application/pdf", "pdf"),
    b"\x89PNG\r\n\x1a\n": ("image/png", "png"),
    b"\xff\xd8\xff": ("image/jpeg", "jpg"),
}


@dataclass(frozen=True)
class SurveillanceRules:
    """The `surveillance:` section of templates/product.yaml."""

    #: Months from the grant date (or the latest visit) to the next visit.
    interval_months: int = 12
    #: Days past the due date before a certificate is listed for suspension.
    grace_days: int = 30
    #: Days from the visit to the corrective-action due date, per finding level.
    corrective_days: Mapping[str, int] = field(default_factory=lambda: {"minor": 90, "major": 30})
    #: Largest report file accepted.
    report_max_bytes: int = 20 * 1024 * 1024

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None, where: str = "product.yaml: surveillance") -> "SurveillanceRules":
        """Build from the template's mapping; unknown keys and bad values name the key."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a mapping")
        known = {"interval_months", "grace_days", "corrective_days", "report_max_bytes"}
        unknown = set(map(str, data)) - known
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for key, low, high in (("interval_months", 1, 60), ("grace_days", 0, 365), ("report_max_bytes", 1, 1 << 30)):
            if key in data:
                values[key] = _int(data[key], f"{where}.{key}", low, high)
        if "corrective_days" in data:
            days = data["corrective_days"]
            if not isinstance(days, Mapping) or set(map(str, days)) != {"minor", "major"}:
                raise ConfigError(f"{where}.corrective_days: expected {{minor: DAYS, major: DAYS}}")
            values["corrective_days"] = {k: _int(v, f"{where}.corrective_days.{k}", 1, 730) for k, v in days.items()}
        return cls(**values)

    def corrective_due(self, result: VisitResult, visited_on: date) -> date | None:
        """When corrective action for the visit's findings is due (None: no findings to correct)."""
        if result in (VisitResult.MINOR, VisitResult.MAJOR):
            return visited_on + timedelta(days=self.corrective_days[result.value])
        return None


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: expected a whole number from {low} to {high}, got {value!r}")
    return value


def add_months(day: date, months: int) -> date:
    """`day` plus whole months; the 31st becomes the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class DueState(str, enum.Enum):
    DUE = "due"  # due within the window, not yet past
    OVERDUE = "overdue"  # past due, within the grace period
    FOR_SUSPENSION = "for suspension"  # past due and the grace period: staff should suspend


@dataclass(frozen=True)
class DueItem:
    number: str
    holder: str
    factory: str | None
    granted: date
    last_visit: date | None
    last_result: str | None
    due: date
    #: Days from today to the due date (negative: overdue by that many days).
    days_left: int
    state: DueState
    corrective_due: date | None
    corrective_overdue: bool

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "holder": self.holder, "factory": self.factory, "granted": self.granted.isoformat(),
                "last_visit": self.last_visit and self.last_visit.isoformat(), "last_result": self.last_result,
                "due": self.due.isoformat(), "days_left": self.days_left, "state": self.state.value,
                "corrective_due": self.corrective_due and self.corrective_due.isoformat(),
                "corrective_overdue": self.corrective_overdue}


def next_due(granted: date, last: Visit | None, rules: SurveillanceRules) -> date:
    """The next visit is due one interval after the latest visit, or after the grant before the first."""
    return add_months(last.visited_on if last is not None else granted, rules.interval_months)


def due_list(candidates: Iterable[tuple[Certificate, Visit | None]], rules: SurveillanceRules, *, within_days: int,
             now: datetime) -> list[DueItem]:
    """What is due within `within_days` of today (Jakarta), overdue, or for suspension; also every
    certificate whose corrective action is overdue. Expired certificates are left out. Sorted by due date."""
    today = local_day(now)
    out = []
    for cert, last in candidates:
        if is_expired(cert.expires, now):
            continue
        due = next_due(cert.granted, last, rules)
        corrective = last.corrective_due if last is not None else None
        corrective_overdue = corrective is not None and corrective < today
        if due > today + timedelta(days=within_days) and not corrective_overdue:
            continue
        days_left = (due - today).days
        state = (DueState.DUE if days_left >= 0 else
                 DueState.OVERDUE if -days_left <= rules.grace_days else DueState.FOR_SUSPENSION)
        out.append(DueItem(cert.number, cert.holder, cert.record.get("factory_name"), cert.granted,
                           last.visited_on if last else None, last.result.value if last else None, due, days_left, state,
                           corrective, corrective_overdue))
    return sorted(out, key=lambda i: (i.due, i.number))


# -- the report file -----------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredReport:
    sha256: str
    size: int
    media_type: str
    path: Path


def store_report(source: Path, store: Path, rules: SurveillanceRules) -> StoredReport:
    """Check the visit report (exists, not empty, not too large, a PDF, PNG or JPEG by its first
    bytes) and copy it to `store/<sha256[:2]>/<sha256>.<ext>` atomically; the same report twice is
    stored once."""
    try:
        size = source.stat().st_size
        if not source.is_file():
            raise SurveillanceError(f"report {source}: not a regular file")
    except FileNotFoundError:
        raise SurveillanceError(f"report {source}: no such file") from None
    except OSError as exc:
        raise SurveillanceError(f"report {source}: cannot be read ({exc.strerror})") from None
    if size == 0:
        raise SurveillanceError(f"report {source}: the file is empty")
    if size > rules.report_max_bytes:
        raise SurveillanceError(f"report {source}: {size} bytes is more than the {rules.report_max_bytes} bytes allowed "
                                "(product.yaml: surveillance.report_max_bytes)")
    with source.open("rb") as fh:
        data = fh.read(rules.report_max_bytes + 1)
    if len(data) > rules.report_max_bytes:  # grew while we looked
        raise SurveillanceError(f"report {source}: more than the {rules.report_max_bytes} bytes allowed")
    kind = next((v for magic, v in REPORT_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise SurveillanceError(f"report {source}: not a PDF, PNG or JPEG file (by its first bytes)")
    digest = hashlib.sha256(data).hexdigest()
    target = store / digest[:2] / f"{digest}.{kind[1]}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".report-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return StoredReport(digest, len(data), kind[0], target)


def new_visit(report: StoredReport, result: VisitResult, visited_on: date, rules: SurveillanceRules) -> NewVisit:
    return NewVisit(visited_on, result, report.sha256, report.size, report.media_type,
                    rules.corrective_due(result, visited_on))
