"""The issuing pipeline (design brief, section 6).

validate every row -> reserve numbers and pending records in one transaction -> seal, render,
sign and write in worker processes, one group (print sheet) at a time -> sync the group's
files to disk and mark them issued with their digests -> manifests, a signed checkpoint.

A rerun of the same input resumes: rows whose certificate is already issued are found by
their batch key and skipped (their files are checked against the registry's digests), pending
rows are rendered again, and nothing is numbered or written twice.

Memory stays flat in the batch size: workers are forked before any row is read, groups are
handed to them through a bounded window, and the manifests are written in chunks.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from contextlib import contextmanager
from functools import partial
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .crypto import DocumentSigner
from .errors import CertgenError
from .intake import (COLUMNS, CheckedRow, FitCheck, GlyphCheck, Intake, Row, RowCheck, RowError, RowsChecker,
                     ValidRow, check_rows, validate)
from .issue_worker import (GroupResult, Task, WorkerContext, card_path, certificate_path, configure, run_group,
                           run_group_packed, sheet_path, worker_context)
from .model import DocumentKind, Status, record_to_json
from .output import ManifestEntry, ManifestWriter, clean_temporaries, flush_to_disk, sha256_file, write_rejected
from .registry import NewCertificate, Registry, Reservation
from .registry.lifecycle import local_day
from .render import card as card_render
from .render.document import check_fit
from .render.fonts import FontSet, missing_glyphs, normalise, register
from .render.templates import TemplateError, TemplateSet
from .sign import PdfSealer

CHUNK = 500  # rows looked up or written per registry round trip


class InvalidRows(CertgenError):
    """Some rows are invalid and --skip-invalid was not given: nothing was issued."""

    def __init__(self, errors: Sequence[RowError]):
        self.errors = list(errors)
        rows = len({e.row for e in errors})
        super().__init__(f"{rows} invalid row(s), nothing issued:\n" + "\n".join(f"  {e}" for e in errors))


@dataclass(frozen=True)
class BatchOptions:
    kind: DocumentKind
    input: Path
    output: Path
    workers: int = 0  # 0: one per core
    skip_invalid: bool = False
    photos_dir: Path | None = None
    timestamp_url: str | None = None
    #: sync files to disk before the registry records them (survives a power cut, not only a kill)
    durable: bool = True


@dataclass
class BatchSummary:
    kind: str
    input: str
    output: str
    rows: int = 0
    issued: int = 0
    already_issued: int = 0
    rejected: int = 0
    sheets: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    signature: str = ""
    #: Wall-clock seconds per phase: validate, reserve, issue, finish.
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.issued / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**self.__dict__, "rate_per_second": round(self.rate, 1)}


@dataclass(frozen=True)
class IssueEnvironment:
    """What the pipeline needs from outside: registry, signer, settings, clock."""

    registry: Registry
    signer: DocumentSigner
    chain: Sequence = ()
    verify_url: str = "https://verifikasi.example.id/v/"
    issuer: str = "ID-BSKP"
    templates_dir: Path | None = None
    actor: str = "certgen"
    now: Callable[[], datetime] = datetime.now
    #: Signs a checkpoint of the transparency log (the CLI binds the log key and the data folder).
    sign_tree_head: Callable[[], object] | None = None


def group_size(kind: DocumentKind) -> int:
    return card_render.CARDS_PER_SHEET if kind is DocumentKind.PERSON else 20


def layout_checks(templates: TemplateSet, fonts: FontSet) -> tuple[FitCheck, GlyphCheck]:
    """The renderer's checks of a row: values fit their places, the fonts have every character."""
    def fit(record):  # the certificate's layout, and the card's for persons
        problems = [(p.field, p.message) for p in check_fit(templates, fonts, record)]
        if record.kind is DocumentKind.PERSON:
            problems += card_render.card_fit_problems(templates, fonts, record)
        return problems

    def glyphs(text: str) -> list[str]:
        return sorted(set(missing_glyphs(text, fonts.regular)) | set(missing_glyphs(text, fonts.bold)))

    return fit, glyphs


