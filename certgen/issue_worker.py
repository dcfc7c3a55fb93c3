"""The worker side of batch issuing: seal, render, sign and write one group of certificates,
and draw again what an earlier run wrote and was lost or damaged since.

A group is at most one print sheet of cards (10 rows) or 20 rows of other kinds. Workers are
forked from the batch process after it has loaded the templates, fonts and the signing key,
so nothing secret crosses a pipe; `configure` stores that state in the worker. Rows arrive as
typed records (`NewRow`, `EarlierRow`), not as JSON.

Drawing is deterministic for a record: the same number, seal, signing time (the registry's
issue time), signer and templates give the same bytes (ReportLab's invariant mode: no /ID or
creation time of its own; RFC 6979 ECDSA in the PAdES signature). That is what lets a rerun
repair a file: it is drawn again, and written only if its SHA-256 is the registry's.
"""

from __future__ import annotations

import gc
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Union

from .barcode import QrMatrix, qr_matrix
from .card_files import card_seal, seal_signer_and_time, signed_card
from .crypto import DocumentSigner
from .errors import CertgenError
from .model import PersonRecord, Record
from .output import file_digest, write_atomic_identified
from .registry import Issued
from .registry.lifecycle import local_day
from .render.card import CardData, render_card, render_sheet
from .render.document import SIGNATURE_BOX, render_certificate
from .render.fonts import FontSet
from .render.templates import TemplateSet
from .seal import SealClaims, seal_text, sign_seal
from .written_files import Written, note
from .sign import PdfSealer


@dataclass(frozen=True)
class WorkerContext:
    templates: TemplateSet
    fonts: FontSet
    #: None when the run signs nothing (validation, or a rerun that only checks and redraws cards)
    signer: DocumentSigner | None
    sealer: PdfSealer | None
    verify_url: str
    issuer: str
    output: Path
    signed_at: datetime
    issued_on: date
    #: Signs in place (B-B) for repairs and for cards: the run's own sealer unless it is B-T.
    repair_sealer: PdfSealer | None = None


@dataclass(frozen=True)
class NewRow:
    """A row to issue in this run (its certificate is pending in the registry)."""

    number: str
    record: Record
    #: A successor: the number of the certificate it replaces (printed on its paper).
    replaces: str | None = None


@dataclass(frozen=True)
class EarlierRow:
    """A row issued in an earlier run, as the registry holds it: drawn again on its group's
    sheet, and its files drawn again where `repair_pdf` / `repair_card` say why ("missing",
    "different")."""

    number: str
    record: Record
    seal: str
    issued_at: datetime
    dsc_kid: str | None
    pdf_sha256: str | None
    card_sha256: str | None
    repair_pdf: str | None = None
    repair_card: str | None = None
    #: The current card's seal and edition (None: a card printed before editions, which carried
    #: the certificate's seal and no signature).
    card_seal: str | None = None
    card_edition: int | None = None
    #: A successor: the number of the certificate it replaces (its record's `replaces` entry).
    replaces: str | None = None


Row = Union[NewRow, EarlierRow]


@dataclass(frozen=True)
class Group:
    """One group of rows, in input order; `with_sheet`: (cards) draw and check its print sheet."""

    index: int
    rows: tuple[Row, ...]
    with_sheet: bool


@dataclass
class GroupResult:
    index: int
    issued: list[Issued]
    #: What was drawn again because it was missing or different, one line each, by number.
    repaired: list[str] = field(default_factory=list)
    #: Files that differ from the registry and could not be drawn again, by number.
    problems: list[str] = field(default_factory=list)
    #: SHA-256 of the group's print sheet as drawn from the records (and now on disk).
    sheet_sha256: str | None = None
    #: Every file this group wrote, by inode (certgen/written_files.py): the manifest trusts it unchanged.
    written: dict[int, Written] = field(default_factory=dict)


class IssueError(CertgenError):
    """A row could not be rendered, signed or written; the message names its number."""


_context: WorkerContext | None = None
#: In a forked worker: freeze the heap out of the garbage collector after the first group.
_freeze_pending = False


def configure(context: WorkerContext) -> None:
    global _context
    _context = context


def configure_worker(context: WorkerContext) -> None:
    """`configure` in a forked worker process. After its first group, what the worker has loaded
    (font subsets, forms, layouts: caches that live as long as the process) is frozen out of the
    cyclic garbage collector, so that its full collections stop walking them again and again."""
    global _freeze_pending
    configure(context)
    _freeze_pending = True


def worker_context() -> WorkerContext:
    if _context is None:
        raise RuntimeError("worker not configured")
    return _context


def certificate_path(output: Path, number: str) -> Path:
    return output / "certificates" / f"{number}.pdf"


