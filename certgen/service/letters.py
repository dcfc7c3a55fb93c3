"""Compensation: the apology letter for a late result, and its redemption.

The letter is a document of the registry like a certificate (series `SM`, kind `letter`):
numbered by `Registry.reserve`, sealed (COSE seal in its QR code), drawn on the letterhead,
signed (PAdES) and recorded by `Registry.mark_issued`, so `certverify` and the public page
verify it as they verify a certificate. It carries one working day of credit for its client.
Redeemed on the client's next application, the application's allowed days drop by one and the
letter's status becomes `redeemed` (a logged status change whose reason names the application);
a second redemption, another client's letter, or a withdrawn letter is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..barcode import qr_matrix
from ..batch import IssueEnvironment
from ..crypto import DocumentSigner
from ..errors import NotFoundError, NumberFormatError
from ..model import DocumentKind, EventType, Series, Status
from ..numbers import parse_number
from ..output import write_atomic
from ..registry import NewCertificate
from ..registry.lifecycle import local_day
from ..render.fonts import register
from ..render.letter import SIGNATURE_BOX, Letter, render_letter
from ..render.templates import Bilingual, TemplateSet
from ..seal import SealClaims, open_seal, seal_text, sign_seal
from ..sign import PdfSealer
from ..trust import TrustList
from .applications import Application, ApplicationError, Applications
from .complaints import Complaints

CREDIT_DAYS = 1
TITLE = Bilingual("SURAT PERMOHONAN MAAF", "Letter of apology")


@dataclass(frozen=True)
class IssuedLetter:
    number: str
    path: Path
    pdf_sha256: str
    application: Application


@dataclass(frozen=True)
class _Text:
    """The letter's variable text, for the fonts' check of CJK letters."""

    text: str


def _signer(env: IssueEnvironment) -> DocumentSigner:
    """The environment's signer (the pipeline also accepts a function that loads it)."""
    signer = env.signer
    if signer is not None and not isinstance(signer, DocumentSigner) and callable(signer):
        signer = signer()
    if signer is None:
        raise ApplicationError("no document signer: letters are signed and sealed")
    return signer


def letter_path(folder: Path, number: str) -> Path:
    return folder / f"{number}.pdf"


def due(apps: Applications, now: datetime) -> list[str]:
    """Applications reported late that have no apology letter yet."""
    return [a.number for a in apps.iter(now) if a.closed and a.clock.late and not a.apology_letter]


def issue_apology_letter(apps: Applications, number: str, env: IssueEnvironment, folder: Path,
                         timestamp_url: str | None = None) -> IssuedLetter:
    """Issue (or, after an interruption, finish issuing) the apology letter of a late application."""
    now = env.now()
    app = apps.get(number, now)
    if not app.closed or not app.clock.late:
        raise ApplicationError(f"{app.number}: its result was not reported late; no apology letter is due")
    if app.apology_letter:
        raise ApplicationError(f"{app.number}: apology letter {app.apology_letter} was already issued")
    c = app.clock
    day = local_day(now)
    record = {"client": app.client, "client_id": app.client_id, "application": app.number, "kind": app.kind,
              "allowed": c.allowed, "used": c.used, "days_late": c.days_late,
              "reported": c.reported.isoformat() if c.reported else None, "credit_days": CREDIT_DAYS,
              "date": day.isoformat()}
    reservation = env.registry.reserve([NewCertificate(Series.APOLOGY, app.client[:200], app.number, day, None, record,
                                                       batch_key=f"apology:{app.number}")], now=now)[0]
    path = letter_path(folder, reservation.number)
    if reservation.status is Status.PENDING:
        claims = SealClaims(reservation.number, DocumentKind.LETTER, app.client[:200], app.number, day, None, env.issuer,
                            now, subject="Surat permohonan maaf / Letter of apology")
        signer = _signer(env)
        text = seal_text(sign_seal(claims, signer), env.verify_url)
        pdf = _signed_letter(env, _letter(reservation.number, app, record, day), text, now, timestamp_url)
        folder.mkdir(parents=True, exist_ok=True)
        digest = write_atomic(path, pdf)
        env.registry.mark_issued(reservation.number, pdf_sha256=digest, dsc_kid=signer.kid.hex(), now=now,
                                 actor=env.actor, seal=text)
    else:
        digest = env.registry.get(reservation.number).pdf_sha256 or ""
    closed = apps.record_letter(app.number, reservation.number, now=now, actor=env.actor)
    return IssuedLetter(reservation.number, path, digest, closed)


