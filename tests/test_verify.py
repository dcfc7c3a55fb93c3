"""The verification library: verdicts for seals, numbers and PDFs, and the PDF tamper suite."""

import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.annotations import FreeText
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, TextStringObject
from reportlab.pdfgen.canvas import Canvas

from certgen.barcode import qr_matrix
from certgen.batch import BatchOptions, IssueEnvironment, run_batch
from certgen.config import sqlite_url
from certgen.model import DocumentKind, Series
from certgen.registry import NewCertificate, Registry
from certgen.render.document import SIGNATURE_BOX, render_certificate
from certgen.seal import SealClaims, seal_text, sign_seal
from certgen.sign import PdfSealer
from certgen.trust import TrustList
from tests.conftest import NOW, PASSPHRASE, TEST_KDF_ITERATIONS
from tests.documents import person, templates_and_fonts
from tests.test_batch import person_rows
from verify.formats import report_json
from verify.report import Outcome, Reason, Verdict
from verify.service import Verifier
from verify.status import RegistryStatus

URL = "https://verifikasi.example.id/v/"


@pytest.fixture(scope="module")
def issued(tmp_path_factory, request):
    """Three person certificates issued by the real pipeline; a module-wide registry."""
    from certgen.keys import KeyStore
    folder = tmp_path_factory.mktemp("issued")
    keys = KeyStore(folder / "keys", kdf_iterations=TEST_KDF_ITERATIONS)
    keys.init(PASSPHRASE, now=datetime(2026, 10, 24, tzinfo=timezone.utc))
    registry = Registry.open(sqlite_url(folder / "registry.sqlite3"))
    signer = keys.current_signer(PASSPHRASE, now=NOW)
    env = IssueEnvironment(registry=registry, signer=signer, chain=[keys.root_certificate()], verify_url=URL,
                           now=lambda: NOW, actor="tester")
    run_batch(BatchOptions(DocumentKind.PERSON, person_rows(folder / "in", 3), folder / "out", workers=1), env)
    manifest = json.loads((folder / "out" / "manifest.json").read_text())
    pdfs = [(folder / "out" / m["file"]).read_bytes() for m in manifest]
    return {"keys": keys, "registry": registry, "signer": signer, "numbers": [m["number"] for m in manifest],
            "pdfs": pdfs, "folder": folder}


def verifier(issued, *, trust: TrustList | None = None, registry: bool = True, now=NOW) -> Verifier:
    status = RegistryStatus(issued["registry"], lambda: now) if registry else None
    return Verifier(trust or issued["keys"].trust_list(), status, issued["keys"].root_certificate(), lambda: now)


def _reasons(report):
    return [(c.name, c.outcome, c.reason) for c in report.checks]


# -- seals and numbers ------------------------------------------------------------------------

def test_valid_seal(issued):
    cert = issued["registry"].get(issued["numbers"][0])
    report = verifier(issued).verify_seal(cert.seal)
    assert report.verdict is Verdict.VALID and report.ok
    assert _reasons(report) == [("seal", Outcome.PASSED, Reason.SEAL_VALID),
                                ("registry_match", Outcome.PASSED, Reason.SEAL_MATCHES_REGISTRY),
                                ("status", Outcome.PASSED, Reason.STATUS_ACTIVE)]
    data = report_json(report)
    assert data["format"] == "certverify-report/1" and data["barcodes"] == [cert.seal]
    assert data["claims"]["number"] == cert.number and data["certificate"]["status"] == "valid"
    assert "seal" not in data["certificate"] and "record" not in data["certificate"]


def test_seal_without_registry_says_status_not_checked(issued):
    cert = issued["registry"].get(issued["numbers"][0])
    report = verifier(issued, registry=False).verify_seal(cert.seal)
    assert report.verdict is Verdict.INDETERMINATE
    assert "seal valid" in report.checks[0].detail and report.summary == "status not checked (no registry given)"


def test_offline_expired_seal_is_expired(issued):
    cert = issued["registry"].get(issued["numbers"][0])
    report = verifier(issued, registry=False, now=datetime(2030, 1, 1, tzinfo=timezone.utc)).verify_seal(cert.seal)
    assert report.verdict is Verdict.EXPIRED


