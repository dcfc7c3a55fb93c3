"""PDF checks: the PAdES signature with pyHanko (root as the only trust anchor, no network,
modification analysis), the signer against the trust list, and the seal the PDF carries.

An issued certificate has exactly one signature, by a DSC of the trust list, covering the
whole file; its signed catalog holds the seal text under /CertgenSeal. Anything else is a
failed check with its own reason: see docs/verification.md.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from certgen.crypto import key_id
from certgen.seal import SEAL_KEY
from certgen.trust import SignerProblem, TrustList

from .report import Check, Reason

MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_PAGES = 20
_ALLOWED_LATER = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)

logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # problems are reported as checks, not logged


@dataclass(frozen=True)
class PdfResult:
    checks: list[Check]
    seal: str | None
    signed_at: datetime | None


def check_pdf(data: bytes, trust: TrustList, root: x509.Certificate | None) -> PdfResult:
    """Signature checks of a PDF; `seal` is the seal text when the signature checks out."""
    name = "pdf_signature"
    if len(data) > MAX_PDF_BYTES:
        return PdfResult([Check.failed(name, Reason.PDF_UNREADABLE, f"the PDF is larger than {MAX_PDF_BYTES // 2**20} MiB")], None, None)
    if not data.startswith(b"%PDF-"):
        return PdfResult([Check.failed(name, Reason.PDF_UNREADABLE, "not a PDF file")], None, None)
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        pages = int(reader.root["/Pages"]["/Count"])
        signatures = reader.embedded_signatures
    except Exception as exc:
        return PdfResult([Check.failed(name, Reason.PDF_UNREADABLE, f"the PDF cannot be read ({type(exc).__name__})")], None, None)
    if pages > MAX_PAGES:
        return PdfResult([Check.failed(name, Reason.PDF_UNREADABLE, f"the PDF has {pages} pages; a certificate has 1")], None, None)
    if not signatures:
        return PdfResult([Check.failed(name, Reason.PDF_NOT_SIGNED, "the PDF carries no signature: removed, or not an issued certificate (cards and print sheets are print files: check them by their QR code)")], None, None)
    if root is None:
        return PdfResult([Check.indeterminate(name, Reason.PDF_SIGNER_UNTRUSTED, "no root certificate given: signature not checked")], None, None)
    signature = signatures[0]
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))],
                                allow_fetching=False)
    try:
        status = validate_pdf_signature(signature, context)
    except (SignatureValidationError, ValueError, KeyError, TypeError) as exc:
        return PdfResult([Check.failed(name, Reason.PDF_SIGNATURE_INVALID, f"the signature cannot be validated ({type(exc).__name__})")], None, None)
    if not status.intact:
        return PdfResult([Check.failed(name, Reason.PDF_SIGNATURE_INVALID, "the signed content was changed after signing")], None, None)
    if not status.valid:
        return PdfResult([Check.failed(name, Reason.PDF_SIGNATURE_INVALID, "the signature does not verify")], None, None)
    if not status.trusted:
        return PdfResult([Check.failed(name, Reason.PDF_SIGNER_UNTRUSTED, "the signer is not certified by the root")], None, None)
    if len(signatures) > 1 or status.modification_level not in _ALLOWED_LATER or not status.docmdp_ok:
        level = status.modification_level.name.lower() if status.modification_level else "unknown"
        return PdfResult([Check.failed(name, Reason.PDF_MODIFIED, f"the document was changed after it was signed ({level})")], None, None)
    signer = x509.load_der_x509_certificate(status.signing_cert.dump())
    trusted = trust.get(key_id(signer))
    signed_at = status.timestamp_validity.timestamp if status.timestamp_validity else status.signer_reported_dt
    if trusted is None:
        return PdfResult([Check.failed(name, Reason.PDF_SIGNER_UNKNOWN, f"signer {key_id(signer).hex()} is not in the trust list")], None, signed_at)
    problem = trusted.problem_at(signed_at) if signed_at else None
    if problem is SignerProblem.KEY_REVOKED:
        return PdfResult([Check.failed(name, Reason.PDF_SIGNER_REVOKED,
                                       f"signer {trusted.kid.hex()} was revoked on {trusted.revoked_at:%Y-%m-%d %H:%M}Z, before this signature ({signed_at:%Y-%m-%d %H:%M}Z)")], None, signed_at)
    seal = reader.root.get(SEAL_KEY)
    checks = [Check.passed(name, Reason.PDF_SIGNATURE_VALID,
                           f"signed by {trusted.kid.hex()} on {signed_at:%Y-%m-%d %H:%M}Z, whole document, unchanged")]
    return PdfResult(checks, str(seal) if seal is not None else None, signed_at)
