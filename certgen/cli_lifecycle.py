"""`certgen surveillance ...` and `certgen expiring`: the life of a certificate after issue
(docs/surveillance.md). Each command parses, makes one library call, prints."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Sequence

import click
import yaml

from .cli_support import AppContext, user_errors
from .errors import ConfigError
from .expiry import ExpiringItem, RenewalText, expiring, window
from .output import write_atomic
from .registry import Registry
from .registry.findings import safe
from .registry.lifecycle import local_day
from .registry.visits import VisitResult, check_recordable, record_visit, under_surveillance, visits_of
from .surveillance import SurveillanceRules, due_list, new_visit, store_report

pass_app = click.make_pass_decorator(AppContext, ensure=True)


def _registry(app: AppContext) -> Registry:
    return Registry.open(app.get_settings().registry_url)


def _templates_dir(app: AppContext) -> Path:
    from .render.templates import DEFAULT_FOLDER
    return Path(app.get_settings().templates_dir or DEFAULT_FOLDER)


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: template file is missing") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None


def _rules(app: AppContext) -> SurveillanceRules:
    data = _yaml(_templates_dir(app) / "product.yaml")
    return SurveillanceRules.from_config(data.get("surveillance") if isinstance(data, dict) else None)


def _days(text: str) -> int:
    match = re.fullmatch(r"\s*(\d{1,4})\s*d?\s*", text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a number of days, e.g. 60d")
    return int(match.group(1))


def _emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], as_csv: bool, as_json: bool, empty: str) -> None:
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
    elif as_csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
    elif not rows:
        click.echo(empty)
    else:
        cells = [[safe("" if r.get(c) is None else r[c], 60) for c in columns] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
        click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
        for row in cells:
            click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


# -- surveillance -------------------------------------------------------------------------------

@click.group()
def surveillance() -> None:
    """Surveillance visits of type 5 product certificates."""


_DUE_COLUMNS = ("number", "state", "due", "days_left", "last_visit", "last_result", "corrective_due", "holder", "factory")


@surveillance.command("due")
@click.option("--within", "within", default="60d", show_default=True, help="Window ahead, in days (e.g. 60d).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def surveillance_due(app: AppContext, within: str, as_csv: bool, as_json: bool) -> None:
    """List type 5 certificates whose next visit is due within the window, overdue, or (past the
    grace period) for suspension. Nothing is suspended by this command."""
    days = _days(within)
    with user_errors():
        rules = _rules(app)
        registry = _registry(app)
        try:
            items = due_list(under_surveillance(registry), rules, within_days=days, now=app.now())
        finally:
            registry.close()
    rows = [i.as_json() for i in items]
    _emit(rows, _DUE_COLUMNS, as_csv, as_json, f"no surveillance due within {days} days")
    if not (as_csv or as_json):
        flagged = [i.number for i in items if i.state.value == "for suspension"]
        if flagged:
            click.echo(f"{len(flagged)} certificate(s) past due and the {rules.grace_days}-day grace period: for "
                       f"suspension (certgen suspend NUMBER --reason ...)")


@surveillance.command("record")
@click.argument("number")
@click.option("--result", required=True, type=click.Choice([r.value for r in VisitResult]), help="Outcome of the visit.")
@click.option("--date", "visited", required=True, help="Day of the visit (YYYY-MM-DD, Jakarta).")
@click.option("--report", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The visit report (PDF, PNG or JPEG); stored under the data folder by its SHA-256.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def surveillance_record(app: AppContext, number: str, result: str, visited: str, report: Path, as_json: bool) -> None:
    """Record a surveillance visit; a failed visit suspends the certificate."""
    try:
        day = date.fromisoformat(visited)
    except ValueError:
        raise click.BadParameter(f"{visited!r} is not a date (YYYY-MM-DD)", param_hint="--date") from None
    with user_errors():
        rules = _rules(app)
        registry = _registry(app)
        try:
            # the number, the certificate and the day first: a refused visit stores no report
            check_recordable(registry.get(number), day, app.now())
            store = app.get_settings().data_dir / "surveillance"
            try:
                stored = store_report(report, store, rules)
            except OSError as exc:
                raise click.ClickException(f"cannot store the report under {store}: {exc.strerror or exc}") from None
            visit, cert = record_visit(registry, number, new_visit(stored, VisitResult(result), day, rules),
                                       now=app.now(), actor=app.actor())
        finally:
            registry.close()
    if as_json:
        click.echo(json.dumps({"number": visit.number, "visit": visit.ordinal, "date": visit.visited_on.isoformat(),
                               "result": visit.result.value, "report_sha256": visit.report_sha256,
                               "corrective_due": visit.corrective_due and visit.corrective_due.isoformat(),
                               "status": cert.status.value, "status_reason": cert.status_reason}, indent=1))
        return
    click.echo(f"{visit.number}: visit {visit.ordinal} on {visit.visited_on:%Y-%m-%d} recorded: {visit.result.value} "
               f"(report SHA-256 {visit.report_sha256})")
    if visit.corrective_due:
        click.echo(f"corrective action due by {visit.corrective_due:%Y-%m-%d}")
    if visit.result is VisitResult.FAILED:
        click.echo(f"{cert.number} is {cert.status.value}: {safe(cert.status_reason)}")


@surveillance.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def surveillance_show(app: AppContext, number: str, as_json: bool) -> None:
    """A certificate's recorded visits."""
    with user_errors():
        registry = _registry(app)
        try:
            visits = visits_of(registry, number)
        finally:
            registry.close()
    rows = [{"visit": v.ordinal, "date": v.visited_on.isoformat(), "result": v.result.value,
             "corrective_due": v.corrective_due and v.corrective_due.isoformat(), "report_sha256": v.report_sha256,
             "report_type": v.report_type, "report_size": v.report_size, "actor": v.actor} for v in visits]
    _emit(rows, ("visit", "date", "result", "corrective_due", "report_sha256", "actor"), False, as_json,
          "no visits recorded")