@pytest.mark.parametrize("action, verdict, words", [
    ("suspend", Verdict.SUSPENDED, "is suspended since 2026-11-24: complaint under review"),
    ("withdraw", Verdict.WITHDRAWN, "is withdrawn since 2026-11-24: complaint under review"),
])
def test_status_verdicts(tmp_path, keystore, signer, action, verdict, words):
    registry = Registry.open(sqlite_url(tmp_path / "r.sqlite3"))
    number = registry.reserve([NewCertificate(Series.PERSON, "Ani", "SKM-PTK-03", date(2026, 11, 24),
                                              date(2029, 11, 23), {})], now=NOW)[0].number
    text = seal_text(sign_seal(SealClaims(number, DocumentKind.PERSON, "Ani", "SKM-PTK-03", date(2026, 11, 24),
                                          date(2029, 11, 23), "ID-BSKP", NOW), signer), URL)
    registry.mark_issued(number, pdf_sha256="0" * 64, dsc_kid=signer.kid.hex(), now=NOW, actor="t", seal=text)
    getattr(registry, action)(number, reason="complaint under review", now=NOW, actor="t")
    report = Verifier(keystore.trust_list(), RegistryStatus(registry, lambda: NOW), now=lambda: NOW).verify_seal(text)
    assert report.verdict is verdict and report.summary == f"{number} {words}"
    assert report.certificate.status_reason == "complaint under review"


def test_replaced_names_its_successor_and_expired_by_date(tmp_path, keystore, signer):
    registry = Registry.open(sqlite_url(tmp_path / "r.sqlite3"))
    numbers = []
    for name, expires in (("Lama", date(2029, 11, 23)), ("Baru", date(2029, 11, 23)), ("Tua", date(2026, 11, 1))):
        number = registry.reserve([NewCertificate(Series.PERSON, name, "S", date(2025, 11, 1), expires, {})], now=NOW)[0].number
        registry.mark_issued(number, pdf_sha256="0" * 64, dsc_kid="00", now=NOW, actor="t")
        numbers.append(number)
    registry.replace(numbers[0], numbers[1], reason="name corrected", now=NOW, actor="t")
    check = Verifier(keystore.trust_list(), RegistryStatus(registry, lambda: NOW), now=lambda: NOW)
    replaced = check.verify_number(numbers[0])
    assert replaced.verdict is Verdict.REPLACED and replaced.certificate.replaced_by == numbers[1]
    assert f"replaced by {numbers[1]}" in replaced.summary
    expired = check.verify_number(numbers[2])
    assert expired.verdict is Verdict.EXPIRED and expired.summary == f"{numbers[2]} expired on 2026-11-01"


def test_numbers(issued):
    number = issued["numbers"][1]
    assert verifier(issued).verify_number(number.lower()).verdict is Verdict.VALID
    typo = number[:8] + ("9" if number[8] != "9" else "8") + number[9:]
    report = verifier(issued).verify_number(typo)
    assert report.verdict is Verdict.INVALID and report.checks[0].reason is Reason.NUMBER_MALFORMED
    from certgen.numbers import CertificateNumber
    unknown = verifier(issued).verify_number(str(CertificateNumber.build(Series.PERSON, 2026, 999)))
    assert unknown.verdict is Verdict.UNKNOWN and unknown.checks[-1].reason is Reason.NOT_IN_REGISTRY


def test_forged_and_foreign_seals(issued, keystore):
    cert = issued["registry"].get(issued["numbers"][0])
    # a seal by a key outside the trust list (the suite's other key store)
    foreign = seal_text(sign_seal(SealClaims(cert.number, DocumentKind.PERSON, cert.holder, cert.scheme, cert.granted,
                                             cert.expires, "ID-BSKP", NOW), keystore.current_signer(PASSPHRASE, now=NOW)), URL)
    report = verifier(issued).verify_seal(foreign)
    assert report.verdict is Verdict.INVALID and report.checks[0].reason is Reason.SEAL_UNKNOWN_SIGNER
    # a genuine signature over claims that differ from the registry (an insider's forgery)
    forged = seal_text(sign_seal(SealClaims(cert.number, DocumentKind.PERSON, "Someone Else", cert.scheme, cert.granted,
                                            cert.expires, "ID-BSKP", NOW), issued["signer"]), URL)
    report = verifier(issued).verify_seal(forged)
    assert report.verdict is Verdict.INVALID
    assert ("registry_match", Outcome.FAILED, Reason.SEAL_MISMATCH) in _reasons(report)
    assert report.summary == f"this seal is not the one issued for {cert.number}"
    malformed = verifier(issued).verify_seal(URL + "NOTBASE32!")
    assert malformed.verdict is Verdict.INVALID and malformed.checks[0].reason is Reason.SEAL_MALFORMED


