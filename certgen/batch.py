"""The issuing pipeline (design brief, section 6), in two stages.

`prepare_batch` (certgen/batch_plan.py): read and validate every row once, see what is left
to do; no key, no writes. `issue_batch`: take the batch's locks (output folder, input, registry
lease: certgen/batch_lock.py), then reserve numbers and pending records in one transaction ->
seal, render, sign and write in worker processes, one group (print sheet) at a time -> sync
the groups' files to disk and mark them issued with their digests (certgen/batch_durable.py:
syncs run beside the workers, each covering every group written before it began, and the
groups it covered are marked in one transaction) -> manifests checked against the files, a
signed checkpoint.

A rerun of the same input resumes and repairs: rows already issued are found by their batch
key; their certificate PDF and card are checked against the registry's digests and print
sheets against the sheet drawn from the registry's records; what is missing or different is
drawn again (same bytes: certgen/issue_worker.py) or, where that cannot be, named with its
number. Pending rows are rendered again, and nothing is numbered or written twice.

Memory stays flat in the batch size: groups are planned lazily and handed to the workers
through a bounded window, and the manifests are written in chunks.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator, Sequence, Union

from .batch_durable import DurableRecorder
from .batch_lock import batch_locks
from .batch_plan import (CHUNK, BatchOptions, BatchPlan, InvalidRows, check_input, group_size, layout_checks,
                         prepare_batch)
from .batch_pool import bounded_map, forked_pool, worker_count
from .config import DEFAULT_ISSUER, DEFAULT_VERIFY_URL
from .crypto import DocumentSigner
from .errors import CertgenError, ReplaceRefused, SuccessorDiscarded, TransitionError
from .intake import COLUMNS, ValidRow, column_name
from .issue_worker import (EarlierRow, Group, GroupResult, NewRow, WorkerContext, card_path, certificate_path,
                           run_group, sheet_path)
from .model import DocumentKind, Status, record_from_json, record_to_json
from .mounts import MOUNTINFO, distrust
from .output import ManifestEntry, ManifestWriter, clean_temporaries, file_digest, flush_to_disk, write_rejected
from .registry import Certificate, Issued, NewCertificate, Registry, Reservation
from .registry.leases import LEASE_SECONDS
from .registry.lifecycle import local_day
from .registry.succession import Replacement, with_replacement
from .replacing import check_reserved
from .sign import PdfSealer
from .written_files import Written, known_digest

HASH_THREADS = 2  # files checked at once when the manifest is written

#: A signer, or what loads it (asks for the passphrase) when the batch turns out to need one.
SignerSource = Union[DocumentSigner, Callable[[], DocumentSigner], None]


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
    #: Files of earlier runs that were missing or different and were drawn again, by number.
    repaired: list[str] = field(default_factory=list)
    seconds: float = 0.0
    signature: str = ""
    #: Wall-clock seconds per phase: validate, (wait), reserve, issue, finish.
    phases: dict[str, float] = field(default_factory=dict)
    #: Successors (renewal, correction): {row, replaces, number, change}, in input order.
    replacements: list[dict[str, object]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.issued / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**self.__dict__, "rate_per_second": round(self.rate, 1)}


@dataclass(frozen=True)
class IssueEnvironment:
    """What the pipeline needs from outside: registry, signer, settings, clock, locks."""

    registry: Registry
    signer: SignerSource = None
    chain: Sequence = ()
    verify_url: str = DEFAULT_VERIFY_URL
    issuer: str = DEFAULT_ISSUER
    templates_dir: Path | None = None
    actor: str = "certgen"
    now: Callable[[], datetime] = datetime.now
    #: Folder of the per-input lock files (the CLI: DATA/locks); None: output lock and lease only.
    lock_dir: Path | None = None
    #: Wait for another batch of the same output or input (else raise `BatchBusy`).
    wait: bool = True
    lease_seconds: float = LEASE_SECONDS
    #: Signs a checkpoint of the transparency log (the CLI binds the log key and the data folder).
    sign_tree_head: Callable[[], object] | None = None
    #: Where the output folder's filesystem is looked up (certgen/mounts.py): on a network or
    #: FUSE one, the files the workers wrote are read back for the manifest.
    mountinfo: Path = MOUNTINFO


def run_batch(options: BatchOptions, env: IssueEnvironment,
              progress: Callable[[int, int], None] | None = None) -> BatchSummary:
    """Both stages: prepare, refuse invalid rows (unless skipped), issue with `env.signer`."""
    plan = prepare_batch(options, env.registry, templates_dir=env.templates_dir)
    return issue_batch(plan, env.signer, env, progress=progress)


def issue_batch(plan: BatchPlan, signer: SignerSource, env: IssueEnvironment, *,
                progress: Callable[[int, int], None] | None = None,
                on_wait: Callable[[str], None] | None = None) -> BatchSummary:
    """Carry out `plan` (see the module docstring). Waits for another batch of the same output
    folder or input (`on_wait` says so once), or raises `BatchBusy` when `env.wait` is false.
    `progress(done, total)` is called as groups are recorded, from the thread that syncs them
    (certgen/batch_durable.py), one call at a time."""
    options = plan.options
    intake = plan.intake
    if intake.errors and not options.skip_invalid:
        raise InvalidRows(intake.errors)
    summary = BatchSummary(options.kind.value, str(options.input), str(options.output), rows=plan.rows,
                           rejected=len(intake.rejected))
    summary.phases["validate"] = plan.seconds
    started = time.perf_counter()
    with batch_locks(options.output, plan.input_sha256, env.registry, lock_dir=env.lock_dir, wait=env.wait,
                     on_wait=on_wait, lease_seconds=env.lease_seconds) as lease:
        waited = time.perf_counter() - started
        if waited > 0.5:
            summary.phases["wait"] = round(waited, 3)
        mark = time.perf_counter()
        out = options.output
        subs = ("certificates", "cards", "sheets") if options.kind is DocumentKind.PERSON else ("certificates",)
        for sub in subs:
            (out / sub).mkdir(parents=True, exist_ok=True)
        # identities prove nothing where attributes are cached (network, FUSE): read everything back
        trust_identities = distrust([out, *(out / sub for sub in subs)], env.mountinfo) is None
        clean_temporaries(out)
        if intake.errors:
            extra = [column_name(options.replaces_column)] if options.replaces_column else []
            write_rejected(out / "rejected.csv", [c.name for c in COLUMNS[options.kind]] + extra,
                           ((e.row, e.column, e.reason, intake.rejected.get(e.row, {})) for e in intake.errors))
        now = env.now()
        lease.check()
        reservations = env.registry.reserve((_new(row, plan.replacements.get(row.row)) for row in intake.valid), now=now)
        check_reserved(intake.valid, reservations, env.registry, options.input.name,
                       column_name(options.replaces_column) if options.replaces_column else None)
        summary.replacements = [{"row": row.row, "replaces": row.replaces, "number": res.number,
                                 "change": plan.replacements[row.row].change}
                                for row, res in zip(intake.valid, reservations) if row.row in plan.replacements]
        summary.phases["reserve"] = round(time.perf_counter() - mark, 3)
        mark = time.perf_counter()
        todo = sum(1 for r in reservations if r.status is Status.PENDING)
        if callable(signer) and (todo or _needs_resigning(options, intake.valid, reservations, env.registry)):
            signer = signer()
        loaded = signer if isinstance(signer, DocumentSigner) else None
        if todo and loaded is None:
            raise CertgenError(f"{todo} row(s) to issue, but no signing key was given")
        context = _context(plan, loaded, env, now)
        summary.signature = context.sealer.level if context.sealer else ""
        groups = _groups(options, intake.valid, reservations, env.registry, summary)
        sheet_digests: dict[int, str] = {}
        written: dict[int, Written] = {}  # what the workers wrote (certgen/written_files.py)
        done = 0

        def settle(results: Sequence[GroupResult]) -> None:
            """Groups whose files are on disk (certgen/batch_durable.py): record them issued, in one
            transaction, after checking that this batch still holds its lease."""
            nonlocal done
            issued = [item for result in results for item in result.issued]
            if issued:
                lease.check()
                _mark(env, loaded, issued, now, summary)
            for result in results:
                if trust_identities:
                    written.update(result.written)
                summary.repaired += result.repaired
                summary.problems += result.problems
                if result.sheet_sha256:
                    sheet_digests[result.index] = result.sheet_sha256
            done += len(issued)
            summary.issued += len(issued)
            if progress:
                progress(done, todo)

        with forked_pool(context, options.workers) as pool, \
                DurableRecorder(settle, durable=options.durable, flush=flush_to_disk) as recorder:
            for result in bounded_map(pool, run_group, groups, 2 * worker_count(options.workers) + 1):
                recorder.add(result)
        summary.phases["issue"] = round(time.perf_counter() - mark, 3)

        mark = time.perf_counter()
        summary.sheets = _write_manifest(options, intake.valid, env.registry, summary, sheet_digests, written)
        if summary.issued:
            env.registry.checkpoint(loaded, now=now)  # type: ignore[arg-type]
            if env.sign_tree_head is not None:
                env.sign_tree_head()
        summary.phases["finish"] = round(time.perf_counter() - mark, 3)
    summary.seconds = plan.seconds + time.perf_counter() - started - summary.phases.get("wait", 0.0)
    return summary


def _context(plan: BatchPlan, signer: DocumentSigner | None, env: IssueEnvironment, now: datetime) -> WorkerContext:
    options = plan.options
    sealer = repair = None
    if signer is not None:
        sealer = PdfSealer(signer, env.chain, options.timestamp_url)
        repair = sealer if sealer.signs_in_place else PdfSealer(signer, env.chain)
    return WorkerContext(plan.templates, plan.fonts, signer, sealer, env.verify_url, env.issuer, options.output,
                         now, local_day(now), repair)


def _new(row: ValidRow, replacement: Replacement | None = None) -> NewCertificate:
    """The registry's new certificate for a row; a successor's record names what it replaces."""
    r = row.record
    return NewCertificate(r.series, r.holder, r.scheme, r.grant_date, r.expires,
                          with_replacement(record_to_json(r), replacement), row.batch_key)


def _mark(env: IssueEnvironment, signer: DocumentSigner | None, issued: list[Issued], now: datetime,
          summary: BatchSummary) -> None:
    """Record a group as issued. A row that another batch (of another input with the same row)
    issued meanwhile is named: its files here are this run's, not the registered ones."""
    kid = signer.kid.hex() if signer else ""
    try:
        env.registry.mark_issued_many(issued, dsc_kid=kid, now=now, actor=env.actor)
        return
    except TransitionError:
        pass
    for item in issued:
        try:
            env.registry.mark_issued_many([item], dsc_kid=kid, now=now, actor=env.actor)
        except SuccessorDiscarded as exc:  # certgen discard meanwhile: never issued
            summary.issued -= 1
            summary.problems.append(f"{item.number}: {exc} (its files are not valid)")
        except ReplaceRefused as exc:  # the certificate it replaces was withdrawn or suspended meanwhile
            summary.issued -= 1
            summary.problems.append(f"{item.number}: {exc} (it stays pending; its files are not valid)")
        except TransitionError:
            summary.issued -= 1
            summary.problems.append(f"{item.number}: issued meanwhile by another batch (another input with the same "
                                    f"row); the files written here are not the registered ones: run this batch "
                                    f"again to draw them again from the registry")


