"""Independent checks of PDF signatures: pyHanko's validator and poppler's pdfsig with NSS."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext


def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def pyhanko_status(pdf: bytes, *roots: x509.Certificate):
    """pyHanko's verdict on the one signature, trusting only `roots`, no network."""
    context = ValidationContext(trust_roots=[asn1(r) for r in roots], allow_fetching=False)
    signatures = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    assert len(signatures) == 1
    return validate_pdf_signature(signatures[0], context)


def make_nss_db(folder: Path, root_pem: Path) -> str:
    """An NSS database trusting `root_pem`, as pdfsig wants it."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{folder}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{folder}", "-n", "certgen-root", "-t", "C,C,C", "-i", str(root_pem)],
                   check=True, capture_output=True)
    return f"sql:{folder}"


def pdfsig(pdf_path: Path, nssdir: str) -> str:
    return subprocess.run(["pdfsig", "-nssdir", nssdir, str(pdf_path)], capture_output=True, text=True).stdout