def _letter(number: str, app: Application, record: dict, day) -> Letter:
    c = app.clock
    kind = app.kind
    paragraphs = (
        Bilingual(f"Dengan hormat, kami menyampaikan permohonan maaf karena hasil layanan atas permohonan {app.number} "
                  f"dilaporkan {c.days_late} hari kerja melewati batas waktu yang dijanjikan dalam standar pelayanan "
                  f"kami ({c.allowed} hari kerja).",
                  f"We apologise: the result of application {app.number} was reported {c.days_late} working day(s) "
                  f"after the deadline our service standard promises ({c.allowed} working days)."),
        Bilingual(f"Sebagai kompensasi, waktu layanan permohonan sertifikasi Anda berikutnya dipersingkat "
                  f"{CREDIT_DAYS} hari kerja. Bawa atau tunjukkan surat ini (nomor {number}) saat mengajukan permohonan.",
                  f"As compensation, the service time of your next certification application is {CREDIT_DAYS} working "
                  f"day shorter. Bring or show this letter (number {number}) when you apply."),
    )
    table = (("Permohonan", "Application", f"{app.number} ({kind})"),
             ("Hasil dilaporkan", "Result reported", f"{record['reported']}"),
             ("Hari kerja terpakai", "Working days used", f"{c.used} / {c.allowed}"),
             ("Keterlambatan", "Days late", f"{c.days_late} hari kerja / working day(s)"),
             ("Kompensasi", "Credit", f"{CREDIT_DAYS} hari kerja / working day"))
    return Letter(TITLE, number, day, (app.client,), paragraphs, table)


def _signed_letter(env: IssueEnvironment, letter: Letter, seal: str, now: datetime, timestamp_url: str | None) -> bytes:
    templates = TemplateSet.load(env.templates_dir)
    fonts = register(templates.letterhead.fonts, templates.letterhead.fallback_fonts)
    fonts.prepare(_Text(" ".join(letter.recipient)))
    sealer = PdfSealer(_signer(env), env.chain, timestamp_url)
    matrix = qr_matrix(seal)
    reason = "Surat permohonan maaf / Letter of apology"
    location = templates.letterhead.city
    if sealer.signs_in_place:
        field = sealer.field(SIGNATURE_BOX, now, reason=reason, location=location, seal=seal)
        return sealer.complete(render_letter(templates, fonts, letter, matrix, field))
    return sealer.sign(render_letter(templates, fonts, letter, matrix), SIGNATURE_BOX, reason=reason,
                       location=location, seal=seal)


def redeem(apps: Applications, number: str, letter: str, *, trust: TrustList | None, now: datetime,
           actor: str) -> Application:
    """Redeem `letter` (its number, or the text of its QR code as a scanner types it) on the
    open application `number`: one working day less. Refusals say why."""
    letter_number = _letter_number(letter, trust, now)
    registry = apps.registry
    try:
        cert = registry.get(letter_number)
    except NotFoundError:
        raise ApplicationError(f"apology letter {letter_number} is not in the registry") from None
    if cert.series is not Series.APOLOGY:
        raise ApplicationError(f"{letter_number} is not an apology letter")
    if cert.status is Status.REDEEMED:
        raise ApplicationError(f"apology letter {letter_number} was already redeemed ({cert.status_reason}); "
                               f"it can be redeemed once")
    if cert.status is Status.WITHDRAWN:
        raise ApplicationError(f"apology letter {letter_number} was withdrawn ({cert.status_reason}); it cannot be redeemed")
    if cert.status is not Status.ACTIVE:
        raise ApplicationError(f"apology letter {letter_number} is {cert.status.value}; it cannot be redeemed")
    target = apps.get(number, now)
    used_on = apps.credited_on(letter_number)
    if used_on is not None and used_on != target.number:
        raise ApplicationError(f"apology letter {letter_number} was already redeemed on application {used_on}")
    if used_on is None:  # else: an interrupted redemption on this application, finished below
        target = apps.credit(target.number, letter_number, str(cert.record.get("client_id")), now=now, actor=actor)
    registry.change_status(letter_number, EventType.REDEEM, now=now, actor=actor,
                           reason=f"digunakan pada permohonan {target.number} / redeemed on application {target.number}")
    return target