def _earlier(options: BatchOptions, cert: Certificate) -> EarlierRow:
    """A row issued before, with what is wrong with its files."""
    def why(path: Path, expected: str | None) -> str | None:
        on_disk = file_digest(path)
        return None if on_disk == expected else ("missing" if on_disk is None else "different")

    person = cert.kind is DocumentKind.PERSON
    return EarlierRow(cert.number, record_from_json(cert.kind, dict(cert.record)), cert.seal or "",
                      cert.issued_at or cert.created_at, cert.dsc_kid, cert.pdf_sha256, cert.card_sha256,
                      why(certificate_path(options.output, cert.number), cert.pdf_sha256),
                      why(card_path(options.output, cert.number), cert.card_sha256) if person else None,
                      cert.card_seal, cert.card_edition, cert.replaces)


def _needs_resigning(options: BatchOptions, rows: list[ValidRow], reservations: list[Reservation],
                     registry: Registry) -> bool:
    """Whether some issued certificate's PDF is missing or different (a signer is needed)."""
    keys = [res.batch_key for res in reservations if res.status is not Status.PENDING and res.batch_key]
    for start in range(0, len(keys), CHUNK):
        for cert in registry.find_by_batch_keys(keys[start:start + CHUNK]).values():
            if file_digest(certificate_path(options.output, cert.number)) != cert.pdf_sha256:
                return True
            if cert.card_seal and file_digest(card_path(options.output, cert.number)) != cert.card_sha256:
                return True  # a signed card to draw again
    return False


