"""The yearly evaluation of the service (the standard: performance is evaluated once a year).

Figures per kind of application registered in the year: how many, how many reported, the
median and 90th percentile of the working days used (over those reported), the share reported
on time, the late cases, the apology letters issued and redeemed; and complaints and appeals
received in the year by channel and by outcome. Percentiles are nearest-rank (the smallest
value with at least p% of the values at or below it); the median is the middle value, or the
mean of the two middle values.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Sequence

from ..registry.lifecycle import local_day
from .applications import Applications
from .complaints import Complaints

KIND_ALL = "all"


def median(values: Sequence[int]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: Sequence[int], p: float) -> int | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass(frozen=True)
class KindFigures:
    kind: str
    days_allowed: int | None
    applications: int
    reported: int
    open: int
    median_days: float | None
    p90_days: int | None
    on_time: int
    late: int
    on_time_share: float | None
    letters_issued: int
    letters_redeemed: int


@dataclass(frozen=True)
class ServiceReport:
    year: int
    standard: str
    generated_at: str
    kinds: list[KindFigures]
    complaints_by_channel: dict[str, int] = field(default_factory=dict)
    complaints_by_outcome: dict[str, int] = field(default_factory=dict)
    appeals: int = 0
    complaints_open: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_report(apps: Applications, complaints: Complaints, year: int, now: datetime) -> ServiceReport:
    rows = list(apps.iter(now, year=year))
    kinds: list[KindFigures] = []
    for kind in [*apps.rules.kinds, KIND_ALL]:
        mine = [a for a in rows if kind == KIND_ALL or a.kind == kind]
        reported = [a for a in mine if a.closed and a.clock.started is not None]
        days = [a.clock.used for a in reported]
        late = sum(1 for a in reported if a.clock.late)
        kinds.append(KindFigures(
            kind=kind, days_allowed=apps.rules.kinds[kind].days if kind != KIND_ALL else None, applications=len(mine),
            reported=len(reported), open=sum(1 for a in mine if not a.closed), median_days=median(days),
            p90_days=percentile(days, 90), on_time=len(reported) - late, late=late,
            on_time_share=round((len(reported) - late) / len(reported), 4) if reported else None,
            letters_issued=sum(1 for a in mine if a.apology_letter),
            letters_redeemed=sum(1 for a in mine if a.credit_letter)))
    cases = list(complaints.iter(now, year=year))
    by_channel = {c: sum(1 for x in cases if x.channel == c) for c in apps.rules.complaint_channels}
    outcomes = {o: sum(1 for x in cases if x.outcome == o) for o in ("upheld", "partly_upheld", "rejected")}
    outcomes["pending"] = sum(1 for x in cases if x.outcome is None)
    return ServiceReport(year, apps.rules.standard, now.isoformat(), kinds, by_channel, outcomes,
                         sum(1 for x in cases if x.type == "appeal"), sum(1 for x in cases if x.status != "closed"))


COLUMNS = ["kind", "days_allowed", "applications", "reported", "open", "median_days", "p90_days", "on_time", "late",
           "on_time_share", "letters_issued", "letters_redeemed"]


def to_csv(report: ServiceReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", *COLUMNS])
    for k in report.kinds:
        writer.writerow(["applications", *[_cell(getattr(k, c)) for c in COLUMNS]])
    for channel, count in report.complaints_by_channel.items():
        writer.writerow(["complaints_by_channel", channel, count])
    for outcome, count in report.complaints_by_outcome.items():
        writer.writerow(["complaints_by_outcome", outcome, count])
    return out.getvalue()


def to_table(report: ServiceReport) -> str:
    lines = [f"Service report {report.year} ({report.standard})", ""]
    head = f"{'kind':14}{'days':>5}{'apps':>6}{'done':>6}{'open':>6}{'median':>8}{'p90':>5}{'on time':>9}{'late':>6}{'letters':>9}{'redeemed':>10}"
    lines.append(head)
    lines.append("-" * len(head))
    for k in report.kinds:
        share = f"{k.on_time_share:.0%}" if k.on_time_share is not None else "-"
        lines.append(f"{k.kind:14}{_cell(k.days_allowed) or '-':>5}{k.applications:>6}{k.reported:>6}{k.open:>6}"
                     f"{_cell(k.median_days) or '-':>8}{_cell(k.p90_days) or '-':>5}{share:>9}{k.late:>6}"
                     f"{k.letters_issued:>9}{k.letters_redeemed:>10}")
    lines += ["", "Complaints and appeals by channel: " + ", ".join(f"{c} {n}" for c, n in report.complaints_by_channel.items()),
              "by outcome: " + ", ".join(f"{o} {n}" for o, n in report.complaints_by_outcome.items())
              + f"; appeals {report.appeals}; not closed {report.complaints_open}"]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def local_year(moment: datetime) -> int:
    return local_day(moment).year
