"""`certverify`: verification for the public and auditors. Works offline with a trust list;
checks status against a registry when given one (--registry, or CERTGEN_REGISTRY_URL).
Exit code 0 only when every document checked is VALID."""

from __future__ import annotations

import errno
import json
import os
import sys
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import click
from cryptography import x509

from certgen.cli_support import parse_time, safe, safe_json, user_errors
from certgen.errors import TrustListError
from certgen.seal import is_print_sheet
from certgen.trust import TrustList

from .cli_exit import exit_program, reader_left, stop_pool
from .formats import report_json, report_text, summary_line
from .report import Verdict, VerificationReport
from .service import Verifier
from .status import HttpStatus, RegistryStatus, StatusUnavailable

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event


def _load_trust(trust_list: str, root: str) -> tuple[TrustList, x509.Certificate]:
    try:
        root_cert = x509.load_pem_x509_certificate(Path(root).read_bytes())
    except (OSError, ValueError) as exc:
        raise TrustListError(f"{root}: cannot read the root certificate ({exc})") from None
    try:
        data = Path(trust_list).read_bytes()
    except OSError as exc:
        raise TrustListError(f"{trust_list}: cannot read the trust list ({exc.strerror})") from None
    return TrustList.load_signed(data, root_cert), root_cert


def _load_timestamp_roots(paths: tuple[str, ...]) -> tuple[x509.Certificate, ...]:
    roots = []
    for path in paths:
        try:
            roots.append(x509.load_pem_x509_certificate(Path(path).read_bytes()))
        except (OSError, ValueError) as exc:
            raise TrustListError(f"{path}: cannot read the timestamp authority's root certificate ({exc})") from None
    return tuple(roots)


class Context:
    def __init__(self, trust_list: str, root: str, registry: str | None, at: str | None,
                 tsa_roots: tuple[str, ...] = (), log_proof: bool = False, log_state: Path | None = None) -> None:
        self.trust_list, self.root, self.registry, self.at = trust_list, root, registry, at
        self.tsa_roots = tsa_roots
        self.log_proof = log_proof or log_state is not None
        self.log_state = log_state
        #: `certverify pdf --full-validation`: pyHanko's full validation for every PDF.
        self.full_validation = False

    def verifier(self) -> Verifier:
        moment = parse_time(self.at) if self.at else None
        now = (lambda: moment) if moment else (lambda: datetime.now(timezone.utc))
        with user_errors():
            trust, root = _load_trust(self.trust_list, self.root)
            timestamp_roots = _load_timestamp_roots(self.tsa_roots)
        status = None
        if self.registry and self.registry.startswith(("http://", "https://")):
            status = HttpStatus(self.registry)
        elif self.registry:
            try:
                status = RegistryStatus.open(self.registry, now)
            except StatusUnavailable as exc:
                raise click.ClickException(str(exc)) from None
        verifier = Verifier(trust, status, root, now, timestamp_roots=timestamp_roots,
                            pdf_fast_path=not self.full_validation)
        if self.log_proof:
            verifier.log = _log_inclusion(status, trust, self.log_state)
        return verifier


def _log_inclusion(status: object, trust: TrustList, state: Path | None) -> object:
    from certgen.note import CheckpointError, open_tree_head

    from .log_audit import STATE_FILE, LogInclusion
    from .log_source import HttpLog, RegistryLog

    kept = None
    if state is not None:
        try:
            kept = open_tree_head((state / STATE_FILE).read_bytes(), trust.log_keys).head
        except (OSError, CheckpointError) as exc:
            raise click.ClickException(f"{state / STATE_FILE}: not a witness's checkpoint ({exc})") from None
    if isinstance(status, HttpStatus):
        return LogInclusion(HttpLog(status.base_url), trust.log_keys, kept)
    if isinstance(status, RegistryStatus):
        return LogInclusion(RegistryLog(status.registry), trust.log_keys, kept)
    raise click.UsageError("--log-proof needs --registry (a database URL or the service's address)")