# -- PDFs: genuine and tampered -----------------------------------------------------------------

def test_genuine_pdf_is_valid(issued):
    report = verifier(issued).verify_pdf(issued["pdfs"][0], "a.pdf")
    assert report.verdict is Verdict.VALID, report.summary
    assert [c.reason for c in report.checks] == [Reason.PDF_SIGNATURE_VALID, Reason.SEAL_VALID, Reason.SEAL_MATCHES_REGISTRY,
                                                 Reason.STATUS_ACTIVE, Reason.PDF_REGISTERED]
    assert report.source == "a.pdf" and report.claims.number == issued["numbers"][0]


def _incremental(pdf: bytes, change) -> bytes:
    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _overlay(kind: str) -> bytes:
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=(595.27, 841.89))
    if kind == "text":
        c.setFont("Helvetica-Bold", 18)
        c.drawString(60, 500, "Berlaku Sampai 23 November 2099")
    else:
        from reportlab.lib.utils import ImageReader
        from tests.documents import PHOTO
        c.drawImage(ImageReader(PHOTO), 400, 600, 80, 100)
    c.showPage()
    c.save()
    return buffer.getvalue()


def _add_overlay(kind):
    def change(writer):
        writer.pages[0].merge_page(PdfReader(io.BytesIO(_overlay(kind))).pages[0])
    return change


def _add_annotation(writer):
    writer.add_annotation(0, FreeText(text="VALID UNTIL 2099", rect=(50, 500, 300, 540)))


def _change_field_appearance(writer):
    """Give the signature widget another appearance: what a viewer shows changes."""
    for annotation in writer.pages[0]["/Annots"]:
        widget = annotation.get_object()
        if widget.get("/FT") == "/Sig" or widget.get("/Parent") is not None or "/AP" in widget:
            widget[NameObject("/TU")] = TextStringObject("tampered")
            stream = writer._add_object(DecodedStreamObject())
            widget[NameObject("/AP")] = DictionaryObject({NameObject("/N"): stream})
            return
    raise AssertionError("no signature widget found to alter")


@pytest.mark.parametrize("attack, reason", [
    ("byte", Reason.PDF_SIGNATURE_INVALID),
    ("text", Reason.PDF_MODIFIED),
    ("image", Reason.PDF_MODIFIED),
    ("annotation", Reason.PDF_MODIFIED),
    ("field_appearance", Reason.PDF_MODIFIED),
    ("removed", Reason.PDF_NOT_SIGNED),
    ("not_a_pdf", Reason.PDF_UNREADABLE),
])
def test_tampered_pdf_is_invalid_with_its_reason(issued, attack, reason):
    pdf = issued["pdfs"][0]
    if attack == "byte":
        at = pdf.index(b"/Producer")  # inside the signed range, in the document information
        tampered = pdf[:at + 2] + bytes([pdf[at + 2] ^ 0x01]) + pdf[at + 3:]
    elif attack in ("text", "image"):
        tampered = _incremental(pdf, _add_overlay(attack))
    elif attack == "annotation":
        tampered = _incremental(pdf, _add_annotation)
    elif attack == "field_appearance":
        tampered = _incremental(pdf, _change_field_appearance)
    elif attack == "removed":
        templates, fonts = templates_and_fonts()
        tampered = render_certificate(templates, fonts, person(), issued["numbers"][0], qr_matrix(URL + "AAAA"), date(2026, 11, 24))
    else:
        tampered = b"GIF89a" + pdf[6:]
    report = verifier(issued).verify_pdf(tampered)
    assert report.verdict is Verdict.INVALID, report.summary
    assert report.checks[0].reason is reason, report.checks[0]


