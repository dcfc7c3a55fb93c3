"""The worker side of batch issuing: seal, render, sign and write one group of certificates.

A group is at most one print sheet of cards (10 rows) or 20 rows of other kinds. Workers are
forked from the batch process after it has loaded the templates, fonts and the signing key,
so nothing secret crosses a pipe; `configure` stores that state in the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .barcode import QrMatrix, qr_matrix
from .crypto import DocumentSigner
from .errors import CertgenError
from .model import DocumentKind, PersonRecord, Record, record_from_json
from .output import write_atomic
from .registry import Issued
from .render.card import CardData, render_card, render_sheet
from .render.document import SIGNATURE_BOX, render_certificate
from .render.fonts import FontSet
from .render.templates import TemplateSet
from .seal import SealClaims, seal_text, sign_seal
from .sign import PdfSealer


@dataclass(frozen=True)
class WorkerContext:
    templates: TemplateSet
    fonts: FontSet
    signer: DocumentSigner
    sealer: PdfSealer
    verify_url: str
    issuer: str
    output: Path
    signed_at: datetime
    issued_on: date


@dataclass(frozen=True)
class Task:
    """One row of a group: `seal` and `issued_on` are set when the certificate was issued in an
    earlier run (its card is drawn again on the group's sheet, exactly as it was)."""

    number: str
    kind: DocumentKind
    record: dict[str, Any]
    seal: str | None
    issued_on: date | None = None


@dataclass(frozen=True)
class GroupResult:
    index: int
    issued: list[Issued]


class IssueError(CertgenError):
    """A row could not be rendered, signed or written; the message names its number."""


_context: WorkerContext | None = None


def configure(context: WorkerContext) -> None:
    global _context
    _context = context


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


def run_group(index: int, tasks: list[Task], with_sheet: bool) -> GroupResult:
    """Issue the pending rows of a group and (for cards) write its print sheet. Any failure is
    raised as an IssueError naming the certificate; the rows of the group stay pending."""
    try:
        return _run_group(index, tasks, with_sheet)
    except CertgenError:
        raise
    except Exception as exc:
        numbers = ", ".join(t.number for t in tasks[:3]) + (" ..." if len(tasks) > 3 else "")
        raise IssueError(f"group {index + 1} ({numbers}): {type(exc).__name__}: {exc}") from None


def _run_group(index: int, tasks: list[Task], with_sheet: bool) -> GroupResult:
    ctx = worker_context()
    issued: list[Issued] = []
    cards: list[CardData] = []
    for task in tasks:
        record = record_from_json(task.kind, task.record)
        if task.seal is None:
            text = seal_text(sign_seal(make_claims(task.number, record, ctx.issuer, ctx.signed_at), ctx.signer),
                             ctx.verify_url)
        else:
            text = task.seal
        matrix = qr_matrix(text)
        photo = record.photo if isinstance(record, PersonRecord) else None
        if task.seal is None:
            signed = _signed_certificate(ctx, record, task.number, matrix, photo, text)
            pdf_sha = write_atomic(certificate_path(ctx.output, task.number), signed)
            card_sha = None
            if isinstance(record, PersonRecord):
                card = CardData(task.number, record, matrix, photo, ctx.issued_on)
                card_sha = write_atomic(card_path(ctx.output, task.number),
                                        render_card(ctx.templates, ctx.fonts, card))
            issued.append(Issued(task.number, pdf_sha, card_sha, text))
        if isinstance(record, PersonRecord):
            cards.append(CardData(task.number, record, matrix, photo, task.issued_on or ctx.issued_on))
    if with_sheet and cards:
        path = sheet_path(ctx.output, index)
        write_atomic(path, render_sheet(ctx.templates, ctx.fonts, cards, path.stem))
    return GroupResult(index, issued)


def _signed_certificate(ctx: WorkerContext, record: Record, number: str, matrix: QrMatrix, photo: str | None,
                        seal: str) -> bytes:
    """Draw and sign: in place for B-B, through pyHanko's incremental update for B-T."""
    sealer = ctx.sealer
    reason = f"{ctx.templates.documents[record.kind].title.en} {number}"
    location = ctx.templates.letterhead.city
    if sealer.signs_in_place:
        field = sealer.field(SIGNATURE_BOX, ctx.signed_at, reason=reason, location=location, seal=seal)
        pdf = render_certificate(ctx.templates, ctx.fonts, record, number, matrix, ctx.issued_on, photo, field)
        return sealer.complete(pdf)
    pdf = render_certificate(ctx.templates, ctx.fonts, record, number, matrix, ctx.issued_on, photo)
    return sealer.sign(pdf, SIGNATURE_BOX, location=location, reason=reason, seal=seal)


def run_group_packed(args: tuple[int, list[Task], bool]) -> GroupResult:
    return run_group(*args)