def check_input(options: BatchOptions, templates: TemplateSet, fonts: FontSet,
                checker: RowsChecker | None = None) -> Intake:
    """Validation only (also `certgen issue --check`); rows are checked by `checker`, or here."""
    if options.kind is DocumentKind.PERSON:
        problems = card_render.card_template_problems(templates, fonts)
        if problems:
            raise TemplateError("; ".join(f"{templates.folder}/{p}" for p in problems))
    if checker is None:
        fit, glyphs = layout_checks(templates, fonts)
        checker = partial(check_rows, fit=fit, glyphs=glyphs, normalise=normalise)
    return validate(options.input, options.kind, schemes=dict(templates.schemes), check=checker,
                    photos_dir=options.photos_dir)


def _check_in_worker(task: RowCheck, rows: list[Row]) -> list[CheckedRow]:
    """Rows checked in a worker process, with the templates and fonts it was started with."""
    context = worker_context()
    fit, glyphs = layout_checks(context.templates, context.fonts)
    return check_rows(task, rows, fit=fit, glyphs=glyphs, normalise=normalise)


def run_batch(options: BatchOptions, env: IssueEnvironment,
              progress: Callable[[int, int], None] | None = None) -> BatchSummary:
    """Issue every valid row of `options.input`; see the module docstring."""
    started = time.perf_counter()
    templates = TemplateSet.load(env.templates_dir)
    fonts = register(templates.letterhead.fonts, templates.letterhead.fallback_fonts)
    summary = BatchSummary(options.kind.value, str(options.input), str(options.output))
    now = env.now()
    sealer = PdfSealer(env.signer, env.chain, options.timestamp_url)
    summary.signature = sealer.level
    context = WorkerContext(templates, fonts, env.signer, sealer, env.verify_url, env.issuer, options.output, now,
                            local_day(now))
    with _workers(context, options.workers) as (submit, checker):
        intake = check_input(options, templates, fonts, checker)
        summary.phases["validate"] = round(time.perf_counter() - started, 3)
        summary.rows = len(intake.valid) + len(intake.rejected)
        summary.rejected = len(intake.rejected)
        if intake.errors and not options.skip_invalid:
            raise InvalidRows(intake.errors)
        out = options.output
        for sub in ("certificates", "cards", "sheets") if options.kind is DocumentKind.PERSON else ("certificates",):
            (out / sub).mkdir(parents=True, exist_ok=True)
        clean_temporaries(out)
        if intake.errors:
            write_rejected(out / "rejected.csv", [c.name for c in COLUMNS[options.kind]],
                           ((e.row, e.column, e.reason, intake.rejected.get(e.row, {})) for e in intake.errors))

        mark = time.perf_counter()
        reservations = env.registry.reserve((_new(row) for row in intake.valid), now=now)
        summary.phases["reserve"] = round(time.perf_counter() - mark, 3)
        mark = time.perf_counter()
        todo = sum(1 for r in reservations if r.status is Status.PENDING)
        done = 0
        groups = _plan(options, intake.valid, reservations, env.registry, summary)
        for result in submit(groups):
            if result.issued:
                if options.durable:
                    flush_to_disk()  # the group's files are on disk before the registry says they exist
                env.registry.mark_issued_many(result.issued, dsc_kid=env.signer.kid.hex(), now=now, actor=env.actor)
            done += len(result.issued)
            summary.issued += len(result.issued)
            if progress:
                progress(done, todo)
        summary.phases["issue"] = round(time.perf_counter() - mark, 3)

    mark = time.perf_counter()
    summary.sheets = _write_manifest(options, intake.valid, env.registry)
    if summary.issued:
        env.registry.checkpoint(env.signer, now=now)
        if env.sign_tree_head is not None:
            env.sign_tree_head()
    summary.phases["finish"] = round(time.perf_counter() - mark, 3)
    summary.seconds = time.perf_counter() - started
    return summary


def _new(row: ValidRow) -> NewCertificate:
    r = row.record
    return NewCertificate(r.series, r.holder, r.scheme, r.grant_date, r.expires, record_to_json(r), row.batch_key)


