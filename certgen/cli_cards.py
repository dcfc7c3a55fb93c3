"""`certgen card ...`: the certified-person card after issue (docs/issuing.md, "Card editions")."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .batch_lock import BUSY_EXIT, BatchBusy
from .cli_support import AppContext, safe, user_errors
from .errors import ConfigError
from .model import DocumentKind
from .registry import Registry
from .registry.cards import REPRINT_REASONS, reprint_problem

pass_app = click.make_pass_decorator(AppContext, ensure=True)


@click.group("card")
def card_group() -> None:
    """Certified-person cards: reprint a lost, damaged or corrected card as a new edition."""


def _output_for(app: AppContext, number: str) -> Path:
    """The batch output folder holding this certificate's card, under DATA/issued/."""
    found = sorted(p.parent.parent for p in (app.get_settings().data_dir / "issued").glob(f"*/cards/{number}.pdf"))
    if len(found) != 1:
        where = "no" if not found else f"{len(found)}"
        raise ConfigError(f"{where} batch folder under {app.get_settings().data_dir / 'issued'} holds cards/{number}.pdf: "
                          "give the batch's output folder with --output DIR")
    return found[0]


@card_group.command("reprint")
@click.argument("number")
@click.option("--reason", required=True, type=click.Choice(REPRINT_REASONS), help="Why the card is printed again.")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              help="The batch's output folder (default: the one under DATA/issued/ holding the card).")
@click.option("--photo", type=click.Path(dir_okay=False, path_type=Path),
              help="The holder's photo, if the file the batch printed is no longer where it was.")
@click.option("--no-wait", is_flag=True, help=f"Refuse (exit {BUSY_EXIT}) instead of waiting for a batch in the same folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def reprint_cmd(app: AppContext, number: str, reason: str, output: Path | None, photo: Path | None, no_wait: bool,
                as_json: bool) -> None:
    """Print the next edition of NUMBER's card: the older edition then verifies as a superseded
    card, never as valid. A rerun after a crash finishes the recorded edition instead of printing another."""
    from .adapters.install import SWITCH_VAR, install_all
    from .card_reprint import ReprintEnvironment, ReprintError, ReprintRequest, reprint_card

    install_all(enabled=app.environ.get(SWITCH_VAR, "on").lower() not in ("off", "0", "no"))
    settings = app.get_settings()
    with user_errors():
        registry = Registry.open(settings.registry_url)
        from .numbers import parse_number

        canonical = str(parse_number(number))
        cert = registry.get(canonical)
        if cert.kind is not DocumentKind.PERSON:  # before looking for a card folder it cannot have
            raise ReprintError(reprint_problem(cert, app.now()) or f"{canonical} has no card")
        folder = output or _output_for(app, canonical)
        store = app.keystore()  # with the token PIN, as `certgen issue` loads the signer
        env = ReprintEnvironment(registry=registry, signer=lambda: store.current_signer(app.passphrase(), now=app.now()),
                                 chain=[store.root_certificate()], templates_dir=settings.templates_dir,
                                 verify_url=settings.verify_url, issuer=settings.issuer, actor=app.actor(), now=app.now,
                                 lock_dir=settings.data_dir / "locks", wait=not no_wait)
        try:
            result = reprint_card(ReprintRequest(canonical, reason, folder, photo), env,
                                  on_wait=lambda m: click.echo(m, err=True))
        except BatchBusy as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(BUSY_EXIT)
    if as_json:
        click.echo(json.dumps({"number": result.number, "edition": result.edition, "card_file": str(result.card_file),
                               "card_sha256": result.card_sha256,
                               "sheet_file": str(result.sheet_file) if result.sheet_file else None,
                               "resumed": result.resumed}, indent=2))
        return
    what = "written (recorded by an earlier run that did not finish)" if result.resumed else "printed"
    click.echo(f"{result.number}: card edition {result.edition} {what}: {safe(result.card_file)}")
    if result.sheet_file is not None:
        click.echo(f"print sheet: {safe(result.sheet_file)} (one card, place 1; front page, then back page for duplex)")
    if not result.resumed and result.edition > 1:
        click.echo(f"edition {result.edition - 1} and older now verify as superseded (REPLACED, card_superseded)")
