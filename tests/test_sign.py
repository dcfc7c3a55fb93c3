"""Issued certificate PDFs validate with pyHanko and with poppler's pdfsig; B-LTA with a local TSA.

B-B documents are signed in place (the field drawn with the page, then filled); B-T ones through
pyHanko's incremental update. Both paths must give the same verdicts.
"""

import hashlib
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import SignatureCoverageLevel
from pyhanko.sign.diff_analysis import ModificationLevel

from certgen.barcode import qr_matrix
from certgen.keys import KeyAlgorithm, KeyStore
from certgen.output import HashedBytes
from certgen.render.document import SIGNATURE_BOX, render_certificate
from certgen.revocation import Revoked, build_crl
from certgen.sign import FIELD_NAME, SEAL_KEY, PdfSealer, SigningError, TimestampAuthorityRoot
from tests.conftest import PASSPHRASE, TEST_KDF_ITERATIONS
from tests.documents import person, templates_and_fonts
from tests.signatures import asn1, make_nss_db, pdfsig, pyhanko_status
from tests.tsa import local_tsa

SEAL = "https://verifikasi.example.id/v/" + "A" * 316
SIGNED_AT = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
PATHS = ["in_place", "incremental"]


def _document(holder: str = "Siti Aminah", number: str = "SK-2026-000123-6", field=None) -> bytes:
    templates, fonts = templates_and_fonts()
    return render_certificate(templates, fonts, person(holder), number, qr_matrix(SEAL), date(2026, 11, 24),
                              signature=field)


def _signed(sealer: PdfSealer, path: str, holder: str = "Siti Aminah", number: str = "SK-2026-000123-6",
            seal: str | None = SEAL, location: str | None = "Jakarta") -> bytes:
    """A certificate signed along `path`, as the issuing worker does it."""
    if path == "in_place":
        field = sealer.field(SIGNATURE_BOX, SIGNED_AT, reason=f"Certificate {number}", location=location, seal=seal)
        return sealer.complete(_document(holder, number, field))
    return sealer.sign(_document(holder, number), SIGNATURE_BOX, reason=f"Certificate {number}", location=location,
                       seal=seal)


@pytest.fixture(scope="module", params=[KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_3072], ids=["p256", "rsa3072"])
def keys(request, tmp_path_factory):
    store = KeyStore(tmp_path_factory.mktemp("keys"), kdf_iterations=TEST_KDF_ITERATIONS)
    store.init(PASSPHRASE, request.param, now=datetime.now(timezone.utc) - timedelta(days=1))
    return store


@pytest.fixture(scope="module")
def sealer(keys):
    return PdfSealer(keys.current_signer(PASSPHRASE), [keys.root_certificate()])


@pytest.mark.parametrize("path", PATHS)
def test_signed_pdf_is_valid_for_pyhanko_and_pdfsig(keys, sealer, path, tmp_path):
    signed = _signed(sealer, path)
    status = pyhanko_status(signed, keys.root_certificate())
    assert status.intact and status.valid and status.trusted, status.summary()
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    assert status.modification_level is ModificationLevel.NONE
    assert status.bottom_line
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(signed)
    report = pdfsig(pdf, make_nss_db(tmp_path / "nss", keys.root_cert_path))
    assert "Signature is Valid." in report
    assert "Certificate is Trusted." in report
    assert f"Signature Field Name: {FIELD_NAME}" in report
    assert "Signature Type: ETSI.CAdES.detached" in report
    assert "Total document signed" in report


@pytest.mark.parametrize("path", PATHS)
def test_template_signatures_differ_per_document_and_verify(keys, sealer, path):
    """The template CMS must carry each document's own digest: two documents, two valid signatures."""
    first = _signed(sealer, path)
    second = _signed(sealer, path, "Budi Santoso", "SK-2026-000124-4")
    assert pyhanko_status(first, keys.root_certificate()).bottom_line
    assert pyhanko_status(second, keys.root_certificate()).bottom_line
    contents = [PdfFileReader(io.BytesIO(d)).embedded_signatures[0].pkcs7_content for d in (first, second)]
    assert contents[0] != contents[1]


@pytest.mark.parametrize("path", PATHS)
def test_untrusted_root_is_not_trusted(keys, sealer, path, tmp_path):
    other = KeyStore(tmp_path / "other", kdf_iterations=TEST_KDF_ITERATIONS)
    other.init(PASSPHRASE, now=datetime.now(timezone.utc) - timedelta(days=1))
    status = pyhanko_status(_signed(sealer, path), other.root_certificate())
    assert status.intact and status.valid and not status.trusted