def _groups(options: BatchOptions, rows: list[ValidRow], reservations: list[Reservation], registry: Registry,
            summary: BatchSummary) -> Iterator[Group]:
    """Groups with work, one at a time: pending rows, files of earlier rows to draw again, and
    (cards) every print sheet, which is drawn from the records and compared with the file."""
    size = group_size(options.kind)
    person = options.kind is DocumentKind.PERSON
    for start in range(0, len(reservations), size):
        chunk = list(zip(rows[start:start + size], reservations[start:start + size]))
        issued_keys = [res.batch_key for _, res in chunk if res.status is not Status.PENDING]
        earlier = registry.find_by_batch_keys(issued_keys) if issued_keys else {}
        tasks: list[NewRow | EarlierRow] = []
        for row, res in chunk:
            if res.status is Status.PENDING:
                tasks.append(NewRow(res.number, row.record, row.replaces))
                continue
            summary.already_issued += 1
            tasks.append(_earlier(options, earlier[res.batch_key]))
        work = any(isinstance(t, NewRow) or t.repair_pdf or t.repair_card for t in tasks)
        if work or person:
            yield Group(start // size, tuple(tasks), person)


def _write_manifest(options: BatchOptions, rows: list[ValidRow], registry: Registry, summary: BatchSummary,
                    sheet_digests: dict[int, str], written: dict[int, Written]) -> int:
    """manifest.csv and manifest.json in input order, from the registry, each file checked
    against it: a file that does not have the registry's digest is named in the entry's
    `problem` (and in the summary); `sheet_digests`: each print sheet as drawn in this run;
    `written`: the files the workers wrote, not read again while unchanged. Returns the sheet count."""

    def on_disk(paths: list[Path]) -> dict[Path, str | None]:
        digests = {path: known_digest(written, path) for path in paths}
        unknown = [path for path, digest in digests.items() if digest is None]
        digests.update(zip(unknown, hashing.map(file_digest, unknown)))  # hashlib lets go of the GIL
        return digests

    size = group_size(options.kind)
    sheets: set[str] = set()
    named = {p.split(":", 1)[0] for p in summary.problems}
    with ManifestWriter(options.output) as writer, ThreadPoolExecutor(HASH_THREADS) as hashing:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            found = registry.find_by_batch_keys([r.batch_key for r in chunk])
            for row in chunk:
                if row.batch_key not in found:  # a successor discarded meanwhile releases its key (certgen discard)
                    summary.problems.append(f"row {row.row}: its certificate was discarded meanwhile (certgen "
                                            "discard): not issued, not in the manifest")
            positions = [start + i for i, row in enumerate(chunk) if row.batch_key in found]  # sheet places kept
            chunk = [row for row in chunk if row.batch_key in found]
            certs = [found[row.batch_key] for row in chunk]
            person = options.kind is DocumentKind.PERSON
            paths = [certificate_path(options.output, c.number) for c in certs]
            if person:
                paths += [card_path(options.output, c.number) for c in certs]
            digests = on_disk(paths)
            for position, row, cert in zip(positions, chunk, certs):
                differences = []
                if digests[certificate_path(options.output, cert.number)] != cert.pdf_sha256:
                    differences.append("certificate PDF")
                sheet = sheet_sha = card_file = None
                if person:
                    card_file = str(card_path(Path("."), cert.number))
                    if digests[card_path(options.output, cert.number)] != cert.card_sha256:
                        differences.append("card")
                    group = position // size
                    sheet = str(sheet_path(Path("."), group))
                    sheet_sha = sheet_digests.get(group)
                    if sheet not in sheets:
                        sheets.add(sheet)
                        sheet_ok = sheet_sha is not None and on_disk([sheet_path(options.output, group)]).popitem()[1] == sheet_sha
                    if not sheet_ok:
                        differences.append("print sheet")
                problem = None
                if differences:
                    problem = (f"{' and '.join(differences)} on disk "
                               f"{'differ' if len(differences) > 1 else 'differs'} from the registry")
                    if cert.number not in named:
                        summary.problems.append(f"{cert.number}: {problem} (manifest check)")
                writer.add(ManifestEntry(
                    row=row.row, number=cert.number, kind=cert.kind.value, holder=cert.holder,
                    status=cert.status.value, file=str(certificate_path(Path("."), cert.number)),
                    sha256=cert.pdf_sha256 or "", card_file=card_file, card_sha256=cert.card_sha256,
                    sheet_file=sheet, sheet_sha256=sheet_sha, problem=problem))
    return len(sheets)


__all__ = ["BatchOptions", "BatchPlan", "BatchSummary", "InvalidRows", "IssueEnvironment", "check_input",
           "issue_batch", "layout_checks", "prepare_batch", "run_batch"]
