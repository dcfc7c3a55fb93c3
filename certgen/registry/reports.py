"""Reports of suspicious certificates from the public: intake checks, caps, moderation.

What the public types is stored as text and never interpreted: control characters other than
the line break are refused at intake (an escape sequence or a carriage return has no business
in a complaint, and would reach a staff terminal), and every command that prints a report
escapes what remains (certgen.cli_support.safe). Caps per sending address, per certificate and
per day are counted in the shared `abuse_counters` table, in the transaction that stores the
report, so they hold across every web worker and instance.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Iterable

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..errors import NotFoundError, RegistryError
from .counters import increment, prune
from .lifecycle import WIB, local_day
from .tables import ReportRow

#: Moderation states: a new report, judged spam, being looked into, dealt with.
STATUSES = ("new", "spam", "in_review", "closed")
MAX_MESSAGE = 2000
MAX_CONTACT = 200
MAX_NUMBER = 40
MAX_SEAL = 4096
COMPLAINT_DAY_KEY = "complaint:day"
#: Characters refused besides the C0/C1 controls: bidirectional overrides and isolates (they
#: reorder what a terminal shows, "Trojan Source") and the Unicode line and paragraph separators.
_FORMATTING = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x2028, 0x2029}


class ReportInputError(RegistryError):
    """A report field holds what intake refuses; the message names the field and the character."""


class ReportLimitError(RegistryError):
    """A cap on reports is reached; `cap` says which (address, certificate, day)."""

    def __init__(self, message: str, cap: str, retry_after: int) -> None:
        super().__init__(message)
        self.cap = cap
        self.retry_after = retry_after


@dataclass(frozen=True)
class SuspicionReport:
    """A public report of a suspicious certificate."""

    id: int
    created_at: datetime
    number: str | None
    seal: str | None
    verdict: str | None
    message: str
    contact: str | None
    status: str
    moderated_at: datetime | None = None
    moderated_by: str | None = None


@dataclass(frozen=True)
class ReportCaps:
    """Reports accepted per Jakarta day: from one address, about one certificate, in all."""

    per_address: int = 5
    per_certificate: int = 20
    per_day: int = 500


def refused_character(value: str, *, multiline: bool) -> tuple[int, str] | None:
    """(position, character) of the first character intake refuses, or None."""
    for position, char in enumerate(value):
        code = ord(char)
        if char == "\n" and multiline:
            continue
        if unicodedata.category(char) == "Cc" or code in _FORMATTING:
            return position, char
    return None


def clean_text(field: str, value: str | None, *, max_length: int, multiline: bool = False) -> str | None:
    """`value` stripped, with Windows and old-Mac line breaks made `\\n` (browsers send CRLF from
    a textarea); None when empty. Raises `ReportInputError` naming the field, the character
    and its position for a control character (other than a line break where `multiline`)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReportInputError(f"{field}: must be text")
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.strip()
    found = refused_character(value, multiline=multiline)
    if found is not None:
        position, char = found
        name = unicodedata.name(char, "control character")
        allowed = "only line breaks are allowed" if multiline else "no control characters are allowed"
        raise ReportInputError(f"{field}: the character U+{ord(char):04X} ({name}) at position {position + 1} "
                               f"is not allowed; {allowed}")
    if len(value) > max_length:
        raise ReportInputError(f"{field}: at most {max_length} characters ({len(value)} given)")
    return value or None


def day_window(now: datetime) -> tuple[int, int]:
    """(start, seconds left) of the Jakarta day of `now`: the window of the daily caps."""
    start = datetime.combine(local_day(now), time(0), WIB)
    return int(start.timestamp()), max(1, int((start + timedelta(days=1) - now).total_seconds()))


def add_report(engine: Engine, *, message: str, now: datetime, number: str | None = None, seal: str | None = None,
               verdict: str | None = None, contact: str | None = None, client: str | None = None,
               certificate: str | None = None, caps: ReportCaps | None = None) -> SuspicionReport:
    """Check and store a report. `client` is the sending address and `certificate` the number the
    report is about (from `number` or the seal); with `caps`, a report over a cap raises
    `ReportLimitError` and stores nothing (a refused attempt does not count)."""
    message_text = clean_text("message", message, max_length=MAX_MESSAGE, multiline=True)
    if not message_text:
        raise ReportInputError("message: a report needs a message")
    row = ReportRow(created_at=now, number=clean_text("number", number, max_length=MAX_NUMBER),
                    seal=clean_text("seal", seal, max_length=MAX_SEAL), verdict=verdict, message=message_text,
                    contact=clean_text("contact", contact, max_length=MAX_CONTACT), status="new")
    with Session(engine, expire_on_commit=False) as session, session.begin():
        if caps is not None:
            _count(session, now, client, certificate or row.number, caps)
        session.add(row)
        session.flush()
        return _report(row)


def _count(session: Session, now: datetime, client: str | None, certificate: str | None, caps: ReportCaps) -> None:
    window, left = day_window(now)
    keys: dict[str, tuple[str, int, str]] = {}  # checked in this order: the most specific cap is named
    if client:
        keys[f"complaint:addr:{client}"] = ("address", caps.per_address, "too many reports from your address today")
    if certificate:
        keys[f"complaint:cert:{certificate.strip().upper()}"] = (
            "certificate", caps.per_certificate, "this certificate has been reported many times today; staff are on it")
    keys[COMPLAINT_DAY_KEY] = ("day", caps.per_day, "the service takes no more reports today")
    totals = increment(session, window, {key: 1 for key in keys})
    if totals[COMPLAINT_DAY_KEY] == 1:  # the day's first complaint clears the counters of earlier days
        prune(session, window, "complaint:")
    for key, (cap, limit, text) in keys.items():
        if totals[key] > limit:
            raise ReportLimitError(f"{text} (at most {limit}); please try again tomorrow", cap, left)


def list_reports(engine: Engine, *, status: str | Iterable[str] | None = None, limit: int = 1000) -> list[SuspicionReport]:
    """Reports, newest first; only those in `status` (one or several) when given."""
    query = select(ReportRow).order_by(ReportRow.id.desc()).limit(limit)
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        for value in wanted:
            _check_status(value)
        query = query.where(ReportRow.status.in_(wanted))
    with Session(engine.execution_options(sqlite_begin="DEFERRED")) as session, session.begin():
        return [_report(r) for r in session.scalars(query)]


def mark_report(engine: Engine, report_id: int, status: str, *, now: datetime, actor: str) -> SuspicionReport:
    """Move a report to `status`, recording when and by whom."""
    _check_status(status)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        row = session.get(ReportRow, report_id)
        if row is None:
            raise NotFoundError(f"there is no report #{report_id}")
        row.status, row.moderated_at, row.moderated_by = status, now, actor[:100]
        session.flush()
        return _report(row)


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise RegistryError(f"report status {status!r} is not one of {', '.join(STATUSES)}")


def _report(row: ReportRow) -> SuspicionReport:
    return SuspicionReport(row.id, row.created_at, row.number, row.seal, row.verdict, row.message, row.contact,
                           row.status, row.moderated_at, row.moderated_by)