@pytest.mark.parametrize("path", PATHS)
def test_seal_text_is_in_the_signed_catalog(keys, sealer, path):
    signed = _signed(sealer, path)
    assert str(PdfFileReader(io.BytesIO(signed)).root[SEAL_KEY]) == SEAL
    assert pyhanko_status(signed, keys.root_certificate()).bottom_line


@pytest.mark.parametrize("path", PATHS)
def test_both_paths_write_the_same_signature_field(keys, sealer, path):
    """Field, widget and signature dictionary as pyHanko writes them, whichever path signed."""
    reader = PdfFileReader(io.BytesIO(_signed(sealer, path)))
    signature = reader.embedded_signatures[0]
    widget = signature.sig_field
    assert str(widget["/T"]) == FIELD_NAME and widget["/FT"] == "/Sig"
    assert int(widget["/F"]) == 132  # printed, locked
    assert [round(float(v), 2) for v in widget["/Rect"]] == [round(v, 2) for v in SIGNATURE_BOX]
    assert "/N" in widget["/AP"]
    value = signature.sig_object
    assert value["/Filter"] == "/Adobe.PPKLite" and value["/SubFilter"] == "/ETSI.CAdES.detached"
    assert str(value["/Reason"]) == "Certificate SK-2026-000123-6" and str(value["/Location"]) == "Jakarta"
    assert int(reader.root["/AcroForm"]["/SigFlags"]) == 3
    extensions = reader.root["/Extensions"]
    assert "/ESIC" in extensions
    assert ("/ISO_" in extensions) is not isinstance(keys.root_certificate().public_key(), rsa.RSAPublicKey)


def test_in_place_signature_is_a_single_revision_with_its_time(keys, sealer):
    signed = _signed(sealer, "in_place")
    assert signed.count(b"%%EOF") == 1 and b"/Prev" not in signed
    status = pyhanko_status(signed, keys.root_certificate())
    assert status.signer_reported_dt == SIGNED_AT


def test_in_place_signature_shows_the_signer_on_the_page(sealer, tmp_path):
    import subprocess
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(_signed(sealer, "in_place"))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Digitally signed by" in text and "Document Signer" in text and "2026-11-24 03:00:00 UTC" in text


def test_a_changed_byte_breaks_an_in_place_signature(keys, sealer, tmp_path):
    signed = bytearray(_signed(sealer, "in_place"))
    at = signed.index(b"/Title (") + 8
    signed[at] ^= 0x01  # one letter of the document title, inside the signed range
    status = pyhanko_status(bytes(signed), keys.root_certificate())
    assert not status.intact and not status.bottom_line
    pdf = tmp_path / "changed.pdf"
    pdf.write_bytes(bytes(signed))
    report = pdfsig(pdf, make_nss_db(tmp_path / "nss", keys.root_cert_path))
    assert "Signature is Valid." not in report


def test_in_place_signed_file_carries_its_own_sha256(keys, sealer):
    """complete() hashes the part before /Contents once for the signature and the file: the
    digest it returns is hashlib's over the very bytes, and the signature still covers them."""
    for holder in ("Siti Aminah", "Budi Santoso"):
        signed = _signed(sealer, "in_place", holder)
        assert isinstance(signed, HashedBytes)
        assert signed.sha256 == hashlib.sha256(bytes(signed)).hexdigest()
        assert pyhanko_status(signed, keys.root_certificate()).bottom_line


def test_complete_refuses_a_pdf_without_its_placeholder(sealer):
    with pytest.raises(ValueError, match="no .*signature placeholder"):
        sealer.complete(_document())
    other = PdfSealer.__new__(PdfSealer)
    other.__dict__.update(sealer.__dict__, _reserved=sealer._reserved + 2)
    field = sealer.field(SIGNATURE_BOX, SIGNED_AT, seal=SEAL)
    with pytest.raises(ValueError, match="not the size"):
        other.complete(_document(field=field))


# -- PAdES B-LTA against a local timestamp authority -----------------------------------------

@pytest.fixture(scope="module")
def tsa():
    """An RFC 3161 timestamp server on loopback (tests/tsa.py). Its certificate lives 20 years:
    it must outlive the validation 15 years on (a real archive renews its last document
    timestamp before the TSA certificate expires)."""
    with local_tsa(valid_days=20 * 365) as served:
        yield served


def _crl(keys, revoked=()):
    root = keys.root_signer(PASSPHRASE)
    return build_crl(root.private_key, root.certificate, revoked, now=datetime.now(timezone.utc))


def _lta_sealer(keys, tsa, crl=None):
    url, tsa_cert, _ = tsa
    chain = [keys.root_certificate(), crl if crl is not None else _crl(keys), TimestampAuthorityRoot(tsa_cert)]
    return PdfSealer(keys.current_signer(PASSPHRASE), chain, timestamp_url=url)


