"""The deadline clock of one application: working days used and left, the deadline, lateness.

Pure functions over days. The rule (docs/service.md, "Clocks"):

* the clock starts on the day the last of its kind's start conditions is recorded (day 0);
  day 1 is the next working day;
* a working day counts when the clock runs at the close of that day: not before the start,
  not after the result is reported, and not while a pause is open (a pause opened on day P
  and closed on day R leaves out the working days P..R-1);
* the result is late when the days counted up to the day it was reported exceed the days
  allowed (the kind's days less any redeemed credit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Sequence

from .calendar import WorkingCalendar


@dataclass(frozen=True)
class Pause:
    reason: str
    start: date
    #: None while the pause is open.
    end: date | None = None


@dataclass(frozen=True)
class Clock:
    allowed: int
    #: Day 0 of the clock, or None while a start condition is missing.
    started: date | None
    used: int
    #: Working days left (negative when late).
    left: int
    #: The day the allowed days run out if nothing pauses the clock again; None while it is
    #: paused or not started.
    deadline: date | None
    paused: bool
    reported: date | None
    late: bool

    @property
    def days_late(self) -> int:
        return max(0, -self.left)


def _paused_on(day: date, pauses: Sequence[Pause]) -> bool:
    return any(p.start <= day and (p.end is None or day < p.end) for p in pauses)


def compute(calendar: WorkingCalendar, allowed: int, started: date | None, pauses: Sequence[Pause],
            reported: date | None, today: date) -> Clock:
    """The clock as it stands at the close of `today` (or at the report day, when reported)."""
    if started is None:
        return Clock(allowed, None, 0, allowed, None, False, reported, False)
    until = reported if reported is not None else today
    used = 0
    current = started + timedelta(days=1)
    while current <= until:
        if calendar.is_working(current) and not _paused_on(current, pauses):
            used += 1
        current += timedelta(days=1)
    left = allowed - used
    paused = reported is None and any(p.end is None for p in pauses)
    deadline = None
    if reported is None and not paused:
        deadline = calendar.add(max(until, started), left) if left > 0 else _day_reached(calendar, started, pauses, allowed, until)
    elif reported is not None:
        deadline = (_day_reached(calendar, started, pauses, allowed, reported) if used >= allowed
                    else calendar.add(reported, left))
    return Clock(allowed, started, used, left, deadline, paused, reported, reported is not None and used > allowed)


def _day_reached(calendar: WorkingCalendar, started: date, pauses: Sequence[Pause], allowed: int,
                 until: date) -> date | None:
    """The day on which the `allowed`-th counted day fell (at or before `until`)."""
    if allowed == 0:
        return started
    count, current = 0, started
    while current < until:
        current += timedelta(days=1)
        if calendar.is_working(current) and not _paused_on(current, pauses):
            count += 1
            if count == allowed:
                return current
    return None
