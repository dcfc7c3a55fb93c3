"""Issued certificate PDFs validate with pyHanko and with poppler's pdfsig; B-T with a local TSA.

B-B documents are signed in place (the field drawn with the page, then filled); B-T ones through
pyHanko's incremental update. Both paths must give the same verdicts.
"""

import io
from datetime import date, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import SignatureCoverageLevel
from pyhanko.sign.diff_analysis import ModificationLevel

from certgen.barcode import qr_matrix
from certgen.keys import KeyAlgorithm, KeyStore
from certgen.render.document import SIGNATURE_BOX, render_certificate
from certgen.sign import FIELD_NAME, SEAL_KEY, PdfSealer
from tests.conftest import PASSPHRASE, TEST_KDF_ITERATIONS
from tests.documents import person, templates_and_fonts
from tests.signatures import make_nss_db, pdfsig, pyhanko_status
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


def test_complete_refuses_a_pdf_without_its_placeholder(sealer):
    with pytest.raises(ValueError, match="no .*signature placeholder"):
        sealer.complete(_document())
    other = PdfSealer.__new__(PdfSealer)
    other.__dict__.update(sealer.__dict__, _reserved=sealer._reserved + 2)
    field = sealer.field(SIGNATURE_BOX, SIGNED_AT, seal=SEAL)
    with pytest.raises(ValueError, match="not the size"):
        other.complete(_document(field=field))


# -- PAdES B-T against a local timestamp authority ----------------------------------------------

@pytest.fixture(scope="module")
def tsa():
    """An RFC 3161 timestamp server on loopback (tests/tsa.py)."""
    with local_tsa() as served:
        yield served


def test_pades_b_t_with_a_local_timestamp_authority(keys, tsa, tmp_path):
    url, tsa_cert, requests = tsa
    requests.clear()
    sealer = PdfSealer(keys.current_signer(PASSPHRASE), [keys.root_certificate()], timestamp_url=url)
    assert sealer.level == "PAdES-B-T"
    assert not sealer.signs_in_place
    signed = _signed(sealer, "incremental")
    assert requests == ["application/timestamp-query"]
    status = pyhanko_status(signed, keys.root_certificate(), tsa_cert)
    assert status.bottom_line, status.summary()
    assert status.timestamp_validity is not None and status.timestamp_validity.intact
    assert status.timestamp_validity.trusted
    path = tmp_path / "bt.pdf"
    path.write_bytes(signed)
    assert "Signature is Valid." in pdfsig(path, make_nss_db(tmp_path / "nss", keys.root_cert_path))
