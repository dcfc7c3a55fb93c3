"""The first stage of issuing: read and validate the input once, and see what there is to do.

`prepare_batch` reads every row, checks it (spread over worker processes that hold templates
and fonts but no key), and, given the registry, counts the rows not issued yet and the issued
certificates whose PDF is missing or different (both need the signing key). It writes nothing
and takes no lock: the CLI shows the problems and asks for the passphrase only when the plan
needs a signer, then hands the plan to `certgen.batch.issue_batch`, which takes the locks and
looks at the registry again (another batch may have run meanwhile).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Sequence

from .batch_pool import checked_map, forked_pool, worker_count
from .errors import CertgenError
from .intake import (CheckedRow, FitCheck, GlyphCheck, Intake, Row, RowCheck, RowError, RowsChecker, check_rows,
                     column_name, validate)
from .issue_worker import WorkerContext, card_path, certificate_path, worker_context
from .model import DocumentKind, Status
from .output import file_digest
from .registry import Registry
from .registry.succession import Replacement
from .render import card as card_render
from .render.document import check_fit
from .render.fonts import FontSet, missing_glyphs, normalise, register
from .render.templates import TemplateError, TemplateSet
from .replacing import check_successors

CHUNK = 500  # rows looked up per registry round trip


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
    #: Every row is a successor: this column names the certificate it replaces (docs/lifecycle.md).
    replaces_column: str | None = None
    #: Why, for the old certificates' replace events (with the change and the fields it changed).
    replace_reason: str | None = None


@dataclass
class BatchPlan:
    """A validated input and what it asks for; `issue_batch` carries it out."""

    options: BatchOptions
    templates: TemplateSet
    fonts: FontSet
    intake: Intake
    #: SHA-256 of the input file: the batch's identity for its locks and registry lease.
    input_sha256: str
    #: Seconds spent reading and validating.
    seconds: float
    #: Rows not issued yet, as the registry said when the plan was made (all, without a registry).
    to_issue: int = 0
    #: Issued certificates whose PDF is missing or different: signing them again needs the key.
    to_resign: list[str] = field(default_factory=list)
    #: Successor rows (by input row number): what each replaces and why (certgen/replacing.py).
    replacements: dict[int, Replacement] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.intake.valid) + len(self.intake.rejected)

    @property
    def needs_signer(self) -> bool:
        """Whether carrying the plan out signs anything (and the passphrase must be asked)."""
        return self.to_issue > 0 or bool(self.to_resign)


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
                    photos_dir=options.photos_dir, replaces_column=options.replaces_column)


def _check_in_worker(task: RowCheck, rows: list[Row]) -> list[CheckedRow]:
    """Rows checked in a worker process, with the templates and fonts it was started with."""
    context = worker_context()
    fit, glyphs = layout_checks(context.templates, context.fonts)
    return check_rows(task, rows, fit=fit, glyphs=glyphs, normalise=normalise)


def prepare_batch(options: BatchOptions, registry: Registry | None = None, *,
                  templates_dir: Path | None = None, now: datetime | None = None) -> BatchPlan:
    """Read and validate `options.input` once, and (with a registry) see what is left to do.
    Needs no key, writes nothing."""
    started = time.perf_counter()
    templates = TemplateSet.load(templates_dir)
    fonts = register(templates.letterhead.fonts, templates.letterhead.fallback_fonts)
    digest = _file_sha256(options.input)
    context = WorkerContext(templates, fonts, None, None, "", "", options.output, datetime.now(timezone.utc),
                            datetime.now(timezone.utc).date())
    with forked_pool(context, options.workers) as pool:
        checker = None
        if pool is not None:
            count = worker_count(options.workers)

            def checker(task: RowCheck, rows: list[Row]) -> list[CheckedRow]:
                if not rows:
                    return []
                size = -(-len(rows) // count)
                parts = checked_map(pool, partial(_check_in_worker, task), [rows[i:i + size] for i in range(0, len(rows), size)])
                return [checked for part in parts for checked in part]

        intake = check_input(options, templates, fonts, checker)
    replacements: dict[int, Replacement] = {}
    if registry is not None and options.replaces_column:
        successors = check_successors(intake, registry, options.kind, options.input.name, column_name(options.replaces_column),
                                      options.replace_reason, now or datetime.now(timezone.utc))
        intake, replacements = successors.intake, successors.replacements
    plan = BatchPlan(options, templates, fonts, intake, digest, round(time.perf_counter() - started, 3),
                     to_issue=len(intake.valid), replacements=replacements)
    if registry is not None and intake.valid:
        plan.to_issue, plan.to_resign = _left_to_do(options, intake, registry)
    return plan


def _left_to_do(options: BatchOptions, intake: Intake, registry: Registry) -> tuple[int, list[str]]:
    """(rows not issued yet, issued certificates whose PDF or signed card is missing or different)."""
    to_issue, to_resign = 0, []
    for start in range(0, len(intake.valid), CHUNK):
        chunk = intake.valid[start:start + CHUNK]
        found = registry.find_by_batch_keys([r.batch_key for r in chunk])
        for row in chunk:
            cert = found.get(row.batch_key)
            if cert is None or cert.status is Status.PENDING:
                to_issue += 1
            elif file_digest(certificate_path(options.output, cert.number)) != cert.pdf_sha256:
                to_resign.append(cert.number)
            elif cert.card_seal and file_digest(card_path(options.output, cert.number)) != cert.card_sha256:
                to_resign.append(cert.number)  # a signed card to draw again (issue 12)
    return to_issue, to_resign


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""  # validation names the problem
    return digest.hexdigest()


__all__ = ["BatchOptions", "BatchPlan", "InvalidRows", "check_input", "group_size", "layout_checks", "prepare_batch"]
