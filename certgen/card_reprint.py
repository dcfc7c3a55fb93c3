"""`certgen card reprint`: the next edition of a certified-person card (docs/issuing.md, "Card editions").

One reprint, with the batch's safety:

1. the locks of a batch (certgen/batch_lock.py): the output folder, and a per-card "input"
   (`card:NUMBER`) lock file and registry lease, so two reprints of one card, or a reprint and a
   batch in the same folder, never interleave;
2. the card of edition N+1 is drawn, sealed and signed in memory (certgen/card_files.py);
3. the registry records it (edition, card seal, file digest, a `reprint` event with the full
   state) in one transaction: from then on edition N verifies as a superseded card;
4. when the batch has print sheets, a one-card sheet `sheets/reprint-NUMBER-eN.pdf` is written
   beside the batch's sheets; then the file is written atomically over `cards/NUMBER.pdf`;
5. the registry's log gets a `card_written` event: the reprint is finished.

A crash between 3 and 5 leaves the registry's latest reprint without its `card_written` event
(certgen.registry.cards.reprint_finished: read from the log, never from the folder, so a card
file deleted after a finished reprint does not make the next reprint reuse its edition). A
rerun sees that and draws
that edition again from the registry (same seal, same signing time, deterministic signature)
instead of printing yet another one: a rerun never duplicates. When that edition cannot be drawn
again byte for byte (signed in a token, by another signer, another photo or templates), the
rerun prints the next edition, which supersedes it: never two valid cards, never a stuck card.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Sequence

from .barcode import qr_matrix
from .batch_lock import batch_locks
from .card_files import card_seal, seal_signer_and_time, signed_card
from .crypto import DocumentSigner
from .errors import CertgenError
from .issue_worker import card_path
from .model import DocumentKind, PersonRecord, record_from_json
from .output import flush_to_disk, sha256_file, write_atomic
from .registry import Registry
from .registry.cards import current_edition, record_card_written, record_reprint, reprint_finished, reprint_problem
from .registry.lifecycle import local_day
from .registry.repository import Certificate
from .render.card import CardData, render_sheet
from .render.fonts import FontSet, register
from .render.templates import TemplateSet
from .sign import ChainItem, PdfSealer


class ReprintError(CertgenError):
    """A card cannot be reprinted; the message says why and what to do."""


class _NotReproducible(ReprintError):
    """The recorded edition's file cannot be drawn again byte for byte."""


@dataclass(frozen=True)
class ReprintRequest:
    number: str
    reason: str  # lost, damaged, correction (certgen.registry.cards.REPRINT_REASONS)
    output: Path  # the batch's output folder (cards/, sheets/)
    #: A photo to print instead of the record's (the record's file may be gone since the batch).
    photo: Path | None = None


@dataclass(frozen=True)
class ReprintEnvironment:
    registry: Registry
    signer: Callable[[], DocumentSigner]  # asked only when something is signed
    chain: Sequence[ChainItem]
    templates_dir: Path | None
    verify_url: str
    issuer: str
    actor: str
    now: Callable[[], datetime]
    lock_dir: Path | None = None
    wait: bool = True


@dataclass(frozen=True)
class ReprintResult:
    number: str
    edition: int
    card_file: Path
    card_sha256: str
    sheet_file: Path | None
    #: True when this run wrote an edition an earlier (crashed) run had recorded, printing none.
    resumed: bool


def sheet_file(output: Path, number: str, edition: int) -> Path:
    """The one-card print sheet of a reprint (place 1 of the sheet; docs/issuing.md)."""
    return output / "sheets" / f"reprint-{number}-e{edition}.pdf"


def reprint_card(request: ReprintRequest, env: ReprintEnvironment,
                 on_wait: Callable[[str], None] | None = None) -> ReprintResult:
    """Print the next edition of a card, or finish the one a crashed run recorded."""
    cert = _certificate(env.registry, request.number)
    number = cert.number
    if cert.kind is not DocumentKind.PERSON:  # no card, so no folder to look in: say that first
        raise ReprintError(reprint_problem(cert, env.now()) or f"{number} has no card")
    if not (request.output / "cards").is_dir():  # before anything is recorded: the new edition is written there
        raise ReprintError(f"{request.output}: not a batch output folder (no cards/ in it): give the folder of the "
                           f"batch that printed {number}'s card")
    key = hashlib.sha256(f"card:{number}".encode()).hexdigest()
    with batch_locks(request.output, key, env.registry, lock_dir=env.lock_dir, wait=env.wait, on_wait=on_wait):
        cert = _certificate(env.registry, number)  # read again: another run may have finished meanwhile
        now = env.now()
        problem = reprint_problem(cert, now)
        unfinished = _unfinished(env.registry, cert)
        if problem is not None and not (unfinished and cert.kind is DocumentKind.PERSON):
            raise ReprintError(problem)
        templates = TemplateSet.load(env.templates_dir)
        fonts = register(templates.letterhead.fonts, templates.letterhead.fallback_fonts)
        record = record_from_json(cert.kind, dict(cert.record))
        assert isinstance(record, PersonRecord)
        photo = _photo(request, record)
        if unfinished:  # the file of an edition already recorded: written, whatever happened since
            try:
                return _resume(request, env, cert, record, photo, templates, fonts)
            except _NotReproducible:
                if problem is not None:
                    raise
                # not drawable again (a token's random nonce, another signer, photo or templates): the next
                # edition supersedes the recorded one, whose file never reached the holder or is lost
        edition = current_edition(cert) + 1
        signer = env.signer()
        signed_at = now.replace(microsecond=0)  # the seal's time (whole seconds) is the PDF's: drawn again exactly
        text = card_seal(signer, env.verify_url, number, record, env.issuer, signed_at, edition)
        card = CardData(number, record, qr_matrix(text), photo, local_day(cert.issued_at or cert.created_at), edition,
                        cert.replaces)
        data = signed_card(templates, fonts, PdfSealer(signer, env.chain), card, text, signed_at)
        digest = hashlib.sha256(data).hexdigest()
        record_reprint(env.registry, number, edition=edition, seal=text, card_sha256=digest, reason=request.reason,
                       now=now, actor=env.actor)
        return _finish(env, _write(request.output, card, data, templates, fonts, resumed=False))