def card_path(output: Path, number: str) -> Path:
    return output / "cards" / f"{number}.pdf"


def sheet_path(output: Path, index: int) -> Path:
    return output / "sheets" / f"cards-{index + 1:04d}.pdf"


def make_claims(number: str, record: Record, issuer: str, signed_at: datetime) -> SealClaims:
    return SealClaims(number=number, kind=record.kind, holder=record.holder, scheme=record.scheme,
                      granted=record.grant_date, expires=record.expires, issuer=issuer, signed_at=signed_at,
                      subject=record.subject)


def run_group(group: Group) -> GroupResult:
    """Issue the new rows of a group, repair its earlier rows' files, and (cards) draw its
    print sheet. A failure of a new row is raised as an IssueError naming the certificate; the
    rows of the group stay pending."""
    global _freeze_pending
    try:
        result = _run_group(group)
    except CertgenError:
        raise
    except Exception as exc:
        rows = group.rows
        numbers = ", ".join(r.number for r in rows[:3]) + (" ..." if len(rows) > 3 else "")
        raise IssueError(f"group {group.index + 1} ({numbers}): {type(exc).__name__}: {exc}") from None
    if _freeze_pending:
        _freeze_pending = False
        gc.freeze()
    return result


def _run_group(group: Group) -> GroupResult:
    ctx = worker_context()
    result = GroupResult(group.index, [])
    cards: list[CardData] = []
    for row in group.rows:
        record = row.record
        photo = record.photo if isinstance(record, PersonRecord) else None
        if isinstance(row, NewRow):
            if ctx.sealer is None or ctx.signer is None:
                raise IssueError(f"{row.number}: no signing key was loaded for this run")
            text = seal_text(sign_seal(make_claims(row.number, record, ctx.issuer, ctx.signed_at), ctx.signer),
                             ctx.verify_url)
            matrix = qr_matrix(text)
            signed = _signed_certificate(ctx, ctx.sealer, record, row.number, matrix, photo, text, ctx.signed_at,
                                         ctx.issued_on, row.replaces)
            pdf_sha = _write(result, certificate_path(ctx.output, row.number), signed)
            card_sha = card_text = None
            if isinstance(record, PersonRecord):
                card_text = card_seal(ctx.signer, ctx.verify_url, row.number, record, ctx.issuer, ctx.signed_at, 1)
                card = CardData(row.number, record, qr_matrix(card_text), photo, ctx.issued_on, replaces=row.replaces)
                # cards are signed B-B whatever the run's level (docs/issuing.md, "Card editions"): drawn again exactly
                card_sha = _write(result, card_path(ctx.output, row.number),
                                        signed_card(ctx.templates, ctx.fonts, ctx.repair_sealer or ctx.sealer, card,
                                                    card_text, ctx.signed_at))
                cards.append(card)
            result.issued.append(Issued(row.number, pdf_sha, card_sha, text, card_text))
            continue
        matrix = qr_matrix(row.seal)
        issued_on = local_day(row.issued_at)
        if row.repair_pdf:
            _repair(result, row.number, "certificate PDF", row.repair_pdf, row.pdf_sha256,
                    certificate_path(ctx.output, row.number), lambda: _redraw_certificate(ctx, row, matrix, photo))
        if isinstance(record, PersonRecord):
            card = CardData(row.number, record, qr_matrix(row.card_seal) if row.card_seal else matrix, photo, issued_on,
                            row.card_edition or 1, row.replaces)
            if row.repair_card:
                _repair(result, row.number, "card", row.repair_card, row.card_sha256,
                        card_path(ctx.output, row.number), lambda: _redraw_card(ctx, row, card))
            cards.append(card)
    if group.with_sheet and cards:
        _sheet(ctx, group, cards, result)
    return result


def _sheet(ctx: WorkerContext, group: Group, cards: list[CardData], result: GroupResult) -> None:
    """Draw the group's sheet from its cards; write it unless the same bytes are on disk. A
    sheet of rows all issued earlier that was missing or different is a repair."""
    path = sheet_path(ctx.output, group.index)
    data = render_sheet(ctx.templates, ctx.fonts, cards, path.stem)
    digest = hashlib.sha256(data).hexdigest()
    on_disk = file_digest(path)
    if on_disk != digest:
        if not _written(result, path, data, f"{path.relative_to(ctx.output)}: print sheet"):
            return
        if not any(isinstance(r, NewRow) for r in group.rows):
            what = "missing" if on_disk is None else "different"
            result.repaired.append(f"{path.relative_to(ctx.output)}: print sheet was {what}: drawn again "
                                   f"from the registry's records")
    result.sheet_sha256 = digest


def _write(result: GroupResult, path: Path, data: bytes) -> str:
    """Write a file atomically and note it for the manifest; returns its SHA-256."""
    digest, status = write_atomic_identified(path, data)
    note(result.written, status, digest)
    return digest