def _letter_number(letter: str, trust: TrustList | None, now: datetime) -> str:
    text = letter.strip()
    if "/v/" in text or len(text) > 40:
        if trust is None:
            raise ApplicationError("a scanned letter is checked against the trust list: none is available")
        opened = open_seal(text, trust, now)
        if not opened.ok or opened.claims is None:
            raise ApplicationError(f"the scanned code is not a valid seal: {opened.detail}")
        if opened.claims.kind is not DocumentKind.LETTER:
            raise ApplicationError(f"the scanned code is the seal of {opened.claims.number}, not of an apology letter")
        return opened.claims.number
    try:
        return str(parse_number(text))
    except NumberFormatError as exc:
        raise ApplicationError(str(exc)) from None


def answer_letter(complaints: Complaints, number: str, env: IssueEnvironment, folder: Path,
                  timestamp_url: str | None = None) -> tuple[Path, str]:
    """The signed answer letter of an answered complaint or appeal (on the letterhead, no seal:
    it is not a registry document); its SHA-256 is recorded with the case."""
    from .complaints import ComplaintError, answer_letter_text

    now = env.now()
    case = complaints.get(number, now)
    if case.status not in ("answered", "closed") or case.answer is None:
        raise ComplaintError(f"{case.number} is {case.status}; the answer letter follows the answer")
    opening = answer_letter_text(case)
    title = Bilingual("JAWABAN PENGADUAN" if case.type == "complaint" else "JAWABAN BANDING",
                      "Answer to a complaint" if case.type == "complaint" else "Answer to an appeal")
    letter = Letter(title, case.number, local_day(now), (case.contact,) if case.contact else (),
                    (Bilingual(*opening), Bilingual(case.answer, "(The answer above is given in the language of the complaint.)")))
    templates = TemplateSet.load(env.templates_dir)
    fonts = register(templates.letterhead.fonts, templates.letterhead.fallback_fonts)
    fonts.prepare(_Text(case.answer + " " + (case.contact or "")))
    sealer = PdfSealer(_signer(env), env.chain, timestamp_url)
    reason, location = f"{title.id} / {title.en}", templates.letterhead.city
    if sealer.signs_in_place:
        pdf = sealer.complete(render_letter(templates, fonts, letter, None,
                                            sealer.field(SIGNATURE_BOX, now, reason=reason, location=location)))
    else:
        pdf = sealer.sign(render_letter(templates, fonts, letter), SIGNATURE_BOX, reason=reason, location=location)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{case.number}.pdf"
    digest = write_atomic(path, pdf)
    complaints.attach_letter(case.number, digest, now=now, actor=env.actor)
    return path, digest


def signed_report_pdf(report: object, env: IssueEnvironment, timestamp_url: str | None = None) -> bytes:
    """The yearly report as a signed PDF on the letterhead (`certgen.render.report_pdf`)."""
    from ..render.report_pdf import render_report

    now = env.now()
    templates = TemplateSet.load(env.templates_dir)
    fonts = register(templates.letterhead.fonts, templates.letterhead.fallback_fonts)
    sealer = PdfSealer(_signer(env), env.chain, timestamp_url)
    reason, location = "Laporan kinerja layanan / Service performance report", templates.letterhead.city
    if sealer.signs_in_place:
        field = sealer.field(SIGNATURE_BOX, now, reason=reason, location=location)
        return sealer.complete(render_report(templates, fonts, report, local_day(now), field))
    return sealer.sign(render_report(templates, fonts, report, local_day(now)), SIGNATURE_BOX, reason=reason,
                       location=location)