@click.group()
@click.version_option(package_name="certgen")
@click.option("--trust-list", default="keys/trustlist.json", show_default=True, help="Signed trust list file.")
@click.option("--root", default="keys/root.cert.pem", show_default=True, help="Root certificate (PEM).")
@click.option("--registry", envvar="CERTGEN_REGISTRY_URL",
              help="Where the status comes from: a registry database URL, or the verification service's base URL.")
@click.option("--at", "at", help="Judge at this time instead of now (ISO 8601).")
@click.option("--tsa-root", "tsa_roots", multiple=True,
              help="Root certificate (PEM) of a timestamp authority whose RFC 3161 timestamps date PDF signatures (repeatable).")
@click.option("--log-proof", is_flag=True,
              help="Also prove that the certificate's latest event is in the log's latest signed checkpoint.")
@click.option("--log-state", type=click.Path(file_okay=False, path_type=Path),
              help="A witness's state folder (certverify log audit --state): the checkpoint of the proof must be "
                   "consistent with the one kept there. Implies --log-proof.")
@click.pass_context
def main(ctx: click.Context, trust_list: str, root: str, registry: str | None, at: str | None,
         tsa_roots: tuple[str, ...], log_proof: bool, log_state: Path | None) -> None:
    """Verify certificates of the certification body."""
    ctx.obj = Context(trust_list, root, registry, at, tsa_roots, log_proof, log_state)


def _print(reports: Iterable[VerificationReport], as_json: bool, *, lines: bool = False) -> None:
    reports = list(reports)
    if as_json:
        data = [report_json(r) for r in reports]
        if lines:
            for item in data:
                click.echo(safe_json(item))
        else:
            click.echo(safe_json(data[0] if len(data) == 1 else data, indent=2))
    else:
        # what a seal, a file name or a registry row says is escaped: a forged seal's holder
        # name must not drive the auditor's terminal (verify.formats, certgen.terminal.safe)
        for r in reports:
            click.echo(report_text(r))
    sys.exit(0 if reports and all(r.verdict is Verdict.VALID for r in reports) else 1)


@main.command("trustlist")
@click.pass_obj
def trustlist_cmd(ctx: Context) -> None:
    """Check a trust list against the root certificate and list its signers."""
    with user_errors():
        trust, _ = _load_trust(ctx.trust_list, ctx.root)
    click.echo(f"trust list signed by the root, issued {trust.issued_at:%Y-%m-%d %H:%M}Z")
    for signer in trust.signers.values():
        revoked = f"revoked from {signer.revoked_at:%Y-%m-%d %H:%M}Z ({safe(signer.revocation_reason)})" if signer.revoked_at else "not revoked"
        click.echo(f"  {signer.kid.hex()}  {signer.not_before:%Y-%m-%d}..{signer.not_after:%Y-%m-%d}  {revoked}")


@main.command("seal")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
@click.pass_obj
def seal_cmd(ctx: Context, text: str, as_json: bool) -> None:
    """Check a seal (the barcode text)."""
    _print([ctx.verifier().verify_seal(text)], as_json)


@main.command("number")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
@click.pass_obj
def number_cmd(ctx: Context, number: str, as_json: bool) -> None:
    """Look a certificate number up in the registry."""
    _print([ctx.verifier().verify_number(number)], as_json)


@main.command("scan")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the JSON reports.")
@click.pass_obj
def scan_cmd(ctx: Context, images: tuple[Path, ...], as_json: bool) -> None:
    """Read the barcodes in photos or screenshots (PNG, JPEG, WebP), or printed in card PDFs
    and print sheets (rendered with poppler), and check them."""
    verifier = ctx.verifier()

    def reports(path: Path) -> list[VerificationReport]:
        from .report import Check, Reason, decide

        try:
            data = path.read_bytes()
        except OSError as exc:
            check = Check.indeterminate("file", Reason.FILE_UNREADABLE, f"the file cannot be read ({exc.strerror})")
            verdict, summary = decide((check,), None)
            return [VerificationReport("image", verdict, (check,), summary, str(path), checked_at=verifier.now())]
        if data.startswith(b"%PDF-"):
            return verifier.verify_print_pdf(data, str(path))
        return verifier.verify_image(data, str(path))

    _print((r for path in images for r in reports(path)), as_json)


