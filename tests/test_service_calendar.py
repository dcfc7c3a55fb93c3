"""The working-day calendar and the deadline clock, pinned on known days of 2025 and 2026."""

from __future__ import annotations

from datetime import date

import holidays
import pytest

from certgen.errors import ConfigError
from certgen.service.calendar import CalendarData, DayKind, WorkingCalendar
from certgen.service.clock import Pause, compute
from certgen.service.rules import ServiceRules


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar()


# The decrees, as published (SKB 1017/2024 as amended by 933/2025; SKB 1497/2025).
LEAVE_2025 = ["2025-01-28", "2025-03-28", "2025-04-02", "2025-04-03", "2025-04-04", "2025-04-07", "2025-05-13",
              "2025-05-30", "2025-06-09", "2025-08-18", "2025-12-26"]
LEAVE_2026 = ["2026-02-16", "2026-03-18", "2026-03-20", "2026-03-23", "2026-03-24", "2026-05-15", "2026-05-28",
              "2026-12-24"]
HOLIDAYS_2025 = ["2025-01-01", "2025-01-27", "2025-01-29", "2025-03-29", "2025-03-31", "2025-04-01", "2025-04-18",
                 "2025-04-20", "2025-05-01", "2025-05-12", "2025-05-29", "2025-06-01", "2025-06-06", "2025-06-27",
                 "2025-08-17", "2025-09-05", "2025-12-25"]
HOLIDAYS_2026 = ["2026-01-01", "2026-01-16", "2026-02-17", "2026-03-19", "2026-03-21", "2026-03-22", "2026-04-03",
                 "2026-04-05", "2026-05-01", "2026-05-14", "2026-05-27", "2026-05-31", "2026-06-01", "2026-06-16",
                 "2026-08-17", "2026-08-25", "2026-12-25"]


@pytest.mark.parametrize("year, leave, public", [(2025, LEAVE_2025, HOLIDAYS_2025), (2026, LEAVE_2026, HOLIDAYS_2026)])
def test_known_days_of_the_year(cal, year, leave, public):
    off = {d.day.isoformat(): d.kind for d in cal.off_days(year)}
    assert sorted(k for k, v in off.items() if v is DayKind.LEAVE) == leave
    assert sorted(k for k, v in off.items() if v is DayKind.HOLIDAY) == public
    for day in leave:
        assert not cal.is_working(date.fromisoformat(day))


def test_yaml_agrees_with_the_holidays_packages_own_list_of_joint_holidays(cal):
    # an independent source: the package's "government" category lists the decreed joint holidays
    for year in (2025, 2026):
        joint = holidays.country_holidays("ID", years=year, categories=("government",))
        assert sorted(joint) == sorted(d.day for d in cal.off_days(year) if d.kind is DayKind.LEAVE)


def test_counting_and_adding_working_days(cal):
    # Idul Fitri 2026: Wed 18 Mar leave, 19 Nyepi, 20 leave, 21-22 Eid (weekend), 23-24 leave
    assert cal.add(date(2026, 3, 17), 1) == date(2026, 3, 25)
    assert cal.add(date(2026, 3, 17), 3) == date(2026, 3, 27)
    assert cal.count(date(2026, 3, 17), date(2026, 3, 27)) == 3
    assert cal.count(date(2026, 3, 27), date(2026, 3, 17)) == 0
    assert cal.add(date(2026, 3, 17), 0) == date(2026, 3, 17)
    # an ordinary week
    assert cal.add(date(2026, 11, 20), 1) == date(2026, 11, 23)  # Friday -> Monday


def test_a_deadline_that_crosses_the_idul_fitri_leave_2025(cal):
    # product type 1 (14 working days) complete on Thu 27 March 2025: 28 Mar leave, 29 Nyepi (Sat),
    # 31 Mar-1 Apr Idul Fitri, 2-4 and 7 Apr leave; counting resumes on Tue 8 April
    clock = compute(cal, 14, date(2025, 3, 27), [], None, date(2025, 3, 27))
    # 8-11 April (4), 14-17 (4; Good Friday 18th), 21-25 (5), Monday 28 April is the 14th
    assert clock.deadline == date(2025, 4, 28)
    days = [d for d in (date(2025, 4, n) for n in range(1, 29)) if cal.is_working(d)]
    assert len(days) == 14 and days[0] == date(2025, 4, 8)
    reported_late = compute(cal, 14, date(2025, 3, 27), [], date(2025, 4, 29), date(2025, 4, 30))
    assert reported_late.used == 15 and reported_late.late and reported_late.days_late == 1
    on_time = compute(cal, 14, date(2025, 3, 27), [], date(2025, 4, 28), date(2025, 4, 30))
    assert on_time.used == 14 and not on_time.late and on_time.deadline == date(2025, 4, 28)