def _lta_spec(*roots):
    from pyhanko.sign.validation.policy_decl import PdfSignatureValidationSpec, SignatureValidationSpec
    from pyhanko_certvalidator.context import CertRevTrustPolicy, CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO
    from pyhanko_certvalidator.registry import SimpleTrustManager

    # no fetcher is configured and revocation information is required: all of it must be in the file
    return PdfSignatureValidationSpec(SignatureValidationSpec(cert_validation_policy=CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=[asn1(r) for r in roots]),
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO))))


def _lta_validation(pdf: bytes, at: datetime, *roots):
    """pyHanko's PAdES long-term (LTA) validation of the document's signature at time `at`."""
    import asyncio

    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo

    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    return asyncio.run(ades_lta_validation(signature, _lta_spec(*roots), timing_info=ValidationTimingInfo(at, at, False)))


@pytest.fixture(scope="module")
def lta_pdf(keys, tsa):
    _, _, requests = tsa
    requests.clear()
    sealer = _lta_sealer(keys, tsa)
    assert sealer.level == "PAdES-B-LTA" and not sealer.signs_in_place
    signed = _signed(sealer, "incremental")
    # the signature's timestamp and the document timestamp (pyHanko may also ask one to size the latter)
    assert len(requests) >= 2 and set(requests) == {"application/timestamp-query"}
    return signed


def test_pades_b_lta_carries_its_validation_material(keys, tsa, lta_pdf):
    """The DSS holds the chain and the root's CRL; a document timestamp covers the whole file."""
    from asn1crypto import crl as asn1_crl

    reader = PdfFileReader(io.BytesIO(lta_pdf))
    signature, document_timestamp = reader.embedded_signatures
    assert signature.field_name == FIELD_NAME
    assert document_timestamp.sig_object["/Type"] == "/DocTimeStamp"
    assert document_timestamp.sig_object["/SubFilter"] == "/ETSI.RFC3161"
    dss = reader.root["/DSS"]
    certificates = {x509.load_der_x509_certificate(c.get_object().data) for c in dss["/Certs"]}
    assert keys.root_certificate() in certificates and keys.current_signer(PASSPHRASE).certificate in certificates
    crls = [asn1_crl.CertificateList.load(c.get_object().data) for c in dss["/CRLs"]]
    assert [c.issuer.native["common_name"] for c in crls] == [keys.root_certificate().subject.rfc4514_string().split(",")[0][3:]]
    assert str(reader.root[SEAL_KEY]) == SEAL


def test_pades_b_lta_validates_long_term_fifteen_years_on(keys, tsa, lta_pdf):
    """No network, signer certificate long expired: pyHanko's LTA validation still says valid
    and trusted, from the DSS and the timestamps alone."""
    _, tsa_cert, _ = tsa
    from pyhanko.sign.ades.report import AdESPassed

    later = datetime.now(timezone.utc) + timedelta(days=15 * 365)
    assert keys.current_signer(PASSPHRASE).certificate.not_valid_after_utc < later  # the DSC lives 10 years
    for moment in (datetime.now(timezone.utc), later):
        result = _lta_validation(lta_pdf, moment, keys.root_certificate(), tsa_cert)
        assert result.ades_subindic is AdESPassed.OK, (moment, result.ades_subindic)
        status = result.api_status
        assert status.intact and status.valid and status.trusted
        assert status.modification_level is ModificationLevel.LTA_UPDATES
        assert result.oldest_evidence_record_timestamp is not None


def test_without_long_term_validation_the_expired_signer_fails_fifteen_years_on(keys, tsa, lta_pdf):
    """The control: the plain validator at the same clock calls the signer expired."""
    _, tsa_cert, _ = tsa
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    later = datetime.now(timezone.utc) + timedelta(days=15 * 365)
    context = ValidationContext(trust_roots=[asn1(keys.root_certificate()), asn1(tsa_cert)], allow_fetching=False,
                                moment=later)
    status = validate_pdf_signature(PdfFileReader(io.BytesIO(lta_pdf)).embedded_signatures[0], context)
    assert status.intact and status.valid and not status.trusted
    from pyhanko.sign.ades.report import AdESIndeterminate
    assert status.trust_problem_indic is AdESIndeterminate.OUT_OF_BOUNDS_NO_POE  # expired, no proof of existence


def test_pades_b_lta_is_read_by_pdfsig(keys, lta_pdf, tmp_path):
    path = tmp_path / "lta.pdf"
    path.write_bytes(lta_pdf)
    report = pdfsig(path, make_nss_db(tmp_path / "nss", keys.root_cert_path))
    first = report.split("Signature #2")[0]
    assert "Signature #2" in report  # the document timestamp
    assert "Signature is Valid." in first and "Certificate is Trusted." in first
    assert f"Signature Field Name: {FIELD_NAME}" in first


