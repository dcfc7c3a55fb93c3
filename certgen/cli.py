"""`certgen`: the staff's command line. Each command parses, makes one library call, prints."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

import click

from .batch_lock import BUSY_EXIT, BatchBusy
from .cli_keys import token_options, token_ref
from .cli_support import AppContext, parse_time, safe, safe_json, user_errors
from .cli_trust import publish_after_keys
from .config import ENV_VARS
from .errors import ConfigError
from .keys import KeyAlgorithm, KeyStore
from .model import EventType
from .model import DocumentKind
from .registry import Certificate, Registry, verify_log
from .registry.reports import STATUSES as REPORT_STATUSES
from .registry.reports import SuspicionReport

pass_app = click.make_pass_decorator(AppContext, ensure=True)


def _registry(app: AppContext) -> Registry:
    return Registry.open(app.get_settings().registry_url)


def _keystore(app: AppContext) -> KeyStore:
    return app.keystore()


def _log_origin(app: AppContext) -> str:
    """The log's name (origin line of its checkpoints): the verification host, then /log."""
    from urllib.parse import urlsplit

    return f"{urlsplit(app.get_settings().verify_url).hostname}/log"


def _log_folder(app: AppContext) -> Path:
    return app.get_settings().data_dir / "log"


def _sign_tree_head(app: AppContext, registry: Registry, store: KeyStore,
                    passphrase: Callable[[], bytes] | None = None) -> str | None:
    """Sign a checkpoint of the transparency log with the log key (None: the key folder has no log key)."""
    from .registry.tlog import sign_checkpoint

    if store.log_key() is None:
        return None
    head = sign_checkpoint(registry, store.log_signer((passphrase or app.passphrase)()), now=app.now(),
                           folder=_log_folder(app))
    return f"checkpoint {head.id}: tree of {head.size} events, root {head.root_hash[:16]}..., signed by the log key"


@click.group()
@click.version_option(package_name="certgen")
def main() -> None:
    """Issue and manage the certification body's certificates."""


@main.command("config")
@pass_app
def config_cmd(app: AppContext) -> None:
    """Show the configuration in force and the variables that set it."""
    with user_errors():
        s = app.get_settings()
    click.echo(f"data folder:   {s.data_dir}\nkey folder:    {s.keys_dir}\nregistry:      {s.registry_url}\n"
               f"verify URL:    {s.verify_url}\nissuer id:     {s.issuer}\n")
    for name, meaning in ENV_VARS.items():
        click.echo(f"  {name:24} {meaning}")


# -- keys --------------------------------------------------------------------------------------

@main.group()
def keys() -> None:
    """Root and document signer keys, and the trust list."""


@keys.command("init")
@click.option("--algorithm", type=click.Choice([a.value for a in KeyAlgorithm]), default=KeyAlgorithm.EC_P256.value,
              show_default=True, help="Key type of the root and the first document signer.")
@token_options
@click.option("--root-only", is_flag=True, help="Only the root (offline machine of the key ceremony, docs/keys.md).")
@pass_app
def keys_init(app: AppContext, algorithm: str, pkcs11_module: str | None, token_label: str | None,
              root_only: bool) -> None:
    """Create the root certificate and a first document signer (refuses to overwrite)."""
    with user_errors():
        store = _keystore(app)
        if root_only:
            from .ceremony import init_root

            init_root(store, app.passphrase(confirm=True), now=app.now(), algorithm=KeyAlgorithm(algorithm),
                      verify_urls=[app.get_settings().verify_url])
            click.echo(f"root certificate: {store.root_cert_path} (no document signer: `certgen keys certify`)")
            return
        token = token_ref(pkcs11_module, token_label)
        signer = store.init(app.passphrase(confirm=True), KeyAlgorithm(algorithm), now=app.now(),
                            log_origin=_log_origin(app), verify_urls=[app.get_settings().verify_url], token=token)
    click.echo(f"root certificate: {store.root_cert_path}\ndocument signer:  {signer.kid.hex()} (current"
               f"{', in ' + signer.key_location if signer.key_location else ''})\n"
               f"log key:          {store.log_key().vkey}\ntrust list:       {store.trustlist_path}\n"
               f"official address: {app.get_settings().verify_url}")
    publish_after_keys(app, store)


