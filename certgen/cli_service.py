"""`certgen` commands of the service standard: applications, the calendar, complaints, the
yearly report. Registered on the `certgen` group by `register(main)`; each command parses,
makes one library call, prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .cli_support import AppContext, user_errors

pass_app = click.make_pass_decorator(AppContext, ensure=True)


def register(main: click.Group) -> None:
    """Add the service commands to the `certgen` group."""
    main.add_command(calendar_cmd)
    main.add_command(app_group)
    from .cli_complaints import complaints_group, report_group

    main.add_command(complaints_group)
    main.add_command(report_group)


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


# -- applications ------------------------------------------------------------------------------

def _mail(app: AppContext):
    """(mailer, sender, status page address, outbox folder) from the environment: SMTP when
    CERTGEN_SMTP_HOST is set, else the outbox folder DATA/outbox."""
    from .service.notices import OutboxMailer, SmtpMailer

    env = app.environ
    settings = app.get_settings()
    outbox = settings.data_dir / "outbox"
    sender = env.get("CERTGEN_MAIL_FROM", "layanan@sertifikasi.example.id")
    status_url = settings.verify_url[: -len("v/")] + "permohonan"
    host = env.get("CERTGEN_SMTP_HOST")
    if not host:
        return OutboxMailer(outbox), sender, status_url, None
    try:
        port = int(env.get("CERTGEN_SMTP_PORT", "25"))
    except ValueError:
        raise click.ClickException(f"CERTGEN_SMTP_PORT {env.get('CERTGEN_SMTP_PORT')!r} is not a port number") from None
    mailer = SmtpMailer(host, port, env.get("CERTGEN_SMTP_USER") or None, env.get("CERTGEN_SMTP_PASSWORD") or None,
                        env.get("CERTGEN_SMTP_STARTTLS", "") in ("1", "true", "yes"))
    return mailer, sender, status_url, outbox


def _applications(app: AppContext, notify: bool = True):
    from .registry import Registry
    from .service.applications import Applications
    from .service.notices import stage_notifier

    on_change = None
    if notify:
        mailer, sender, status_url, fallback = _mail(app)
        on_change = stage_notifier(mailer, sender, status_url, app.now, lambda line: click.echo(line, err=True), fallback)
    return Applications(Registry.open(app.get_settings().registry_url), _rules(app), _calendar(app), on_change)


def _app_json(a: Any) -> dict[str, Any]:
    c = a.clock
    return {
        "number": a.number, "kind": a.kind, "client": a.client, "client_id": a.client_id, "email": a.email,
        "channel": a.channel, "stage": a.stage, "decision": a.decision, "created_at": a.created_at.isoformat(),
        "conditions": {k: v.isoformat() for k, v in a.conditions.items()}, "pauses": list(a.pauses),
        "documents": list(a.documents), "certificates": list(a.certificates),
        "paid_at": a.paid_at.isoformat() if a.paid_at else None,
        "reported_at": a.reported_at.isoformat() if a.reported_at else None,
        "credit_letter": a.credit_letter, "apology_letter": a.apology_letter,
        "clock": {"allowed": c.allowed, "started": c.started.isoformat() if c.started else None, "used": c.used,
                  "left": c.left, "deadline": c.deadline.isoformat() if c.deadline else None, "paused": c.paused,
                  "late": c.late, "days_late": c.days_late},
        "steps": list(a.steps),
    }


def _clock_line(a: Any) -> str:
    c = a.clock
    if c.started is None:
        return f"clock not started ({c.allowed} working days once it starts)"
    state = "paused" if c.paused else ("stopped" if c.reported else "running")
    deadline = f", deadline {c.deadline:%Y-%m-%d}" if c.deadline else ""
    late = f", LATE by {c.days_late} working day(s)" if c.days_late else ""
    return f"clock {state}: {c.used} of {c.allowed} working days used, {c.left} left{deadline}{late}"


def _done(a: Any, as_json: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(_app_json(a), indent=2, ensure_ascii=False))
    else:
        click.echo(f"{a.number}: stage {a.stage}" + (f" ({a.decision})" if a.decision else "") + f"; {_clock_line(a)}")


@click.group("app")
def app_group() -> None:
    """Applications: register, record each stage, pause and resume the clock, decide, issue."""


@app_group.command("new")
@click.argument("kind")
@click.option("--client", required=True, help="Client: the company, or the person or participant.")
@click.option("--client-id", help="Client identifier for compensation (default: the name).")
@click.option("--email", help="Where notices go.")
@click.option("--channel", required=True, help="How it arrived: email, post, website, office.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def app_new(app: AppContext, kind: str, client: str, client_id: str | None, email: str | None, channel: str,
            as_json: bool) -> None:
    """Register an application of KIND (product-type5, product-type1, person, training)."""
    from .service.applications import NewApplication

    with user_errors():
        created, code = _applications(app).new(NewApplication(kind, client, channel, client_id, email),
                                               now=app.now(), actor=app.actor())
    if as_json:
        click.echo(json.dumps({**_app_json(created), "access_code": code}, indent=2, ensure_ascii=False))
        return
    click.echo(f"{created.number}: registered ({created.kind}, {created.client})\naccess code for the applicant: {code}")


@app_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_app
def app_import(app: AppContext, file: Path, as_json: bool) -> None:
    """Register every row of FILE (CSV/XLSX: kind, client, client_id, email, channel); all or none."""
    from .service.importer import read_applications

    with user_errors():
        service = _applications(app)
        rows = read_applications(file, service.rules)
        created = service.new_many(rows.items, now=app.now(), actor=app.actor())
    if as_json:
        click.echo(json.dumps([{"row": r, "number": a.number, "access_code": code}
                               for r, (a, code) in zip(rows.rows, created)], indent=2))
        return
    for r, (a, code) in zip(rows.rows, created):
        click.echo(f"row {r}: {a.number}  access code {code}")
    click.echo(f"{len(created)} application(s) registered")


def _media_type(head: bytes) -> str | None:
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


@app_group.command("attach")
@click.argument("number")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def app_attach(app: AppContext, number: str, files: tuple[Path, ...]) -> None:
    """Record documents received (PDF, JPEG, PNG); a copy is kept under DATA/applications/."""
    import hashlib
    import shutil

    from .errors import CertgenError
    from .service.applications import Document

    with user_errors():
        service = _applications(app)
        for path in files:
            if not path.is_file():
                raise CertgenError(f"{path}: no such file")
            size = path.stat().st_size
            if size > service.rules.max_document_bytes:
                raise CertgenError(f"{path}: {size} bytes; documents have at most {service.rules.max_document_bytes} bytes")
            data = path.read_bytes()
            kind = _media_type(data[:16])
            if kind is None:
                raise CertgenError(f"{path}: not a PDF, JPEG or PNG file (by its content)")
            digest = hashlib.sha256(data).hexdigest()
            a = service.attach(number, Document(path.name, digest, len(data), kind), now=app.now(), actor=app.actor())
            folder = app.get_settings().data_dir / "applications" / a.number
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / (digest + {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}[kind])
            if not target.exists():
                shutil.copyfile(path, target)
            click.echo(f"{a.number}: {path.name} attached ({kind}, {len(data)} bytes, sha256 {digest[:16]}...)")


def _simple(command_name: str, method: str, help_text: str, **fixed: Any) -> None:
    @app_group.command(command_name, help=help_text)
    @click.argument("number")
    @click.option("--json", "as_json", is_flag=True)
    @pass_app
    def command(app: AppContext, number: str, as_json: bool) -> None:
        with user_errors():
            service = _applications(app)
            a = getattr(service, method)(number, now=app.now(), actor=app.actor(), **fixed)
        _done(a, as_json)


_simple("complete", "condition", "The application is complete (its documents checked): stage handling.", name="complete")
_simple("quota-met", "condition", "The participant quota is met (person, training).", name="quota_met")
_simple("approval", "condition", "The service approval letter is approved (training).", name="approval_letter")
_simple("payment", "payment", "Move to payment (the clock pauses for the payment where the rules say so).")
_simple("resume", "resume", "Resume a paused clock.")
_simple("execution", "execution", "Start the execution: audit, testing, assessment or training.")
@app_group.command("report")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def app_report(app: AppContext, number: str, as_json: bool) -> None:
    """Report the result of a refused application (closes it)."""
    with user_errors():
        a = _applications(app).report_refusal(number, now=app.now(), actor=app.actor())
    _done(a, as_json)
    if a.clock.late and not as_json:
        click.echo(f"reported {a.clock.days_late} working day(s) late: issue the apology letter with "
                   f"`certgen app letter {a.number}`", err=True)


@app_group.command("paid")
@click.argument("number")
@click.option("--reference", help="Payment reference (PNBP receipt).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def app_paid(app: AppContext, number: str, reference: str | None, as_json: bool) -> None:
    """Record the payment (once); a payment pause ends."""
    with user_errors():
        a = _applications(app).paid(number, now=app.now(), actor=app.actor(), reference=reference)
    _done(a, as_json)


@app_group.command("pause")
@click.argument("number")
@click.option("--reason", required=True, help="One of the standard's reasons (templates/service.yaml pause_reasons).")
@click.option("--note", help="Free text recorded with the pause.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def app_pause(app: AppContext, number: str, reason: str, note: str | None, as_json: bool) -> None:
    """Pause the clock for one of the reasons the standard does not count."""
    with user_errors():
        a = _applications(app).pause(number, reason, now=app.now(), actor=app.actor(), note=note)
    _done(a, as_json)


@app_group.command("evaluate")
@click.argument("number")
@click.argument("step")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def app_evaluate(app: AppContext, number: str, step: str, as_json: bool) -> None:
    """Record an evaluation step (e.g. "factory audit report 12/2026"); its actor may not decide."""
    with user_errors():
        a = _applications(app).evaluate(number, step, now=app.now(), actor=app.actor())
    _done(a, as_json)


@app_group.command("decide")
@click.argument("number")
@click.option("--grant/--refuse", required=True, help="Certify, or refuse.")
@click.option("--note", help="Grounds, recorded in the log.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def app_decide(app: AppContext, number: str, grant: bool, note: str | None, as_json: bool) -> None:
    """Record the certification decision (by someone who took no part in the evaluation)."""
    with user_errors():
        a = _applications(app).decide(number, grant, now=app.now(), actor=app.actor(), note=note)
    _done(a, as_json)


@app_group.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def app_show(app: AppContext, number: str, as_json: bool) -> None:
    """Show an application: stage, clock, pauses, documents, history."""
    with user_errors():
        a = _applications(app).get(number, app.now())
    if as_json:
        click.echo(json.dumps(_app_json(a), indent=2, ensure_ascii=False))
        return
    click.echo(f"{a.number}  {a.kind}  {a.client}  (via {a.channel})")
    click.echo(f"stage {a.stage}" + (f", decision {a.decision}" if a.decision else ""))
    click.echo(_clock_line(a))
    for p in a.pauses:
        click.echo(f"  paused for {p['reason']}: {p['from'][:10]} .. {(p['to'] or 'now')[:10]}")
    for d in a.documents:
        click.echo(f"  document {d['name']} ({d['type']}, {d['size']} bytes, sha256 {d['sha256'][:16]}...)")
    for number in a.certificates:
        click.echo(f"  certificate {number}")
    if a.apology_letter:
        click.echo(f"  apology letter {a.apology_letter}")
    if a.credit_letter:
        click.echo(f"  redeemed letter {a.credit_letter} (one working day less)")
    click.echo("history:")
    for s in a.steps:
        click.echo(f"  {s['at'][:16]}Z {s['action']:10} by {s['actor']}" + (f": {s['detail']}" if s.get('detail') else ""))


@app_group.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only applications whose result is not reported.")
@click.option("--late", is_flag=True, help="Only applications past their deadline (or reported late).")
@click.option("--year", type=int, help="Only applications registered in this year.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def app_list(app: AppContext, open_only: bool, late: bool, year: int | None, as_json: bool) -> None:
    """List applications with their stage and clock."""
    with user_errors():
        items = [a for a in _applications(app).iter(app.now(), open_only=open_only, year=year)
                 if not late or a.clock.left < 0]
    if as_json:
        click.echo(json.dumps([_app_json(a) for a in items], indent=2, ensure_ascii=False))
        return
    for a in items:
        click.echo(f"{a.number}  {a.kind:13} {a.stage:10} {_clock_line(a)}  {a.client}")
    click.echo(f"{len(items)} application(s)")


@app_group.command("audit")
@pass_app
def app_audit(app: AppContext) -> None:
    """Rebuild every application and complaint from the log and compare with its row; exit 1 on a difference."""
    import sys

    from .registry import Registry
    from .service.log import verify_service_log

    with user_errors():
        problems = verify_service_log(Registry.open(app.get_settings().registry_url))
    if not problems:
        click.echo("applications and complaints agree with their history")
        return
    for problem in problems:
        click.echo(f"DIFFERS: {problem}")
    sys.exit(1)


@app_group.command("issue")
@click.argument("number")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: DATA/issued/<application number>).")
@click.option("--workers", type=click.IntRange(0, 64), default=0, show_default=True, help="Worker processes; 0 = one per core.")
@click.option("--photos", type=click.Path(file_okay=False, path_type=Path), help="Folder of photo files (default: beside FILE).")
@click.option("--timestamp-url", envvar="CERTGEN_TSA_URL", help="RFC 3161 timestamp authority.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def app_issue(app: AppContext, number: str, file: Path, output: Path | None, workers: int, photos: Path | None,
              timestamp_url: str | None, as_json: bool) -> None:
    """Issue the certificates of a granted application from FILE (the rows of `certgen issue`) and close it."""
    from .batch import BatchOptions, IssueEnvironment
    from .model import DocumentKind
    from .service.issuing import issue_from_application
    from .service.numbers import parse_application

    settings = app.get_settings()
    with user_errors():
        service = _applications(app)
        current = service.get(number, app.now())
        service.check_can_issue(current.number)  # before anyone is asked for a passphrase
        kind = DocumentKind(service.rules.kind(current.kind).certificate)
        out = output or settings.data_dir / "issued" / parse_application(number)
        options = BatchOptions(kind, file, out, workers, False, photos, timestamp_url)
        store = app.keystore()
        env = IssueEnvironment(registry=service.registry, signer=store.current_signer(app.passphrase(), now=app.now()),
                               chain=[store.root_certificate()], verify_url=settings.verify_url, issuer=settings.issuer,
                               templates_dir=settings.templates_dir, actor=app.actor(), now=app.now)
        closed, summary = issue_from_application(service, current.number, options, env)
        letter = None
        if closed.clock.late:  # reported after the deadline: the apology letter goes out with the result
            from .service.letters import issue_apology_letter

            letter = issue_apology_letter(service, closed.number, env, settings.data_dir / "letters", timestamp_url)
            closed = letter.application
    if as_json:
        click.echo(json.dumps({"application": _app_json(closed), "batch": summary.as_dict()}, indent=2, ensure_ascii=False))
        return
    click.echo(f"{summary.issued} issued, {summary.already_issued} already issued earlier; output: {out}")
    _done(closed)
    for cert in closed.certificates:
        click.echo(f"  certificate {cert}")
    if letter is not None:
        click.echo(f"  apology letter {letter.number} ({closed.clock.days_late} working day(s) late): {letter.path}")


@app_group.command("notify-due")
@pass_app
def app_notify_due(app: AppContext) -> None:
    """Mail the applicants whose deadline is near (run daily); each deadline is announced once."""
    from .service.notices import send_deadline_notices

    with user_errors():
        service = _applications(app, notify=False)
        mailer, sender, status_url, fallback = _mail(app)
        sent = send_deadline_notices(service, mailer, sender, status_url, now=app.now(), actor=app.actor(),
                                     report=lambda line: click.echo(line, err=True), fallback=fallback)
    click.echo(f"{len(sent)} deadline notice(s) sent")


def _issue_env(app: AppContext, service: Any):
    from .batch import IssueEnvironment

    settings = app.get_settings()
    store = app.keystore()
    return IssueEnvironment(registry=service.registry, signer=store.current_signer(app.passphrase(), now=app.now()),
                            chain=[store.root_certificate()], verify_url=settings.verify_url, issuer=settings.issuer,
                            templates_dir=settings.templates_dir, actor=app.actor(), now=app.now)


@app_group.command("letter")
@click.argument("numbers", nargs=-1)
@click.option("--due", is_flag=True, help="Every application reported late that has no letter yet.")
@click.option("--timestamp-url", envvar="CERTGEN_TSA_URL", help="RFC 3161 timestamp authority.")
@pass_app
def app_letter(app: AppContext, numbers: tuple[str, ...], due: bool, timestamp_url: str | None) -> None:
    """Issue the signed, sealed apology letter of applications reported late (DATA/letters/)."""
    from .service import letters

    with user_errors():
        service = _applications(app)
        todo = list(numbers) + (letters.due(service, app.now()) if due else [])
        if not todo:
            click.echo("no apology letter is due")
            return
        env = _issue_env(app, service)
        folder = app.get_settings().data_dir / "letters"
        for number in todo:
            issued = letters.issue_apology_letter(service, number, env, folder, timestamp_url)
            click.echo(f"{issued.application.number}: apology letter {issued.number} "
                       f"({issued.application.clock.days_late} working day(s) late): {issued.path}")


@app_group.command("redeem")
@click.argument("number")
@click.argument("letter")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def app_redeem(app: AppContext, number: str, letter: str, as_json: bool) -> None:
    """Redeem apology LETTER (its number, or its scanned QR code text) on application NUMBER: one working day less."""
    from .keys import KeyStore
    from .service import letters

    with user_errors():
        service = _applications(app)
        trust = None
        if "/v/" in letter or len(letter.strip()) > 40:
            trust = KeyStore(app.get_settings().keys_dir).trust_list()
        a = letters.redeem(service, number, letter, trust=trust, now=app.now(), actor=app.actor())
    if as_json:
        click.echo(json.dumps(_app_json(a), indent=2, ensure_ascii=False))
        return
    click.echo(f"{a.number}: apology letter {a.credit_letter} redeemed; {a.clock.allowed} working days allowed")
    _done(a)