def test_b_lta_needs_the_crl_and_the_timestamp_root(keys, tsa):
    """Half of the long-term material is refused; none of it gives B-T (the library's choice:
    `certgen issue` always passes both, tests/test_revocation.py)."""
    url, tsa_cert, _ = tsa
    signer = keys.current_signer(PASSPHRASE)
    with pytest.raises(SigningError, match=r"needs the root's CRL.*certgen keys crl"):
        PdfSealer(signer, [keys.root_certificate(), TimestampAuthorityRoot(tsa_cert)], timestamp_url=url)
    with pytest.raises(SigningError, match="needs the timestamp authority's root certificate"):
        PdfSealer(signer, [keys.root_certificate(), _crl(keys)], timestamp_url=url)
    assert PdfSealer(signer, [keys.root_certificate()], timestamp_url=url).level == "PAdES-B-T"


def test_b_lta_refuses_a_signer_the_crl_revokes(keys, tsa):
    """A revoked DSC cannot produce a B-LTA document (the CRL it would carry names it)."""
    signer = keys.current_signer(PASSPHRASE)
    crl = _crl(keys, [Revoked(signer.certificate, datetime.now(timezone.utc) - timedelta(hours=1))])
    with pytest.raises(SigningError, match=f"document signer {signer.kid.hex()} is revoked in the root's CRL"):
        _lta_sealer(keys, tsa, crl)


def test_b_lta_with_a_stale_crl_fails_with_a_reason(keys, tsa):
    """A CRL past its nextUpdate is refused before anything is signed (pyHanko would embed it)."""
    root = keys.root_signer(PASSPHRASE)
    stale = build_crl(root.private_key, root.certificate, [], now=datetime.now(timezone.utc) - timedelta(days=40), days=31)
    with pytest.raises(SigningError, match=r"the root's CRL expired on .*run `certgen keys crl`"):
        _lta_sealer(keys, tsa, stale)


def test_certgen_issue_with_a_timestamp_authority_issues_b_lta(cli, settings, tsa, tmp_path):
    """From the command line: `keys crl`, then `issue --timestamp-url --timestamp-root`: every
    certificate is B-LTA and passes pyHanko's long-term validation 15 years on."""
    import json

    from pyhanko.sign.ades.report import AdESPassed
    from certgen.cli import main as certgen
    from tests.documents import SAMPLES

    import csv

    import openpyxl

    url, tsa_cert, _ = tsa
    rows = list(openpyxl.load_workbook(SAMPLES / "training.xlsx", read_only=True).active.iter_rows(values_only=True))
    with open(tmp_path / "training.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["" if v is None else v.date().isoformat() if isinstance(v, datetime) else v
                                       for v in row] for row in rows[:4]])  # header + 3
    (tmp_path / "tsa.pem").write_bytes(tsa_cert.public_bytes(serialization.Encoding.PEM))
    assert cli(certgen, ["keys", "crl"]).exit_code == 0
    result = cli(certgen, ["issue", "training", str(tmp_path / "training.csv"), "-o", str(tmp_path / "out"),
                           "--workers", "1", "--timestamp-url", url, "--timestamp-root", str(tmp_path / "tsa.pem"),
                           "--json"], now=datetime.now(timezone.utc))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["signature"] == "PAdES-B-LTA" and summary["issued"] == 3
    store = KeyStore(settings.keys_dir)
    later = datetime.now(timezone.utc) + timedelta(days=15 * 365)
    pdfs = sorted((tmp_path / "out" / "certificates").glob("*.pdf"))
    assert len(pdfs) == summary["issued"]
    result = _lta_validation(pdfs[0].read_bytes(), later, store.root_certificate(), tsa_cert)
    assert result.ades_subindic is AdESPassed.OK and result.api_status.bottom_line


def test_certverify_accepts_a_b_lta_document_fifteen_years_on(keys, tsa, lta_pdf):
    """The project's own PDF check reads the B-LTA document: the document timestamp and the DSS
    after the signature are no change to it, and the signer is judged at the timestamp's time."""
    from verify.pdf import check_pdf
    from verify.report import Reason

    _, tsa_cert, _ = tsa
    later = datetime.now(timezone.utc) + timedelta(days=15 * 365)
    result = check_pdf(lta_pdf, trust=keys.trust_list(), root=keys.root_certificate(), now=later,
                       timestamp_roots=[tsa_cert])
    assert [c.reason for c in result.checks] == [Reason.PDF_SIGNATURE_VALID], result.checks
    assert result.seal == SEAL and "RFC 3161 timestamp" in result.checks[0].detail