@keys.command("init-log")
@click.option("--origin", help="Name of the log (default: the verification host, then /log).")
@pass_app
def keys_init_log(app: AppContext, origin: str | None) -> None:
    """Add the log key (signs checkpoints) to a key folder made without one; republishes the trust list."""
    with user_errors():
        store = _keystore(app)
        key = store.init_log(app.passphrase(), now=app.now(), origin=origin or _log_origin(app))
    click.echo(f"log key: {key.vkey}\ntrust list: {store.trustlist_path}")
    publish_after_keys(app, store)


@keys.command("rotate")
@token_options
@pass_app
def keys_rotate(app: AppContext, pkcs11_module: str | None, token_label: str | None) -> None:
    """Make a new document signer current; earlier ones stay trusted for what they signed. With
    --pkcs11-module and --token its key is generated in the token; without, in a key file."""
    with user_errors():
        store = _keystore(app)
        signer = store.rotate(app.passphrase(), now=app.now(), token=token_ref(pkcs11_module, token_label))
    where = f" (key in {signer.key_location})" if signer.key_location else ""
    click.echo(f"document signer {signer.kid.hex()} is now current{where}; trust list updated: {store.trustlist_path}")
    publish_after_keys(app, store)


@keys.command("revoke")
@click.argument("kid")
@click.option("--at", "at", required=True, help="Compromise time (ISO 8601 with zone, or a date = 00:00 WIB).")
@click.option("--reason", required=True, help="Why the key is revoked.")
@pass_app
def keys_revoke(app: AppContext, kid: str, at: str, reason: str) -> None:
    """Revoke a compromised signer: what it signed from --at on is invalid."""
    moment = parse_time(at)
    with user_errors():
        store = _keystore(app)
        info = store.revoke(kid, at=moment, reason=reason)
        store.signed_trust_list(app.passphrase(), now=app.now())
    click.echo(f"document signer {info.kid.hex()} revoked from {info.revoked_at:%Y-%m-%d %H:%M:%S}Z; trust list updated")
    publish_after_keys(app, store)
    if info.current:
        click.echo("it was the current signer: run `certgen keys rotate` before issuing again", err=True)


@keys.command("trustlist")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Also write it here.")
@click.option("--verify-url", "verify_urls", multiple=True,
              help="Official verification address seals are printed under (repeatable; default CERTGEN_VERIFY_URL).")
@pass_app
def keys_trustlist(app: AppContext, output: str | None, verify_urls: tuple[str, ...]) -> None:
    """Write the trust list signed by the root (keys/trustlist.json), naming the official
    verification addresses: a seal under any other address verifies INVALID."""
    with user_errors():
        store = _keystore(app)
        urls = list(verify_urls) or [app.get_settings().verify_url]
        data = store.signed_trust_list(app.passphrase(), now=app.now(), verify_urls=urls)
    if output:
        with open(output, "wb") as handle:
            handle.write(data)
    click.echo(f"trust list with {len(store.signers())} signer(s): {store.trustlist_path}\n"
               f"official verification address(es): {', '.join(urls)}")
    publish_after_keys(app, store)


@keys.command("reencrypt")
@click.option("--new-passphrase", is_flag=True, help="Also change the passphrase (asked for on the terminal).")
@click.option("--force", is_flag=True, help="Rewrite every key file, even those already at the current cost.")
@pass_app
def keys_reencrypt(app: AppContext, new_passphrase: bool, force: bool) -> None:
    """Re-encrypt the private key files with the current key-derivation cost (PBKDF2-HMAC-SHA256,
    600,000 iterations), each file replaced atomically; nothing changes on a wrong passphrase."""
    with user_errors():
        store = _keystore(app)
        before = store.key_protection()
        passphrase = app.passphrase()
        new = None
        if new_passphrase:
            new = click.prompt("New key passphrase", hide_input=True, confirmation_prompt=True).encode("utf-8")
        done = store.reencrypt(passphrase, new_passphrase=new, force=force)
        after = store.key_protection()
    for path in before:
        if path in done:
            click.echo(f"{path.name}: re-encrypted ({before[path]} -> {after[path]})")
        else:
            click.echo(f"{path.name}: already {after[path]}")


@keys.command("crl")
@click.option("--days", type=click.IntRange(1, 3660), default=31, show_default=True, help="Days until its nextUpdate.")
@pass_app
def keys_crl(app: AppContext, days: int) -> None:
    """Write the root-signed CRL of revoked document signers (keys/root.crl.pem; docs/keys.md)."""
    from .revocation import Revoked, build_crl, write_crl

    with user_errors():
        store = _keystore(app)
        revoked = [Revoked(s.certificate, s.revoked_at) for s in store.signers() if s.revoked_at is not None]
        root = store.root_signer(app.passphrase())
        path = write_crl(store.folder, build_crl(root.private_key, root.certificate, revoked, now=app.now(), days=days))
    click.echo(f"CRL with {len(revoked)} revoked signer(s), valid {days} day(s): {path}")