def test_a_clock_paused_for_payment_across_a_weekend(cal):
    # started Mon 2 Nov 2026; paused for payment on Fri 6 Nov, paid on Tue 10 Nov:
    # Fri 6 and Mon 9 do not count, Sat-Sun are not working days anyway
    pauses = [Pause("payment", date(2026, 11, 6), date(2026, 11, 10))]
    clock = compute(cal, 14, date(2026, 11, 2), pauses, None, date(2026, 11, 10))
    assert clock.used == 4  # Tue 3, Wed 4, Thu 5, (Fri 6 paused, Mon 9 paused), Tue 10
    assert clock.left == 10
    assert clock.deadline == cal.add(date(2026, 11, 10), 10) == date(2026, 11, 24)
    unpaused = compute(cal, 14, date(2026, 11, 2), [], None, date(2026, 11, 10))
    assert unpaused.used == 6 and unpaused.deadline == date(2026, 11, 20)
    open_pause = compute(cal, 14, date(2026, 11, 2), [Pause("payment", date(2026, 11, 6))], None, date(2026, 11, 12))
    assert open_pause.paused and open_pause.deadline is None and open_pause.used == 3


def test_clock_not_started_and_credit(cal):
    assert compute(cal, 14, None, [], None, date(2026, 11, 2)).started is None
    with_credit = compute(cal, 13, date(2026, 11, 2), [], None, date(2026, 11, 2))
    assert with_credit.deadline == date(2026, 11, 19)


def test_calendar_yaml_errors_name_the_place():
    with pytest.raises(ConfigError, match=r"years.2026.leave: 2025-12-31 is not in 2026"):
        CalendarData.from_config({"years": {2026: {"leave": {"2025-12-31": "x"}}}})
    with pytest.raises(ConfigError, match=r"years.2026: unknown key\(s\) cuti"):
        CalendarData.from_config({"years": {2026: {"cuti": {}}}})
    with pytest.raises(ConfigError, match=r"years.2026.leave: 'soon' is not a date"):
        CalendarData.from_config({"years": {2026: {"leave": {"soon": "x"}}}})


def test_corrections_move_a_holiday_and_add_a_working_saturday():
    data = CalendarData.from_config({"years": {2026: {"not_holidays": {"2026-05-27": "moved"},
                                                      "holidays": {"2026-05-26": "Iduladha (moon sighting)"},
                                                      "working": {"2026-05-30": "working Saturday"}}}})
    cal = WorkingCalendar(data)
    assert cal.is_working(date(2026, 5, 27)) and not cal.is_working(date(2026, 5, 26))
    assert cal.is_working(date(2026, 5, 30))


def test_service_rules_are_data():
    rules = ServiceRules.load()
    assert {k: r.days for k, r in rules.kinds.items()} == {"product-type5": 41, "product-type1": 14, "person": 14,
                                                            "training": 20}
    assert rules.kinds["training"].starts_when == ("complete", "quota_met", "approval_letter")
    assert "payment" not in rules.kinds["person"].pauses
    with pytest.raises(ConfigError, match=r"kinds.person.pauses: 'holiday' is not defined"):
        import yaml
        from certgen.service.rules import DEFAULT_FILE
        data = yaml.safe_load(DEFAULT_FILE.read_text())
        data["kinds"]["person"]["pauses"] = ["holiday"]
        ServiceRules.from_config(data)


def test_calendar_command(cli):
    from certgen.cli import main

    result = cli(main, ["calendar", "2026"])
    assert result.exit_code == 0, result.output
    assert "2026-03-20 Fri  cuti bersama    Cuti bersama Idulfitri 1447 H" in result.output
    assert "2026-03-19 Thu  libur nasional" in result.output
    assert "Nomor 1497 Tahun 2025" in result.output
    import json
    data = json.loads(cli(main, ["calendar", "2025", "--json"]).output)
    assert data["working_days"] == 365 - 104 - 24  # 104 weekend days; 13 holidays and 11 leave days on weekdays
    assert sum(1 for d in data["days"] if d["kind"] == "leave") == 11
    unknown = cli(main, ["calendar", "2031"])
    assert unknown.exit_code == 0 and "no decree of collective leave recorded for 2031" in unknown.output