def _written(result: GroupResult, path: Path, data: bytes, problem: str) -> bool:
    """`_write` a repaired file; False, with the problem named, when its place cannot take a
    file (a directory put there, no permission): the other files are repaired all the same."""
    try:
        _write(result, path, data)
    except OSError as exc:
        result.problems.append(f"{problem} writing it again failed ({exc.strerror}: {path}): "
                               "make the path free for the file, then run the batch again")
        return False
    return True


def _repair(result: GroupResult, number: str, what: str, why: str, expected: str | None, path: Path,
            draw) -> None:
    """Draw a file again and write it only if it has the registry's SHA-256; otherwise name it."""
    try:
        data = draw()
    except _CannotRedraw as exc:
        result.problems.append(f"{number}: its {what} is {why} in {path.parent.parent}, and {exc}")
        return
    except Exception as exc:  # a photo gone, a template broken: name it, repair the others
        result.problems.append(f"{number}: its {what} is {why} in {path.parent.parent}, and drawing it again "
                               f"failed ({type(exc).__name__}: {exc})")
        return
    digest = hashlib.sha256(data).hexdigest()
    if expected is None or digest != expected:
        result.problems.append(
            f"{number}: its {what} is {why} in {path.parent.parent}, and drawing it again does not give the "
            "registry's bytes (signed with a timestamp, RSA-PSS or a key in a hardware token, or the templates, fonts "
            "or photo have changed): "
            "restore it from a backup, or withdraw and reissue the certificate")
        return
    if not _written(result, path, data, f"{number}: its {what} is {why} in {path.parent.parent}, and"):
        return
    result.repaired.append(f"{number}: {what} was {why}: drawn again, identical to the registry (SHA-256 {digest[:16]}...)")


class _CannotRedraw(Exception):
    """Why a file cannot be drawn again at all (its text ends the problem's sentence)."""


def _redraw_card(ctx: WorkerContext, row: EarlierRow, card: CardData) -> bytes:
    """A card as issued: unsigned with the certificate's seal before card editions, else signed
    by its seal's signer at its signing time (the issue time for edition 1)."""
    if not row.card_seal:
        return render_card(ctx.templates, ctx.fonts, card)
    named = seal_signer_and_time(row.card_seal)
    if named is None:
        raise _CannotRedraw("the registry's card seal is unreadable")
    kid, sealed_at = named
    if ctx.signer is None or ctx.repair_sealer is None:
        raise _CannotRedraw("this run has no signing key to draw it again")
    if kid != ctx.signer.kid.hex():
        raise _CannotRedraw(f"it was signed by document signer {kid}, not by the current one "
                            f"({ctx.signer.kid.hex()}): print a new edition (certgen card reprint)")
    signed_at = row.issued_at if (row.card_edition or 1) == 1 else sealed_at
    return signed_card(ctx.templates, ctx.fonts, ctx.repair_sealer, card, row.card_seal, signed_at)


def _redraw_certificate(ctx: WorkerContext, row: EarlierRow, matrix: QrMatrix, photo: str | None) -> bytes:
    if ctx.signer is None or ctx.repair_sealer is None:
        raise _CannotRedraw("this run has no signing key to draw it again")
    if row.dsc_kid != ctx.signer.kid.hex():
        raise _CannotRedraw(f"it was signed by document signer {row.dsc_kid}, not by the current one "
                            f"({ctx.signer.kid.hex()}): restore it from a backup, or withdraw and reissue it")
    return _signed_certificate(ctx, ctx.repair_sealer, row.record, row.number, matrix, photo, row.seal,
                               row.issued_at, local_day(row.issued_at), row.replaces)


def _signed_certificate(ctx: WorkerContext, sealer: PdfSealer, record: Record, number: str, matrix: QrMatrix,
                        photo: str | None, seal: str, signed_at: datetime, issued_on: date,
                        replaces: str | None = None) -> bytes:
    """Draw and sign: in place for B-B, through pyHanko's incremental update for B-T."""
    reason = f"{ctx.templates.documents[record.kind].title.en} {number}"
    location = ctx.templates.letterhead.city
    if sealer.signs_in_place:
        field_ = sealer.field(SIGNATURE_BOX, signed_at, reason=reason, location=location, seal=seal)
        pdf = render_certificate(ctx.templates, ctx.fonts, record, number, matrix, issued_on, photo, field_, replaces)
        return sealer.complete(pdf)
    pdf = render_certificate(ctx.templates, ctx.fonts, record, number, matrix, issued_on, photo, replaces=replaces)
    return sealer.sign(pdf, SIGNATURE_BOX, location=location, reason=reason, seal=seal)