@keys.command("list")
@pass_app
def keys_list(app: AppContext) -> None:
    """List the document signers (no passphrase needed)."""
    with user_errors():
        for s in _keystore(app).signers():
            state = "revoked " + f"{s.revoked_at:%Y-%m-%d %H:%M}Z ({safe(s.revocation_reason)})" if s.revoked_at else "valid"
            click.echo(f"{s.kid.hex()}  {'current ' if s.current else '        '}"
                       f"{s.certificate.not_valid_before_utc:%Y-%m-%d}..{s.certificate.not_valid_after_utc:%Y-%m-%d}  {state}"
                       + (f"  key in {safe(s.key_location)}" if s.key_location else ""))
        urls = _keystore(app).verify_urls()
        verify_url = app.get_settings().verify_url
    click.echo("official verification address(es): " + (", ".join(urls) if urls else
               "none recorded: seals are not checked for their address (run `certgen keys trustlist`)"))
    problem = _unofficial_address(urls, verify_url)
    if problem:
        click.echo(f"warning: {problem}", err=True)


def _unofficial_address(urls: Sequence[str], verify_url: str) -> str | None:
    """Why seals made with `verify_url` would fail the signed trust list's address check, or None."""
    if urls and verify_url.casefold() not in (u.casefold() for u in urls):
        return (f"CERTGEN_VERIFY_URL {safe(verify_url)} is not among them: seals issued now would verify "
                "INVALID (seal_host_not_official); run `certgen keys trustlist --verify-url ...`")
    return None


# -- certificates ------------------------------------------------------------------------------

def _certificate_json(cert: Certificate, app: AppContext) -> dict[str, Any]:
    return {
        "number": cert.number, "kind": cert.kind.value, "series": cert.series.value, "holder": cert.holder,
        "scheme": cert.scheme, "granted": cert.granted.isoformat(),
        "expires": cert.expires.isoformat() if cert.expires else None,
        "status": cert.effective_status(app.now()).value, "stored_status": cert.status.value,
        "status_reason": cert.status_reason, "status_changed_at": cert.status_changed_at.isoformat(),
        "replaced_by": cert.replaced_by, "replaces": cert.replaces, "dsc_kid": cert.dsc_kid, "pdf_sha256": cert.pdf_sha256,
        "card_sha256": cert.card_sha256, "issued_at": cert.issued_at.isoformat() if cert.issued_at else None,
        "card_edition": cert.card_edition, "record": dict(cert.record),
    }


@main.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: AppContext, number: str, as_json: bool) -> None:
    """Show a certificate's record, status and history."""
    with user_errors():
        registry = _registry(app)
        cert = registry.get(number)
        events = registry.events(cert.number)
    data = _certificate_json(cert, app)
    if as_json:
        data["events"] = [{"seq": e.seq, "at": e.at.isoformat(), "type": e.type.value, "actor": e.actor,
                           "reason": e.reason} for e in events]
        click.echo(safe_json(data, indent=2))
        return
    for key in ("number", "kind", "holder", "scheme", "granted", "expires", "status", "status_reason", "replaced_by",
                "replaces", "dsc_kid", "pdf_sha256", "card_edition"):
        if data[key] is not None:
            click.echo(f"{key.replace('_', ' '):15} {safe(data[key])}")
    click.echo("history:")
    for e in events:
        click.echo(f"  #{e.seq:<6} {e.at:%Y-%m-%d %H:%M:%S}Z  {e.type.value:9} by {safe(e.actor)}"
                   + (f": {safe(e.reason)}" if e.reason else ""))


def _status_command(change: EventType, help_text: str) -> None:
    @main.command(change.value, help=help_text)
    @click.argument("number")
    @click.option("--reason", required=True, help="Why; recorded in the log and shown to staff.")
    @pass_app
    def command(app: AppContext, number: str, reason: str) -> None:
        with user_errors():
            cert = _registry(app).change_status(number, change, reason=reason, now=app.now(), actor=app.actor())
        click.echo(f"{cert.number}: {cert.status.value}")