@main.command("decode")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def decode_cmd(images: tuple[Path, ...]) -> None:
    """Print only the barcode texts found, one per line (images, card PDFs, print sheets);
    control characters in a code are shown escaped (a line break reads \\n)."""
    from .pdf_pages import PdfPagesError, page_images
    from .scan import ImageError, scan

    found = False
    for path in images:
        try:
            data = path.read_bytes()
        except OSError as exc:
            click.echo(f"{path}: cannot be read ({exc.strerror})", err=True)
            continue
        try:
            for image in page_images(data) if data.startswith(b"%PDF-") else [data]:
                for text in scan(image).texts:
                    click.echo(safe(text))  # a barcode can hold escape sequences and line breaks
                    found = True
        except (ImageError, PdfPagesError) as exc:
            click.echo(f"{safe(path)}: {safe(exc)}", err=True)
    sys.exit(0 if found else 1)


def _pdf_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() == ".pdf" and p.is_file())
        else:
            yield path


_worker: dict[str, Verifier] = {}


def _verify_pdf_file(path: str) -> dict:
    """One file's report as JSON; whatever happens, a report (never an exception)."""
    from .boundary import technical
    from .pdf_pages import is_card_print
    from .report import Check, Reason

    verifier = _worker["verifier"]
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        check = Check.indeterminate("file", Reason.FILE_UNREADABLE, f"the file cannot be read ({exc.strerror})")
        return _single_check_report(verifier, path, check)
    try:
        if is_print_sheet(data) or is_card_print(data):  # a print file: one report per card printed on it
            return [report_json(r) for r in verifier.verify_print_pdf(data, path)]  # type: ignore[return-value]
        return report_json(verifier.verify_pdf(data, path))
    except Exception as exc:  # verify_pdf reports, but a folder check must outlive any bug
        check = Check.indeterminate("pdf_signature", Reason.CHECK_CRASHED, "the check failed on this file: not evaluated",
                                    technical(exc))
        return _single_check_report(verifier, path, check)


def _single_check_report(verifier: Verifier, path: str, check) -> dict:
    from .report import decide

    verdict, summary = decide((check,), None)
    return report_json(VerificationReport("pdf", verdict, (check,), summary, path, checked_at=verifier.now()))


def _crashed_report(path: str) -> dict:
    from .report import Check, Reason

    check = Check.indeterminate("pdf_signature", Reason.CHECK_CRASHED,
                                "the process checking this file died (a crash in a library): not evaluated",
                                "worker process ended abnormally")
    return _single_check_report(_worker.get("verifier") or Verifier(TrustList()), path, check)


def _init_worker(ctx: Context, as_json: bool = True, stop: Event | None = None) -> None:
    _worker["verifier"] = ctx.verifier()
    _worker["as_json"] = as_json  # type: ignore[assignment]
    _worker["stop"] = stop  # type: ignore[assignment]


def _verify_pdf_lines(path: str) -> list[tuple[str, str]]:
    """One file's (verdict, printed line) pairs, a print sheet's one per card. Made in the
    worker: the parent only writes lines (turning 2,000 reports into JSON there cost it as
    much CPU as a tenth of the checks, taken from the workers on a 2-core machine). Nothing
    once the pool is being stopped: the rest of a task is then skipped, not checked."""
    stop = _worker.get("stop")
    if stop is not None and stop.is_set():
        return []
    return _lines(_verify_pdf_file(path), bool(_worker.get("as_json", True)))


def _lines(result: dict | list[dict], as_json: bool) -> list[tuple[str, str]]:
    return [(item["verdict"], safe_json(item) if as_json else summary_line(item)) for item in _flatten([result])]