# -- expiry -------------------------------------------------------------------------------------

_EXPIRING_COLUMNS = ("number", "expires", "days_left", "kind", "holder", "scheme")


@click.command("expiring")
@click.option("--within", "within", default="90d", show_default=True, help="Window ahead, in days (e.g. 90d).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--letters", type=click.Path(file_okay=False, path_type=Path),
              help="Also write a signed renewal reminder letter (PDF) per certificate into this folder.")
@pass_app
def expiring_cmd(app: AppContext, within: str, as_csv: bool, as_json: bool, letters: Path | None) -> None:
    """Active certificates whose expiry day (Jakarta) falls within the window."""
    days = _days(within)
    now = app.now()
    with user_errors():
        registry = _registry(app)
        try:
            items = expiring(registry.active_expiring(*window(days, now)), within_days=days, now=now)
        finally:
            registry.close()
        try:
            written = _write_letters(app, items, letters, local_day(now)) if letters is not None else []
        except OSError as exc:
            raise click.ClickException(f"cannot write the letters to {letters}: {exc.strerror or exc}") from None
    _emit([i.as_json() for i in items], _EXPIRING_COLUMNS, as_csv, as_json, f"nothing expires within {days} days")
    if letters is not None and not (as_csv or as_json):
        click.echo(f"{len(written)} reminder letter(s) written to {letters}")


def _write_letters(app: AppContext, items: Iterable[ExpiringItem], folder: Path, today: date) -> list[Path]:
    """One signed reminder per item, drawn by the body's shared letter renderer (certgen/render/letter.py)."""
    from .render import fallback
    from .render.fonts import register
    from .render.letter import SIGNATURE_BOX, Letter, LetterTooLong, render_letter
    from .render.templates import Bilingual, TemplateSet
    from .sign import PdfSealer

    templates = TemplateSet.load(_templates_dir(app))
    text = RenewalText.from_config(_yaml(_templates_dir(app) / "renewal.yaml"))
    fonts = register(templates.letterhead.fonts, templates.letterhead.fallback_fonts)
    store = app.keystore()
    sealer = PdfSealer(store.current_signer(app.passphrase(), now=app.now()), [store.root_certificate()])
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for item in items:
        title, paragraphs = text.fill(item, templates.letterhead.name.id)
        letter = Letter(
            title=Bilingual(title.id, title.en), number=f"PERPANJANGAN/{item.number}", issued_on=today,
            recipient=tuple(x for x in (item.holder, item.address) if x),
            paragraphs=tuple(Bilingual(p.id, p.en) for p in paragraphs),
            table=(("Nomor sertifikat", "Certificate number", item.number), ("Pemegang", "Holder", item.holder),
                   ("Berlaku sampai", "Valid until", f"{item.expires:%Y-%m-%d}")))
        fallback.prepare(fonts.names, [item.holder, item.address or "", item.scheme])
        try:
            pdf = render_letter(templates, fonts, letter)
        except LetterTooLong as exc:
            raise ConfigError(f"renewal.yaml: {exc}") from None
        pdf = sealer.sign(pdf, SIGNATURE_BOX, reason="Pemberitahuan perpanjangan / Renewal reminder",
                          location=templates.letterhead.city)
        out.append(_atomic_write(folder / f"{item.number}.pdf", pdf))
    return out


def _atomic_write(path: Path, data: bytes) -> Path:
    write_atomic(path, data)
    return path
