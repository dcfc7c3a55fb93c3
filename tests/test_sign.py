"""Issued certificate PDFs validate with pyHanko and with poppler's pdfsig; B-T with a local TSA."""

import threading
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import SignatureCoverageLevel
from pyhanko.sign.diff_analysis import ModificationLevel

from certgen.barcode import qr_matrix
from certgen.keys import KeyAlgorithm, KeyStore
from certgen.render.document import SIGNATURE_BOX, render_certificate
from certgen.sign import FIELD_NAME, PdfSealer
from tests.conftest import PASSPHRASE
from tests.documents import person, templates_and_fonts
from tests.signatures import asn1, make_nss_db, pdfsig, pyhanko_status

SEAL = "https://verifikasi.example.id/v/" + "A" * 316


def _document() -> bytes:
    templates, fonts = templates_and_fonts()
    return render_certificate(templates, fonts, person(), "SK-2026-000123-6", qr_matrix(SEAL), date(2026, 11, 24))


@pytest.fixture(scope="module", params=[KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_3072], ids=["p256", "rsa3072"])
def keys(request, tmp_path_factory):
    store = KeyStore(tmp_path_factory.mktemp("keys"))
    store.init(PASSPHRASE, request.param, now=datetime.now(timezone.utc) - timedelta(days=1))
    return store


def test_signed_pdf_is_valid_for_pyhanko_and_pdfsig(keys, tmp_path):
    sealer = PdfSealer(keys.current_signer(PASSPHRASE), [keys.root_certificate()])
    signed = sealer.sign(_document(), SIGNATURE_BOX, location="Jakarta")
    status = pyhanko_status(signed, keys.root_certificate())
    assert status.intact and status.valid and status.trusted, status.summary()
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    assert status.modification_level is ModificationLevel.NONE
    assert status.bottom_line
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    report = pdfsig(path, make_nss_db(tmp_path / "nss", keys.root_cert_path))
    assert "Signature is Valid." in report
    assert "Certificate is Trusted." in report
    assert f"Signature Field Name: {FIELD_NAME}" in report
    assert "Signature Type: ETSI.CAdES.detached" in report
    assert "Total document signed" in report


def test_template_signatures_differ_per_document_and_verify(keys):
    """The template CMS must carry each document's own digest: two documents, two valid signatures."""
    sealer = PdfSealer(keys.current_signer(PASSPHRASE), [keys.root_certificate()])
    first = sealer.sign(_document(), SIGNATURE_BOX)
    templates, fonts = templates_and_fonts()
    other = render_certificate(templates, fonts, person("Budi Santoso"), "SK-2026-000124-4", qr_matrix(SEAL),
                               date(2026, 11, 24))
    second = sealer.sign(other, SIGNATURE_BOX)
    assert pyhanko_status(first, keys.root_certificate()).bottom_line
    assert pyhanko_status(second, keys.root_certificate()).bottom_line


def test_untrusted_root_is_not_trusted(keys, tmp_path):
    other = KeyStore(tmp_path / "other")
    other.init(PASSPHRASE, now=datetime.now(timezone.utc) - timedelta(days=1))
    signed = PdfSealer(keys.current_signer(PASSPHRASE), [keys.root_certificate()]).sign(_document(), SIGNATURE_BOX)
    status = pyhanko_status(signed, other.root_certificate())
    assert status.intact and status.valid and not status.trusted


# -- PAdES B-T against a local timestamp authority ----------------------------------------------

def _tsa_identity():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's dummy TSA is RSA-only
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


@pytest.fixture(scope="module")
def tsa():
    """An RFC 3161 timestamp server on loopback (pyHanko's dummy TSA behind http.server)."""
    key, cert = _tsa_identity()
    stamper = DummyTimeStamper(tsa_cert=asn1(cert), tsa_key=asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            requests.append(self.headers.get("Content-Type"))
            response = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(response)))
            self.end_headers()
            self.wfile.write(response)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/tsa", cert, requests
    server.shutdown()


def test_pades_b_t_with_a_local_timestamp_authority(keys, tsa, tmp_path):
    url, tsa_cert, requests = tsa
    requests.clear()
    sealer = PdfSealer(keys.current_signer(PASSPHRASE), [keys.root_certificate()], timestamp_url=url)
    assert sealer.level == "PAdES-B-T"
    signed = sealer.sign(_document(), SIGNATURE_BOX)
    assert requests == ["application/timestamp-query"]
    status = pyhanko_status(signed, keys.root_certificate(), tsa_cert)
    assert status.bottom_line, status.summary()
    assert status.timestamp_validity is not None and status.timestamp_validity.intact
    assert status.timestamp_validity.trusted
    path = tmp_path / "bt.pdf"
    path.write_bytes(signed)
    assert "Signature is Valid." in pdfsig(path, make_nss_db(tmp_path / "nss", keys.root_cert_path))


def test_seal_text_is_in_the_signed_catalog(keys):
    from pyhanko.pdf_utils.reader import PdfFileReader
    import io
    from certgen.sign import SEAL_KEY
    signed = PdfSealer(keys.current_signer(PASSPHRASE), [keys.root_certificate()]).sign(_document(), SIGNATURE_BOX, seal=SEAL)
    assert str(PdfFileReader(io.BytesIO(signed)).root[SEAL_KEY]) == SEAL
    assert pyhanko_status(signed, keys.root_certificate()).bottom_line