def _certificate(registry: Registry, number: str) -> Certificate:
    from .errors import NotFoundError, NumberFormatError

    try:
        return registry.get(number)
    except (NotFoundError, NumberFormatError) as exc:
        raise ReprintError(str(exc)) from None


def _photo(request: ReprintRequest, record: PersonRecord) -> str | None:
    if request.photo is not None:
        if not request.photo.is_file():
            raise ReprintError(f"--photo {request.photo}: no such file")
        return str(request.photo)
    if record.photo and not Path(record.photo).is_file():
        raise ReprintError(f"{request.number}: its photo {record.photo} is no longer there; give it with --photo FILE")
    return record.photo


def _unfinished(registry: Registry, cert: Certificate) -> bool:
    """A reprint the registry recorded whose files were never reported written (no `card_written`
    event after it). Read from the log, not from the folder: a card file or sheet deleted or
    cleared away after a finished reprint must not turn the next reprint into a rewrite of the
    same (perhaps lost) edition."""
    if (cert.card_edition or 1) < 2 or not cert.card_seal:
        return False
    return not reprint_finished(registry, cert.number)


def _finish(env: ReprintEnvironment, result: ReprintResult) -> ReprintResult:
    """The files are on disk: log the reprint as finished (a crash before this: the rerun resumes)."""
    record_card_written(env.registry, result.number, edition=result.edition, card_sha256=result.card_sha256,
                        now=env.now(), actor=env.actor)
    return result


def _resume(request: ReprintRequest, env: ReprintEnvironment, cert: Certificate, record: PersonRecord,
            photo: str | None, templates: TemplateSet, fonts: FontSet) -> ReprintResult:
    """Write the edition the registry holds, exactly as recorded (its digest is checked)."""
    assert cert.card_seal is not None and cert.card_edition is not None
    on_disk = card_path(request.output, cert.number)
    if sha256_file(on_disk) == cert.card_sha256:  # written (the sheet before it) but not yet logged as written
        sheet = sheet_file(request.output, cert.number, cert.card_edition)
        return _finish(env, ReprintResult(cert.number, cert.card_edition, on_disk, cert.card_sha256, sheet if sheet.is_file()
                                          else None, True))
    named = seal_signer_and_time(cert.card_seal)
    if named is None:
        raise ReprintError(f"{cert.number}: the registry's card seal is unreadable: run certgen log --verify")
    kid, signed_at = named
    signer = env.signer()
    if kid != signer.kid.hex():
        raise _NotReproducible(f"{cert.number}: edition {cert.card_edition} was recorded but its file is not in "
                               f"{request.output}, and it was signed by document signer {kid}, not the current one: "
                               "restore it from a backup")
    card = CardData(cert.number, record, qr_matrix(cert.card_seal), photo, local_day(cert.issued_at or cert.created_at),
                    cert.card_edition, cert.replaces)
    data = signed_card(templates, fonts, PdfSealer(signer, env.chain), card, cert.card_seal, signed_at)
    if hashlib.sha256(data).hexdigest() != cert.card_sha256:
        raise _NotReproducible(f"{cert.number}: edition {cert.card_edition} was recorded but its file is not in "
                               f"{request.output}, and drawing it again does not give the registry's bytes (another "
                               "photo, changed templates or fonts): restore it from a backup")
    return _finish(env, _write(request.output, card, data, templates, fonts, resumed=True))


def _write(output: Path, card: CardData, data: bytes, templates: TemplateSet, fonts: FontSet, *,
           resumed: bool) -> ReprintResult:
    sheet = None
    if (output / "sheets").is_dir():  # the sheet first: a card file on disk says the sheet is written (`_resume`)
        sheet = sheet_file(output, card.number, card.edition)
        write_atomic(sheet, render_sheet(templates, fonts, [card], sheet.stem))
        flush_to_disk()
    digest = write_atomic(card_path(output, card.number), data)
    flush_to_disk()
    return ReprintResult(card.number, card.edition, card_path(output, card.number), digest, sheet, resumed)
