"""`certgen` commands of the service standard: applications, the calendar, complaints, the
yearly report. Registered on the `certgen` group by `register(main)`; each command parses,
makes one library call, prints."""

from __future__ import annotations

import json
from typing import Any

import click

from .cli_support import AppContext, user_errors

pass_app = click.make_pass_decorator(AppContext, ensure=True)


def register(main: click.Group) -> None:
    """Add the service commands to the `certgen` group."""
    main.add_command(calendar_cmd)


def _calendar(app: AppContext):
    """The calendar of the template folder in force (CERTGEN_TEMPLATES, else the bundled one)."""
    from .service.calendar import CalendarData, WorkingCalendar

    folder = app.get_settings().templates_dir
    return WorkingCalendar(CalendarData.load(folder / "calendar" / "cuti-bersama.yaml" if folder else None))


def _rules(app: AppContext):
    from .service.rules import ServiceRules

    folder = app.get_settings().templates_dir
    return ServiceRules.load(folder / "service.yaml" if folder else None)


@click.command("calendar")
@click.argument("year", type=click.IntRange(1950, 2150))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def calendar_cmd(app: AppContext, year: int, as_json: bool) -> None:
    """Show YEAR's national holidays and decreed collective leave (cuti bersama)."""
    with user_errors():
        cal = _calendar(app)
        off = cal.off_days(year)
        decree = cal.decree(year)
        working = sum(1 for d in cal.days(year) if d.working)
    if as_json:
        data: dict[str, Any] = {"year": year, "working_days": working, "decree": decree.decree if decree else None,
                                "days": [{"date": d.day.isoformat(), "kind": d.kind.value, "name": d.name} for d in off]}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for d in off:
        label = "libur nasional" if d.kind.value == "holiday" else "cuti bersama"
        click.echo(f"{d.day:%Y-%m-%d} {d.day:%a}  {label:14}  {d.name}")
    click.echo(f"{working} working days in {year}")
    if decree and decree.decree:
        click.echo(f"collective leave: {' '.join(decree.decree.split())}")
    else:
        click.echo(f"warning: no decree of collective leave recorded for {year}; only national holidays are known "
                   f"(add it to templates/calendar/cuti-bersama.yaml)", err=True)