def test_signer_not_in_the_trust_list(issued):
    trust = TrustList.from_signers([])  # the root still certifies it, but the list does not name it
    report = verifier(issued, trust=trust).verify_pdf(issued["pdfs"][0])
    assert report.verdict is Verdict.INVALID and report.checks[0].reason is Reason.PDF_SIGNER_UNKNOWN


def test_signer_revoked_before_or_after_signing(issued):
    kid = issued["signer"].kid
    status = verifier(issued).verify_pdf(issued["pdfs"][0])
    signed = datetime.fromisoformat(status.checks[0].detail.split(" on ")[1].split("Z")[0] + "+00:00")
    before = issued["keys"].trust_list().revoke(kid, signed - timedelta(hours=1), "key compromise")
    report = verifier(issued, trust=before).verify_pdf(issued["pdfs"][0])
    assert report.verdict is Verdict.INVALID and report.checks[0].reason is Reason.PDF_SIGNER_REVOKED
    after = issued["keys"].trust_list().revoke(kid, signed + timedelta(hours=1), "key compromise")
    assert verifier(issued, trust=after).verify_pdf(issued["pdfs"][0]).checks[0].reason is Reason.PDF_SIGNATURE_VALID


def test_other_root_is_untrusted(issued, keystore):
    other = Verifier(issued["keys"].trust_list(), None, keystore.root_certificate(), lambda: NOW)
    report = other.verify_pdf(issued["pdfs"][0])
    assert report.verdict is Verdict.INVALID and report.checks[0].reason is Reason.PDF_SIGNER_UNTRUSTED


def test_genuine_seal_in_another_signed_document(issued):
    """Cert A's seal in a newly signed PDF (a compromised signing service): not the registered file."""
    a = issued["registry"].get(issued["numbers"][0])
    templates, fonts = templates_and_fonts()
    other = render_certificate(templates, fonts, person("Penipu"), a.number, qr_matrix(a.seal), date(2026, 11, 24))
    sealer = PdfSealer(issued["signer"], [issued["keys"].root_certificate()])
    forged = sealer.sign(other, SIGNATURE_BOX, seal=a.seal)
    report = verifier(issued).verify_pdf(forged)
    assert report.verdict is Verdict.INVALID
    assert report.checks[-1].reason is Reason.PDF_NOT_REGISTERED
    assert report.summary == f"this file is not the document the registry recorded for {a.number}"


def test_status_changes_reach_pdf_verification(issued, tmp_path):
    number = issued["numbers"][2]
    issued["registry"].suspend(number, reason="under investigation", now=NOW, actor="t")
    try:
        report = verifier(issued).verify_pdf(issued["pdfs"][2])
        assert report.verdict is Verdict.SUSPENDED and "under investigation" in report.summary
    finally:
        issued["registry"].reinstate(number, reason="cleared", now=NOW, actor="t")


def test_an_empty_incremental_update_is_harmless(issued):
    """Control for the tamper suite: appending an update that changes nothing keeps the PDF valid,
    so the attacks above fail for what they change, not for being updates."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    writer = IncrementalPdfFileWriter(io.BytesIO(issued["pdfs"][1]))
    writer.update_root()  # the catalog written again, unchanged
    out = io.BytesIO()
    writer.write(out)
    untouched = out.getvalue()
    assert len(untouched) > len(issued["pdfs"][1])
    report = verifier(issued).verify_pdf(untouched)
    assert report.checks[0].reason is Reason.PDF_SIGNATURE_VALID, report.checks[0]


def test_pdf_with_many_pages_is_refused(issued):
    buffer = io.BytesIO()
    c = Canvas(buffer)
    for _ in range(25):
        c.drawString(100, 100, "page")
        c.showPage()
    c.save()
    report = verifier(issued).verify_pdf(buffer.getvalue())
    assert report.verdict is Verdict.INVALID and report.checks[0].reason is Reason.PDF_UNREADABLE
    assert "has 25 pages" in report.summary