def _chunk(files: int, workers: int) -> int:
    """Files per task: a few tasks per worker at least, at most 16 files each."""
    return max(1, min(16, files // (workers * 4)))


def _pooled_results(ctx: Context, files: list[str], count: int, as_json: bool) -> Iterator[list[tuple[str, str]]]:
    """Reports in file order from `count` worker processes. A worker that dies (a crash in a
    library) breaks the pool: the files left are then checked one process each, and a file
    that kills its own process too gets an INDETERMINATE report saying so."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("fork")
    done = 0
    stop = context.Event()
    pool = ProcessPoolExecutor(count, mp_context=context, initializer=_init_worker, initargs=(ctx, as_json, stop))
    try:
        try:  # in chunks: one task a file cost the parent as much as the fast path costs a worker
            for result in pool.map(_verify_pdf_lines, files, chunksize=_chunk(len(files), count)):
                done += 1
                yield result
        except BrokenProcessPool:
            pass
    except BaseException:  # closed (the reader left: pdf_cmd), Ctrl-C, ...: no report will be written
        stop_pool(pool, stop)
        raise
    pool.shutdown()
    for path in files[done:]:
        with ProcessPoolExecutor(1, mp_context=context, initializer=_init_worker, initargs=(ctx, as_json)) as alone:
            try:
                yield alone.submit(_verify_pdf_lines, path).result()
            except BrokenProcessPool:
                yield _lines(_crashed_report(path), as_json)


@main.command("pdf")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="JSON: one line per file, then a summary line.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Processes for many files (default: cores).")
@click.option("--full-validation", is_flag=True, envvar="CERTVERIFY_PDF_FULL_VALIDATION",
              help="pyHanko's full validation for every file, never the fast path for the issued layout "
                   "(same verdicts, slower; also CERTVERIFY_PDF_FULL_VALIDATION=1).")
@click.pass_obj
def pdf_cmd(ctx: Context, paths: tuple[Path, ...], as_json: bool, workers: int | None, full_validation: bool) -> None:
    """Check PDF files or folders of them: signature, seal, registry."""
    from . import pdf  # noqa: F401 - pyHanko is imported once here, before the workers fork

    ctx.full_validation = full_validation
    files = [str(p) for p in _pdf_files(paths)]
    if not files:
        raise click.UsageError("no PDF files found")
    count = min(workers or os.cpu_count() or 1, len(files))
    if count > 1:
        with user_errors():
            _load_trust(ctx.trust_list, ctx.root)  # a trust list or root problem: one clear line, not one per worker
        results: Iterator[list[tuple[str, str]]] = _pooled_results(ctx, files, count, as_json)
    else:
        _init_worker(ctx, as_json)
        results = (_verify_pdf_lines(path) for path in files)
    try:
        with closing(results):  # type: ignore[type-var]
            _print_pdf_results(results, as_json)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        reader_left()  # the pool was stopped on closing: no worker outlives the command


def _flatten(results: Iterable[dict | list[dict]]) -> Iterator[dict]:
    """A print sheet gives a list of reports (one per card on it), any other file one."""
    for result in results:
        yield from (result if isinstance(result, list) else [result])


def _print_pdf_results(results: Iterable[list[tuple[str, str]]], as_json: bool) -> None:
    """Write each file's lines as they come (already escaped and formatted by the worker)."""
    counts: dict[str, int] = {}
    try:
        for lines in results:
            for verdict, line in lines:
                counts[verdict] = counts.get(verdict, 0) + 1
                click.echo(line)
        total = sum(counts.values())
        if as_json:
            click.echo(json.dumps({"summary": {"files": total, "verdicts": counts}}))  # "files": reports (a sheet gives one per card)
        else:
            click.echo(f"{total} file(s): " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise  # the reader left (`| head`): pdf_cmd stops the checks and ends quietly
        raise click.ClickException(f"cannot write the results: {exc.strerror or exc}") from None  # a full disk
    exit_program(0 if counts.get("VALID", 0) == total else 1)


@main.group("log")
def log_group() -> None:
    """The registry's transparency log, checked from outside."""


@log_group.command("audit")
@click.option("--registry", "registry_url", help="Registry database URL (default: the main --registry).")
@click.option("--url", help="Base address of the verification service, e.g. https://verifikasi.example.id")
@click.option("--state", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder keeping the last checkpoint this auditor accepted.")
@click.option("--peer", "peers", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A checkpoint another witness kept (its DIR/checkpoint): must be consistent with ours. Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON result.")
@click.pass_obj
def log_audit_cmd(ctx: Context, registry_url: str | None, url: str | None, state: Path, peers: tuple[Path, ...],
                  as_json: bool) -> None:
    """Fetch the log's latest checkpoint, check its signature and that it extends the one accepted
    before. Exit 0 consistent, 1 could not audit, 3 bad signature or unknown key, 4 rollback, 5 fork."""
    from certgen.registry import Registry

    from .log_audit import audit
    from .log_source import HttpLog, RegistryLog

    with user_errors():
        trust, _ = _load_trust(ctx.trust_list, ctx.root)
    if not trust.log_keys:
        raise click.ClickException(f"{ctx.trust_list} names no log key: run `certgen keys init-log` and republish it")
    if url:
        source: object = HttpLog(url)
    elif registry_url or (ctx.registry and not ctx.registry.startswith(("http://", "https://"))):
        try:
            source = RegistryLog(Registry.open(registry_url or ctx.registry or "", migrate=False))
        except Exception as exc:
            raise click.ClickException(f"cannot open the registry: {exc}") from None
    elif ctx.registry:
        source = HttpLog(ctx.registry)
    else:
        raise click.UsageError("give --url (the verification service) or --registry (a database URL)")
    try:
        peer_texts = [(str(p), p.read_bytes()[:65536]) for p in peers]
    except OSError as exc:
        raise click.ClickException(f"cannot read a peer checkpoint: {exc}") from None
    result = audit(source, trust.log_keys, state, peers=peer_texts)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        label = "OK" if result.ok else result.outcome.value.upper().replace("_", " ")
        click.echo(f"{label}: {result.detail}")
        if result.evidence:
            click.echo(f"the rejected checkpoint is kept in {result.evidence}")
    sys.exit(result.outcome.exit_code)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="uvicorn worker processes.")
@click.option("--proxy-headers", is_flag=True, help="Behind a reverse proxy on this machine: believe its X-Forwarded-For.")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True,
              help="Address or CIDR network of a reverse proxy whose X-Forwarded-For is believed (repeatable).")
@click.pass_obj
def serve_cmd(ctx: Context, host: str, port: int, workers: int, proxy_headers: bool, trusted_proxies: tuple[str, ...]) -> None:
    """Run the public verification web service (docs/deploy.md)."""
    os.environ["CERTVERIFY_TRUST_LIST"] = ctx.trust_list
    os.environ["CERTVERIFY_ROOT"] = ctx.root
    if ctx.registry:
        os.environ["CERTGEN_REGISTRY_URL"] = ctx.registry
    if proxy_headers:
        os.environ["CERTVERIFY_TRUST_FORWARDED_FOR"] = "1"
    if trusted_proxies:
        os.environ["CERTVERIFY_TRUSTED_PROXIES"] = ",".join(trusted_proxies)
    from .web.app import app_from_env
    from .web.server import serve

    with user_errors():
        _load_trust(ctx.trust_list, ctx.root)  # missing, altered, foreign, nested: one clear line
    try:
        app_from_env()  # fail here, with a clear message, rather than in every worker
    except Exception as exc:
        raise click.ClickException(f"the service cannot start: {exc}") from None
    with user_errors():  # a bad server limit (CERTVERIFY_HEADER_TIMEOUT, ...): one line naming it
        serve(host, port, workers, proxy_headers)

if __name__ == "__main__":
    main()
