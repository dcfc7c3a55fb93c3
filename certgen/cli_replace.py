"""`certgen correct` and `certgen renew`: a successor for one certificate (docs/lifecycle.md).

Each writes the successor's row, as staff would type it, into a one-row input file under
DATA/replacements/ and runs `certgen issue KIND FILE --replaces-column replaces` on it: the
same validation, numbering, rendering, signing and registry path as every other document. A
rerun of the same command finds the same file and finishes what a crash interrupted.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date
from pathlib import Path
from typing import Any

import click
import yaml

from .cli_support import AppContext, user_errors
from .errors import ConfigError
from .intake import COLUMNS
from .model import Status
from .output import write_atomic
from .registry import Certificate, Registry
from .registry.lifecycle import local_day
from .replacing import ValidityRules, not_replaceable, stranded, successor_row
from .terminal import safe

REPLACES_COLUMN = "replaces"


def _sets(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        name = name.strip().lower().replace("-", "_")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: expected FIELD=VALUE", param_hint="--set")
        if name in out:
            raise click.BadParameter(f"{name} is given twice", param_hint="--set")
        out[name] = value
    return out


def _rules(app: AppContext) -> ValidityRules:
    from .render.templates import DEFAULT_FOLDER

    path = Path(app.get_settings().templates_dir or DEFAULT_FOLDER) / "validity.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: template file is missing (give --expires)") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    return ValidityRules.from_config(data, str(path))


def _write_input(folder: Path, old: Certificate, row: dict[str, str], change: str) -> Path:
    """The one-row CSV, named by the old number and its content (the same command: the same file)."""
    names = [c.name for c in COLUMNS[old.kind]] + [REPLACES_COLUMN]
    out = io.StringIO()
    writer = csv.DictWriter(out, names, lineterminator="\n")
    writer.writeheader()
    writer.writerow({**row, REPLACES_COLUMN: old.number})
    data = out.getvalue().encode("utf-8")
    path = folder / f"{old.number}-{change}-{hashlib.sha256(data).hexdigest()[:12]}.csv"
    if path.is_file() and path.read_bytes() == data:
        return path
    if old.status is Status.REPLACED:  # not a rerun of the command that replaced it
        raise click.ClickException(safe(not_replaceable(old)))
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    return path


def _successor(ctx: click.Context, number: str, sets: dict[str, str], *, renew: bool, expires: date | None,
               reason: str | None, output: Path | None, as_json: bool, no_wait: bool) -> None:
    from .cli import issue_cmd

    app = ctx.ensure_object(AppContext)
    with user_errors():
        registry = Registry.open(app.get_settings().registry_url)
        try:
            old = registry.get(number)
            pending = _pending_successor(registry, old)
        finally:
            registry.close()
        if pending is not None and old.status is Status.REPLACED and old.replaced_by == pending:
            pending = None  # looked up pending, issued by another process since: not stranded
        if pending is not None and old.status in (Status.WITHDRAWN, Status.REPLACED):
            raise click.ClickException(safe(stranded(old, pending)))
        if old.status not in (Status.ACTIVE, Status.REPLACED):  # replaced: perhaps a rerun; the pipeline judges
            raise click.ClickException(safe(not_replaceable(old)))
        if sets.get("photo"):  # a new photo is named from where the command runs, not from DATA/replacements
            sets = {**sets, "photo": str(Path(sets["photo"]).expanduser().resolve())}
        rules = _rules(app) if renew and expires is None else None
        row = successor_row(old, sets, renew=renew, today=local_day(app.now()), expires=expires, rules=rules)
        path = _write_input(app.get_settings().data_dir / "replacements", old, row, "renewal" if renew else "correction")
    if not as_json:
        click.echo(f"successor input: {path}")
    ctx.invoke(issue_cmd, kind=old.kind.value, file=path, output=output, replaces_column=REPLACES_COLUMN,
               reason=reason, as_json=as_json, no_wait=no_wait)


def _pending_successor(registry: Registry, old: Certificate) -> str | None:
    """The number of `old`'s successor that was started but never issued, if any."""
    from .registry.succession import successor_key

    found = registry.find_by_batch_keys([successor_key(old.number)]).get(successor_key(old.number))
    return found.number if found is not None and found.status is Status.PENDING else None


def _common(command: Any) -> Any:
    for option in reversed([
        click.option("--reason", help="Why (recorded in the old certificate's replace event, shown on its page)."),
        click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
                     help="Output folder (default: DATA/issued/<number>-...-<kind>)."),
        click.option("--no-wait", is_flag=True, help="Refuse instead of waiting when the same batch runs."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
    ]):
        command = option(command)
    return command


@click.command("correct")
@click.argument("number")
@click.option("--set", "sets", multiple=True, required=True, metavar="FIELD=VALUE",
              help="A corrected value (repeatable); FIELD is an input column of the certificate's kind.")
@_common
@click.pass_context
def correct_cmd(ctx: click.Context, number: str, sets: tuple[str, ...], reason: str | None, output: Path | None,
                no_wait: bool, as_json: bool) -> None:
    """Issue a corrected successor of NUMBER (new number, same validity) and mark NUMBER replaced."""
    _successor(ctx, number, _sets(sets), renew=False, expires=None, reason=reason, output=output, as_json=as_json,
               no_wait=no_wait)


@click.command("renew")
@click.argument("number")
@click.option("--expires", help="Last valid day of the renewed certificate (YYYY-MM-DD; default: templates/validity.yaml).")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Also change a value (repeatable).")
@_common
@click.pass_context
def renew_cmd(ctx: click.Context, number: str, expires: str | None, sets: tuple[str, ...], reason: str | None,
              output: Path | None, no_wait: bool, as_json: bool) -> None:
    """Issue a renewed successor of NUMBER (new number, granted today, new expiry) and mark NUMBER replaced."""
    day = None
    if expires is not None:
        try:
            day = date.fromisoformat(expires)
        except ValueError:
            raise click.BadParameter(f"{expires!r} is not a date (YYYY-MM-DD)", param_hint="--expires") from None
    _successor(ctx, number, _sets(sets), renew=True, expires=day, reason=reason, output=output, as_json=as_json,
               no_wait=no_wait)


@click.command("discard")
@click.argument("number")
@click.option("--reason", required=True, help="Why (recorded in the discard event, shown on the number's page).")
@click.pass_context
def discard_cmd(ctx: click.Context, number: str, reason: str) -> None:
    """Discard NUMBER, a successor (correction or renewal) that was recorded but never issued,
    because the certificate it replaces was withdrawn or replaced meanwhile (or its values were
    wrong): it turns withdrawn for good, and a new successor may be started (docs/lifecycle.md)."""
    from .numbers import parse_number
    from .registry.discard import discard_successor

    app = ctx.ensure_object(AppContext)
    with user_errors():
        registry = Registry.open(app.get_settings().registry_url)
        try:
            cert = discard_successor(registry, str(parse_number(number)), reason=reason, now=app.now(),
                                     actor=app.actor())
        finally:
            registry.close()
    click.echo(f"{cert.number}: discarded, never issued; it verifies as withdrawn ({safe(cert.status_reason)})")
