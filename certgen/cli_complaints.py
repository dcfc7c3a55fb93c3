"""`certgen complaints ...` and `certgen report service`: the complaints register and the
yearly evaluation of the service standard (registered by `certgen.cli_service.register`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .cli_service import _applications, _calendar, _issue_env, _rules, pass_app
from .cli_support import AppContext, user_errors


# -- complaints and appeals ----------------------------------------------------------------------

def _complaints(app: AppContext):
    from .registry import Registry
    from .service.complaints import Complaints

    return Complaints(Registry.open(app.get_settings().registry_url), _rules(app), _calendar(app))


def _complaint_json(c: Any) -> dict[str, Any]:
    k = c.clock
    return {"number": c.number, "type": c.type, "channel": c.channel, "subject_kind": c.subject_kind,
            "subject": c.subject, "summary": c.summary, "contact": c.contact, "status": c.status,
            "received_at": c.received_at.isoformat(), "answered_at": c.answered_at.isoformat() if c.answered_at else None,
            "answered_by": c.answered_by, "answer": c.answer, "outcome": c.outcome,
            "closed_at": c.closed_at.isoformat() if c.closed_at else None, "letter_sha256": c.letter_sha256,
            "clock": {"allowed": k.allowed, "used": k.used, "left": k.left,
                      "deadline": k.deadline.isoformat() if k.deadline else None, "late": k.late},
            "steps": list(c.steps)}


def _complaint_line(c: Any) -> str:
    k = c.clock
    clock = (f"answered after {k.used} of {k.allowed} working days" if c.answered_at
             else f"{k.used} of {k.allowed} working days, {k.left} left" + (f", deadline {k.deadline:%Y-%m-%d}" if k.deadline else ""))
    about = c.subject or "general"
    return f"{c.number}  {c.type:9} {c.channel:14} {c.status:9} {about:18} {clock}" + (f"  [{c.outcome}]" if c.outcome else "")


@click.group("complaints")
def complaints_group() -> None:
    """Complaints and appeals from every channel: register, list, review, answer, close."""


@complaints_group.command("new")
@click.option("--channel", required=True, help="letter, in_person, email, website, suggestion_box, telephone, whatsapp.")
@click.option("--summary", required=True, help="What the complaint is about.")
@click.option("--appeal", is_flag=True, help="An appeal against a decision (needs --certificate or --application).")
@click.option("--certificate", help="The certificate it is about.")
@click.option("--application", help="The application it is about.")
@click.option("--contact", help="How to reach the complainant.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def complaints_new(app: AppContext, channel: str, summary: str, appeal: bool, certificate: str | None,
                   application: str | None, contact: str | None, as_json: bool) -> None:
    """Register a complaint or appeal received by any channel."""
    if certificate and application:
        raise click.UsageError("give --certificate or --application, not both")
    kind = "certificate" if certificate else "application" if application else "general"
    with user_errors():
        c = _complaints(app).register_complaint(channel=channel, summary=summary, now=app.now(), actor=app.actor(),
                                                type="appeal" if appeal else "complaint", subject_kind=kind,
                                                subject=certificate or application, contact=contact)
    click.echo(json.dumps(_complaint_json(c), indent=2, ensure_ascii=False) if as_json else _complaint_line(c))


@complaints_group.command("list")
@click.option("--status", type=click.Choice(["received", "in_review", "answered", "closed"]))
@click.option("--channel")
@click.option("--type", "type_", type=click.Choice(["complaint", "appeal"]))
@click.option("--year", type=int)
@click.option("--overdue", is_flag=True, help="Only cases past their working-day deadline.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def complaints_list(app: AppContext, status: str | None, channel: str | None, type_: str | None, year: int | None,
                    overdue: bool, as_json: bool) -> None:
    """List cases, filtered."""
    with user_errors():
        items = [c for c in _complaints(app).iter(app.now(), status=status, channel=channel, type=type_, year=year)
                 if not overdue or c.clock.left < 0]
    if as_json:
        click.echo(json.dumps([_complaint_json(c) for c in items], indent=2, ensure_ascii=False))
        return
    for c in items:
        click.echo(_complaint_line(c))
    click.echo(f"{len(items)} case(s)")


@complaints_group.command("show")
@click.argument("number")
@pass_app
def complaints_show(app: AppContext, number: str) -> None:
    """Show a case with its history."""
    with user_errors():
        c = _complaints(app).get(number, app.now())
    click.echo(json.dumps(_complaint_json(c), indent=2, ensure_ascii=False))


@complaints_group.command("review")
@click.argument("number")
@pass_app
def complaints_review(app: AppContext, number: str) -> None:
    """Take a received case into review."""
    with user_errors():
        c = _complaints(app).review(number, now=app.now(), actor=app.actor())
    click.echo(_complaint_line(c))


@complaints_group.command("answer")
@click.argument("number")
@click.option("--outcome", required=True, type=click.Choice(["upheld", "partly_upheld", "rejected"]))
@click.option("--text", required=True, help="The answer.")
@click.option("--letter", is_flag=True, help="Also write the signed answer letter (DATA/complaints/NUMBER.pdf).")
@pass_app
def complaints_answer(app: AppContext, number: str, outcome: str, text: str, letter: bool) -> None:
    """Answer a case in review (an appeal: by someone not involved in its subject)."""
    from .service.letters import answer_letter

    with user_errors():
        service = _complaints(app)
        c = service.answer(number, text, outcome, now=app.now(), actor=app.actor())
        if letter:
            path, _ = answer_letter(service, c.number, _issue_env(app, service), app.get_settings().data_dir / "complaints")
            click.echo(f"answer letter: {path}")
    click.echo(_complaint_line(c))


@complaints_group.command("close")
@click.argument("number")
@pass_app
def complaints_close(app: AppContext, number: str) -> None:
    """Close an answered case."""
    with user_errors():
        c = _complaints(app).close(number, now=app.now(), actor=app.actor())
    click.echo(_complaint_line(c))


# -- the yearly report ---------------------------------------------------------------------------

@click.group("report")
def report_group() -> None:
    """Yearly reports."""


@report_group.command("service")
@click.option("--year", type=click.IntRange(2000, 9999), required=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--pdf", "pdf", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the signed PDF report with charts here.")
@pass_app
def report_service(app: AppContext, year: int, fmt: str, pdf: Path | None) -> None:
    """The service's yearly evaluation: per kind, counts, median and 90th percentile working days,
    share on time, late cases, apology letters; complaints by channel and outcome."""
    from .output import write_atomic
    from .service.report import build_report, to_csv, to_table

    with user_errors():
        apps = _applications(app, notify=False)
        report = build_report(apps, _complaints(app), year, app.now())
        if pdf is not None:
            from .service.letters import signed_report_pdf

            pdf.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(pdf, signed_report_pdf(report, _issue_env(app, apps)))
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    elif fmt == "csv":
        click.echo(to_csv(report), nl=False)
    else:
        click.echo(to_table(report))
    if pdf is not None:
        click.echo(f"PDF report: {pdf}", err=True)