def _plan(options: BatchOptions, rows: list[ValidRow], reservations: list[Reservation], registry: Registry,
          summary: BatchSummary) -> Iterator[tuple[int, list[Task], bool]]:
    """Groups with work, one at a time: pending rows, or (cards) a print sheet that is missing.
    Rows issued in an earlier run are checked against their files and drawn on their sheet."""
    size = group_size(options.kind)
    person = options.kind is DocumentKind.PERSON
    for start in range(0, len(reservations), size):
        chunk = list(zip(rows[start:start + size], reservations[start:start + size]))
        issued_keys = [res.batch_key for _, res in chunk if res.status is not Status.PENDING]
        earlier = registry.find_by_batch_keys(issued_keys) if issued_keys else {}
        tasks = []
        for row, res in chunk:
            if res.status is Status.PENDING:
                tasks.append(Task(res.number, row.record.kind, record_to_json(row.record), None))
                continue
            cert = earlier[res.batch_key]
            summary.already_issued += 1
            on_disk = sha256_file(certificate_path(options.output, cert.number))
            if on_disk != cert.pdf_sha256:
                what = "missing from" if on_disk is None else "different in"
                summary.problems.append(f"{cert.number}: issued earlier, but its PDF is {what} {options.output}")
            if person and sha256_file(card_path(options.output, cert.number)) != cert.card_sha256:
                summary.problems.append(f"{cert.number}: issued earlier, but its card PDF is missing or different")
            tasks.append(Task(cert.number, cert.kind, dict(cert.record), cert.seal,
                              local_day(cert.issued_at) if cert.issued_at else None))
        group = start // size
        pending = any(t.seal is None for t in tasks)
        if pending or (person and not sheet_path(options.output, group).exists()):
            yield group, tasks, person


@contextmanager
def _workers(context: WorkerContext, workers: int):
    """`(submit, checker)` backed by worker processes forked now, before any row is read (so
    they stay small): `submit(groups) -> results` with at most a few groups in flight, and a
    row checker that spreads validation over the workers (None with one worker: check here)."""
    count = workers or os.cpu_count() or 1
    configure(context)
    if count == 1:
        yield (lambda groups: (run_group(*g) for g in groups)), None
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pool = ctx.Pool(processes=count, initializer=configure, initargs=(context,))

    def submit(groups) -> Iterator[GroupResult]:
        window: deque = deque()
        for group in groups:
            window.append(pool.apply_async(run_group_packed, (group,)))
            if len(window) >= 2 * count + 1:
                yield window.popleft().get()
        while window:
            yield window.popleft().get()

    def checker(task: RowCheck, rows: list[Row]) -> list[CheckedRow]:
        if not rows:
            return []
        size = -(-len(rows) // count)
        parts = pool.map(partial(_check_in_worker, task), [rows[i:i + size] for i in range(0, len(rows), size)])
        return [checked for part in parts for checked in part]

    try:
        yield submit, checker
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _write_manifest(options: BatchOptions, rows: list[ValidRow], registry: Registry) -> int:
    """manifest.csv and manifest.json in input order, written in chunks; returns the sheet count."""
    size = group_size(options.kind)
    sheets = set()
    with ManifestWriter(options.output) as writer:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            found = registry.find_by_batch_keys([r.batch_key for r in chunk])
            for position, row in enumerate(chunk, start=start):
                cert = found[row.batch_key]
                person = cert.kind is DocumentKind.PERSON
                sheet = str(sheet_path(Path("."), position // size)) if person else None
                if sheet:
                    sheets.add(sheet)
                writer.add(ManifestEntry(
                    row=row.row, number=cert.number, kind=cert.kind.value, holder=cert.holder,
                    status=cert.status.value, file=str(certificate_path(Path("."), cert.number)),
                    sha256=cert.pdf_sha256 or "", card_file=str(card_path(Path("."), cert.number)) if person else None,
                    card_sha256=cert.card_sha256, sheet_file=sheet))
    return len(sheets)


__all__ = ["BatchOptions", "BatchSummary", "InvalidRows", "IssueEnvironment", "check_input", "run_batch"]
