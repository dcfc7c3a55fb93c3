"""The Indonesian working-day calendar: weekends, national holidays, decreed collective leave.

National holidays come from the `holidays` package (country ID, category "public"); the
collective leave days (cuti bersama) that the three ministers decree each year, and any
correction to the package (an Islamic holiday moved after the moon sighting, a decreed working
Saturday), come from a staff-edited YAML file (templates/calendar/cuti-bersama.yaml). The
library reads the file only through `CalendarData.from_config`; the CLI loads it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from ..errors import ConfigError

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "templates" / "calendar" / "cuti-bersama.yaml"


class DayKind(str, enum.Enum):
    WORKING = "working"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"  # national holiday (libur nasional)
    LEAVE = "leave"  # decreed collective leave (cuti bersama)


@dataclass(frozen=True)
class Day:
    day: date
    kind: DayKind
    name: str | None = None

    @property
    def working(self) -> bool:
        return self.kind is DayKind.WORKING


@dataclass(frozen=True)
class YearData:
    """What the decree of one year (and the staff's corrections) add to the package."""

    decree: str | None = None
    sources: tuple[str, ...] = ()
    leave: Mapping[date, str] = field(default_factory=dict)
    holidays: Mapping[date, str] = field(default_factory=dict)
    not_holidays: Mapping[date, str] = field(default_factory=dict)
    working: Mapping[date, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CalendarData:
    years: Mapping[int, YearData]
    source: str = "(built in)"

    @classmethod
    def load(cls, path: Path | None = None) -> "CalendarData":
        path = Path(path or DEFAULT_FILE)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: calendar file is missing") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        return cls.from_config(data, str(path))

    @classmethod
    def from_config(cls, data: Any, where: str = "calendar") -> "CalendarData":
        """From the YAML's mapping; rejects unknown keys and dates outside their year."""
        if not isinstance(data, Mapping) or set(data) != {"years"} or not isinstance(data["years"], Mapping):
            raise ConfigError(f"{where}: expected exactly one top-level key `years` holding a mapping")
        years: dict[int, YearData] = {}
        for year, body in data["years"].items():
            at = f"{where}: years.{year}"
            if not isinstance(year, int) or not 1900 < year < 2200:
                raise ConfigError(f"{at}: not a year")
            if not isinstance(body, Mapping):
                raise ConfigError(f"{at}: expected a mapping")
            unknown = set(body) - {"decree", "sources", "leave", "holidays", "not_holidays", "working"}
            if unknown:
                raise ConfigError(f"{at}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
            parts = {name: _days(body.get(name) or {}, f"{at}.{name}", year)
                     for name in ("leave", "holidays", "not_holidays", "working")}
            sources = body.get("sources") or ()
            if not isinstance(sources, (list, tuple)) or not all(isinstance(s, str) for s in sources):
                raise ConfigError(f"{at}.sources: expected a list of addresses")
            decree = body.get("decree")
            if decree is not None and not isinstance(decree, str):
                raise ConfigError(f"{at}.decree: expected text")
            years[year] = YearData(decree, tuple(sources), **parts)
        return cls(years, where)


def _days(value: Any, where: str, year: int) -> dict[date, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping of dates to names")
    out: dict[date, str] = {}
    for key, name in value.items():
        day = key if isinstance(key, date) else None
        if day is None:
            try:
                day = date.fromisoformat(str(key))
            except ValueError:
                raise ConfigError(f"{where}: {key!r} is not a date (YYYY-MM-DD)") from None
        if day.year != year:
            raise ConfigError(f"{where}: {day} is not in {year}")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}: {day} needs a name")
        out[day] = name.strip()
    return out


class WorkingCalendar:
    """Which days are working days. Years are looked up lazily and cached."""

    def __init__(self, data: CalendarData | None = None) -> None:
        self.data = data if data is not None else CalendarData.load()
        self._years: dict[int, dict[date, Day]] = {}

    def decree(self, year: int) -> YearData | None:
        """The decree data of `year`, or None when no decree is recorded (collective leave unknown)."""
        return self.data.years.get(year)

    def _year(self, year: int) -> dict[date, Day]:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        import holidays as holidays_pkg

        special: dict[date, Day] = {}
        public = holidays_pkg.country_holidays("ID", years=year, categories=("public",))
        extra = self.data.years.get(year, YearData())
        for day, name in sorted(public.items()):
            if day not in extra.not_holidays:
                special[day] = Day(day, DayKind.HOLIDAY, name)
        for day, name in extra.holidays.items():
            special[day] = Day(day, DayKind.HOLIDAY, name)
        for day, name in extra.leave.items():
            if day not in special:  # a holiday stays a holiday
                special[day] = Day(day, DayKind.LEAVE, name)
        for day, name in extra.working.items():
            special[day] = Day(day, DayKind.WORKING, name)
        self._years[year] = special
        return special

    def day(self, day: date) -> Day:
        found = self._year(day.year).get(day)
        if found is not None:
            return found
        return Day(day, DayKind.WEEKEND if day.weekday() >= 5 else DayKind.WORKING)

    def is_working(self, day: date) -> bool:
        return self.day(day).working

    def days(self, year: int) -> Iterator[Day]:
        current = date(year, 1, 1)
        while current.year == year:
            yield self.day(current)
            current += timedelta(days=1)

    def off_days(self, year: int) -> list[Day]:
        """Holidays and collective leave of `year` (weekends left out), in date order."""
        return [d for d in self.days(year) if d.kind in (DayKind.HOLIDAY, DayKind.LEAVE)]

    def count(self, after: date, until: date) -> int:
        """Working days d with after < d <= until (0 when until <= after)."""
        total, current = 0, after + timedelta(days=1)
        while current <= until:
            total += self.is_working(current)
            current += timedelta(days=1)
        return total

    def add(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (start itself when days is 0)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current = start
        while days:
            current += timedelta(days=1)
            if self.is_working(current):
                days -= 1
        return current