_status_command(EventType.SUSPEND, "Suspend a certificate (it can be reinstated).")
_status_command(EventType.REINSTATE, "Reinstate a suspended certificate.")
_status_command(EventType.WITHDRAW, "Withdraw a certificate for good.")


# -- the log ---------------------------------------------------------------------------------

@main.command("log")
@click.option("--verify", "check", is_flag=True,
              help="Check the hash chain, checkpoints, and every row against its history; exit 1 on a break.")
@click.option("--number", help="Only the events of this certificate.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def log_cmd(app: AppContext, check: bool, number: str | None, as_json: bool) -> None:
    """Print the event log, or verify it (--verify)."""
    with user_errors():
        registry = _registry(app)
        if check:
            store = _keystore(app)
            from .registry.tlog import tree_check, tree_heads

            trust = store.trust_list()
            report = verify_log(registry, trust, store.root_certificate(), extra_checks=[tree_check(trust, _log_folder(app))])
            signed = report.checkpoints + len(tree_heads(registry))  # the old chain-head ones, and the tree heads
        else:
            events = registry.events(number) if number else list(registry.iter_events())
    if not check:
        for e in events:
            line = {"seq": e.seq, "at": e.at.isoformat(), "type": e.type.value, "number": e.number,
                    "actor": e.actor, "reason": e.reason, "hash": e.hash}
            click.echo(safe_json(line) if as_json else
                       f"#{e.seq:<6} {e.at:%Y-%m-%d %H:%M:%S}Z {e.type.value:9} {safe(e.number)} by {safe(e.actor)}"
                       + (f": {safe(e.reason, 500)}" if e.reason else ""))
        return
    if as_json:
        click.echo(safe_json({"ok": report.ok, "events": report.events, "checkpoints": signed,
                              "certificates": report.certificates,
                              "first_break": str(report.first_break) if report.first_break else None,
                              "problems": [p.as_json() for p in report.problems]}, indent=2))
    elif report.ok:
        click.echo(f"log intact: {report.events} events, {signed} signed checkpoints, "
                   f"{report.certificates} certificates agree with their history")
    else:
        click.echo(f"LOG BROKEN: first break at {safe(report.first_break)}")
        for problem in report.problems[1:]:
            click.echo(f"  also: {safe(problem)}")
    if not report.ok:
        sys.exit(1)


@main.command("checkpoint")
@pass_app
def checkpoint_cmd(app: AppContext) -> None:
    """Sign a checkpoint (tree head) of the log with the log key, and write it under DATA/log/."""
    with user_errors():
        store = _keystore(app)
        registry = _registry(app)
        done = _sign_tree_head(app, registry, store)
        if done is None:  # a key folder from before the log key: the old DSC-signed checkpoint
            cp = registry.checkpoint(store.current_signer(app.passphrase(), now=app.now()), now=app.now())
            done = f"checkpoint {cp.id}: event {cp.seq} ({cp.hash[:16]}...) signed by {cp.kid}"
            click.echo("no log key: signed the chain head with the document signer; run `certgen keys init-log`", err=True)
    click.echo(done)


def _report_json(r: SuspicionReport) -> dict[str, Any]:
    return {"id": r.id, "created_at": r.created_at.isoformat(), "number": r.number, "seal": r.seal,
            "verdict": r.verdict, "message": r.message, "contact": r.contact, "status": r.status,
            "moderated_at": r.moderated_at.isoformat() if r.moderated_at else None, "moderated_by": r.moderated_by}


@main.group("reports", invoke_without_command=True)
@click.option("--status", "statuses", multiple=True, type=click.Choice(REPORT_STATUSES),
              help="Only reports in this moderation status (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(1, 100000), default=200, show_default=True)
@click.pass_context
def reports_cmd(ctx: click.Context, statuses: tuple[str, ...], as_json: bool, limit: int) -> None:
    """List reports of suspicious certificates sent by the public, newest first (one line each;
    what the public typed is shown escaped: a line break reads \\n, an escape sequence \\x1b).
    `certgen reports mark ID STATUS` moderates one."""
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.ensure_object(AppContext)
    with user_errors():
        reports = _registry(app).reports(limit=limit, status=list(statuses) or None)
    if as_json:
        click.echo(safe_json([_report_json(r) for r in reports], indent=2))
        return
    if not reports:
        click.echo("no reports" + (f" in status {', '.join(statuses)}" if statuses else ""))
    for r in reports:
        about = safe(r.number) if r.number else (safe(r.seal[:48]) + "..." if r.seal else "(no number)")
        click.echo(f"#{r.id} {r.created_at:%Y-%m-%d %H:%M}Z {about} [{safe(r.verdict or '-')}] {r.status}: {safe(r.message)}"
                   + (f" (contact: {safe(r.contact)})" if r.contact else ""))


@reports_cmd.command("mark")
@click.argument("report_id", metavar="ID", type=click.IntRange(1))
@click.argument("status", type=click.Choice(REPORT_STATUSES))
@pass_app
def reports_mark(app: AppContext, report_id: int, status: str) -> None:
    """Move report ID to STATUS (new, spam, in_review, closed)."""
    with user_errors():
        report = _registry(app).mark_report(report_id, status, now=app.now(), actor=app.actor())
    click.echo(f"report #{report.id}: {report.status} (by {safe(report.moderated_by)})")


# -- issuing ---------------------------------------------------------------------------------

@main.command("issue")
@click.argument("kind", type=click.Choice([k.value for k in DocumentKind if k is not DocumentKind.LETTER]))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: DATA/issued/<file name>-<kind>).")
@click.option("--workers", type=click.IntRange(0, 64), default=0, show_default=True, help="Worker processes; 0 = one per core.")
@click.option("--skip-invalid", is_flag=True, help="Issue the valid rows; write the others to rejected.csv.")
@click.option("--photos", type=click.Path(file_okay=False, path_type=Path), help="Folder of photo files (default: beside FILE).")
@click.option("--check", is_flag=True, help="Only validate the rows; issue nothing.")
@click.option("--timestamp-url", envvar="CERTGEN_TSA_URL", help="RFC 3161 timestamp authority: signatures become PAdES B-LTA.")
@click.option("--timestamp-root", envvar="CERTGEN_TSA_ROOT", type=click.Path(dir_okay=False, path_type=Path),
              help="PEM file of the timestamp authority's root certificate(s) (needed with --timestamp-url).")
@click.option("--no-fsync", is_flag=True, help="Skip fsync per file (faster; safe against a kill, not a power cut).")
@click.option("--no-wait", is_flag=True,
              help=f"Refuse (exit {BUSY_EXIT}) instead of waiting when another batch of the same output or input runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--replaces-column", help="Renewal or correction: every row replaces the certificate this column names "
                                        "(docs/lifecycle.md).")
@click.option("--reason", help="With --replaces-column: why, recorded in the old certificates' replace events.")
@pass_app
def issue_cmd(app: AppContext, kind: str, file: Path, output: Path | None, workers: int, skip_invalid: bool,
              photos: Path | None, check: bool, timestamp_url: str | None, timestamp_root: Path | None, no_fsync: bool,
              no_wait: bool, as_json: bool, replaces_column: str | None = None, reason: str | None = None) -> None:
    """Issue every row of FILE (CSV or XLSX) as KIND certificates (person: with cards and print sheets).
    A rerun repairs: files missing or different from the registry are drawn again."""
    if reason is not None and replaces_column is None:
        raise click.UsageError("--reason goes with --replaces-column (renewal or correction)")
    from .adapters.install import SWITCH_VAR, install_all
    from .batch import InvalidRows, IssueEnvironment, issue_batch, prepare_batch
    from .batch_plan import BatchOptions

    # the fast paths, where ReportLab and pyHanko are versions they were tested with (docs/adapters.md)
    install_all(enabled=app.environ.get(SWITCH_VAR, "on").lower() not in ("off", "0", "no"))
    settings = app.get_settings()
    options = BatchOptions(DocumentKind(kind), file, output or settings.data_dir / "issued" / f"{file.stem}-{kind}",
                           workers, skip_invalid, photos, timestamp_url, durable=not no_fsync,
                           replaces_column=replaces_column, replace_reason=reason)
    with user_errors():
        # prepare: read and validate once, see what is left to do (no key, nothing written)
        registry = None if check and not replaces_column else _registry(app)  # successors: checked against it
        plan = prepare_batch(options, registry, templates_dir=settings.templates_dir, now=app.now())
        if check:
            for error in plan.intake.errors:
                click.echo(str(error))
            click.echo(f"{len(plan.intake.valid)} valid row(s), {len(plan.intake.rejected)} invalid")
            sys.exit(1 if plan.intake.errors else 0)
        if plan.intake.errors and not skip_invalid:
            raise click.ClickException(str(InvalidRows(plan.intake.errors)))
        store = _keystore(app)
        problem = _unofficial_address(store.verify_urls(), settings.verify_url)
        if problem:  # refused before any number is taken: every seal of the batch would fail
            raise ConfigError("the trust list's official verification address(es): "
                              + ", ".join(safe(u) for u in store.verify_urls()) + "; " + problem)
        asked: list[bytes] = []

        def passphrase() -> bytes:
            """Asked at most once per run: the signer's key and the log key share it."""
            if not asked:
                asked.append(app.passphrase())
            return asked[0]
        # PAdES B-LTA with a timestamp authority: the root's CRL and its root, checked before any passphrase
        chain = [store.root_certificate(), *(_lta_material(store, timestamp_root, app.now()) if timestamp_url else [])]

        def load_signer():
            return store.current_signer(passphrase(), now=app.now())

        # the passphrase only when there is something to sign (else only if that changes while waiting)
        signer = load_signer() if plan.needs_signer else load_signer
        env = IssueEnvironment(registry=registry, signer=None, chain=chain,
                               verify_url=settings.verify_url, issuer=settings.issuer,
                               templates_dir=settings.templates_dir, actor=app.actor(), now=app.now,
                               lock_dir=settings.data_dir / "locks", wait=not no_wait,
                               sign_tree_head=lambda: _sign_tree_head(app, registry, store, passphrase))
        bar = None
        if sys.stderr.isatty() and not as_json:
            bar = click.progressbar(length=1, label="issuing", file=sys.stderr)

        def progress(done: int, total: int) -> None:
            if bar is not None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

        try:
            summary = issue_batch(plan, signer, env, progress=progress, on_wait=lambda m: click.echo(m, err=True))
        except BatchBusy as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(BUSY_EXIT)
        finally:
            if bar is not None:
                bar.render_finish()
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(f"{summary.issued} issued, {summary.already_issued} already issued earlier, {summary.rejected} rejected "
                   f"of {summary.rows} rows in {summary.seconds:.1f} s ({summary.rate:.0f}/s, {summary.signature or 'nothing signed'})")
        click.echo(f"output: {options.output}  (certificates/, manifest.csv, manifest.json"
                   + (", cards/, sheets/" if kind == "person" else "") + (", rejected.csv" if summary.rejected else "") + ")")
        for line in summary.repaired:
            click.echo(f"repaired: {line}")
        for item in summary.replacements:
            click.echo(f"{item['change']}: {item['replaces']} is replaced by {item['number']}")
        for problem in summary.problems:
            click.echo(f"problem: {problem}", err=True)
    if summary.problems:
        sys.exit(1)


def _lta_material(store: KeyStore, timestamp_root: Path | None, now: datetime) -> list[Any]:
    """The root's CRL and the timestamp authority's roots, for PAdES B-LTA (docs/issuing.md)."""
    from cryptography import x509

    from .errors import ConfigError
    from .revocation import load_crl
    from .sign import TimestampAuthorityRoot

    if timestamp_root is None:
        raise ConfigError("--timestamp-url needs --timestamp-root (or CERTGEN_TSA_ROOT): the PEM certificate the "
                          "timestamp authority's certificate chains to")
    try:
        roots = x509.load_pem_x509_certificates(timestamp_root.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{timestamp_root}: not a readable PEM certificate file ({exc})") from None
    return [load_crl(store.folder, store.root_certificate(), now=now), *(TimestampAuthorityRoot(r) for r in roots)]


from .cli_keys import register as _register_keys  # noqa: E402  (token and key ceremony commands)
_register_keys(keys)
from .cli_registry import registry_group  # noqa: E402 - the `registry` commands live in their own module

main.add_command(registry_group)
from .cli_lifecycle import expiring_cmd, surveillance  # noqa: E402
main.add_command(surveillance)
main.add_command(expiring_cmd)
from .cli_replace import correct_cmd, discard_cmd, renew_cmd  # noqa: E402  (renewal and correction: docs/lifecycle.md)
main.add_command(correct_cmd)
main.add_command(renew_cmd)
main.add_command(discard_cmd)

from .cli_cards import card_group  # noqa: E402 - `certgen card reprint` (docs/issuing.md, "Card editions")
main.add_command(card_group)

from .cli_trust import trust_group  # noqa: E402 - the trust list in the registry (verify.live reads it)
main.add_command(trust_group)
from .cli_service import register as _register_service  # noqa: E402  (service standard commands)
_register_service(main)


if __name__ == "__main__":
    main()
