"""PDF checks: the PAdES signature with pyHanko (root as the only trust anchor, no network,
modification analysis), the signer against the trust list, and the seal the PDF carries.

An issued certificate has exactly one signature, by a DSC of the trust list, covering the
whole file; its signed catalog holds the seal text under /CertgenSeal. Anything else is a
failed check with its own reason: see docs/verification.md.

Hostile files (issue 10): the raw bytes are measured before parsing (verify.pdf_structure),
the signature dictionary is checked before validation, the signer must be issued by the root
before pyhanko-certvalidator builds a path (a look-alike chain makes it assert), and anything
pyHanko or its libraries still raise, or a run past the time bound, becomes a verdict here:
never a traceback.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from certgen.crypto import key_id
from certgen.trust import SignerProblem, TrustList

from .boundary import TimeBoundExceeded, technical, time_bound
from .pdf_structure import DEFAULT_LIMITS, PdfLimits, malformed_signature, too_large, trailing_bytes, unsigned_changes
from .report import Check, Reason

SEAL_KEY = "/CertgenSeal"  # the same key certgen.sign writes (verify may not import certgen.sign)
MAX_PDF_BYTES = DEFAULT_LIMITS.max_bytes
MAX_PAGES = DEFAULT_LIMITS.max_pages
_ALLOWED_LATER = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
NAME = "pdf_signature"

logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # problems are reported as checks, not logged
logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class PdfResult:
    checks: list[Check]
    seal: str | None
    signed_at: datetime | None


def _failed(reason: Reason, detail: str, technical_text: str | None = None, signed_at: datetime | None = None) -> PdfResult:
    return PdfResult([Check.failed(NAME, reason, detail, technical_text)], None, signed_at)


def check_pdf(data: bytes, trust: TrustList, root: x509.Certificate | None, *,
              limits: PdfLimits = DEFAULT_LIMITS) -> PdfResult:
    """Signature checks of a PDF; `seal` is the seal text when the signature checks out.
    Never raises: what the libraries raise is an INDETERMINATE check with the exception in
    its technical text."""
    try:
        with time_bound(limits.seconds):
            return _check(data, trust, root, limits)
    except PdfError as exc:  # found by fuzzing: pyHanko parses objects lazily, so damage can surface late
        return _failed(Reason.PDF_UNREADABLE, "the PDF's structure is damaged", technical(exc))
    except TimeBoundExceeded as exc:
        return PdfResult([Check.indeterminate(NAME, Reason.PDF_TIMED_OUT,
                                              f"checking the PDF took longer than {limits.seconds:g} s: not evaluated",
                                              technical(exc))], None, None)
    except Exception as exc:  # the boundary: AssertionError, RecursionError, anything a library raises
        return PdfResult([Check.indeterminate(NAME, Reason.PDF_NOT_EVALUATED,
                                              "the PDF's signature could not be evaluated (the validator failed on this file)",
                                              technical(exc))], None, None)


def _check(data: bytes, trust: TrustList, root: x509.Certificate | None, limits: PdfLimits) -> PdfResult:
    if not data.startswith(b"%PDF-"):
        return _failed(Reason.PDF_UNREADABLE, "not a PDF file")
    refused = too_large(data, limits)
    if refused:
        return _failed(Reason.PDF_TOO_LARGE, refused)
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        pages = int(reader.root["/Pages"]["/Count"])
    except Exception as exc:
        return _failed(Reason.PDF_UNREADABLE, "the PDF cannot be read (damaged or not a PDF)", technical(exc))
    if pages > limits.max_pages:
        return _failed(Reason.PDF_UNREADABLE, f"the PDF has {pages} pages; a certificate has 1")
    try:
        signatures = reader.embedded_signatures
    except Exception as exc:  # pyHanko parses /Contents and /ByteRange here
        return _failed(Reason.PDF_SIGNATURE_MALFORMED, "the signature dictionary is malformed (forged or damaged)", technical(exc))
    if not signatures:
        return _failed(Reason.PDF_NOT_SIGNED, "the PDF carries no signature: removed, or not an issued certificate (cards and print sheets are print files: check them by their QR code)")
    for signature in signatures:
        problem = malformed_signature(signature.sig_object, len(data))
        if problem:
            return _failed(Reason.PDF_SIGNATURE_MALFORMED, problem)
    if root is None:
        return PdfResult([Check.indeterminate(NAME, Reason.PDF_SIGNER_UNTRUSTED, "no root certificate given: signature not checked")], None, None)
    signature = signatures[0]
    try:
        signer = x509.load_der_x509_certificate(signature.signer_cert.dump())
    except Exception as exc:
        return _failed(Reason.PDF_SIGNATURE_MALFORMED, "the signature names no readable signer certificate", technical(exc))
    if not _issued_by(signer, root):
        return _failed(Reason.PDF_SIGNER_UNTRUSTED, "the signer is not certified by the root")
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))],
                                allow_fetching=False)
    try:
        status = validate_pdf_signature(signature, context)
    except (SignatureValidationError, ValueError, KeyError, TypeError) as exc:
        return _failed(Reason.PDF_SIGNATURE_INVALID, "the signature cannot be validated", technical(exc))
    if not status.intact:
        return _failed(Reason.PDF_SIGNATURE_INVALID, "the signed content was changed after signing")
    if not status.valid:
        return _failed(Reason.PDF_SIGNATURE_INVALID, "the signature does not verify")
    if not status.trusted:
        return _failed(Reason.PDF_SIGNER_UNTRUSTED, "the signer is not certified by the root")
    if len(signatures) > 1 or status.modification_level not in _ALLOWED_LATER or not status.docmdp_ok:
        level = status.modification_level.name.lower() if status.modification_level else "unknown"
        return _failed(Reason.PDF_MODIFIED, f"the document was changed after it was signed ({level})")
    whole = status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    changed = trailing_bytes(data) or unsigned_changes(reader, signature, whole)
    if changed:
        return _failed(Reason.PDF_MODIFIED, f"the document was changed after it was signed: {changed}")
    trusted = trust.get(key_id(signer))
    signed_at = status.timestamp_validity.timestamp if status.timestamp_validity else status.signer_reported_dt
    if trusted is None:
        return _failed(Reason.PDF_SIGNER_UNKNOWN, f"signer {key_id(signer).hex()} is not in the trust list", signed_at=signed_at)
    problem = trusted.problem_at(signed_at) if signed_at else None
    if problem is SignerProblem.KEY_REVOKED:
        return _failed(Reason.PDF_SIGNER_REVOKED,
                       f"signer {trusted.kid.hex()} was revoked on {trusted.revoked_at:%Y-%m-%d %H:%M}Z, before this signature ({signed_at:%Y-%m-%d %H:%M}Z)",
                       signed_at=signed_at)
    seal = reader.root.get(SEAL_KEY)
    scope = "whole document, unchanged" if whole else "signed revision unchanged; later updates change nothing"
    checks = [Check.passed(NAME, Reason.PDF_SIGNATURE_VALID, f"signed by {trusted.kid.hex()} on {signed_at:%Y-%m-%d %H:%M}Z, {scope}")]
    return PdfResult(checks, str(seal) if seal is not None else None, signed_at)


def _issued_by(signer: x509.Certificate, root: x509.Certificate) -> bool:
    """The signer's certificate is signed by the root's key. Checked before pyHanko builds a
    path: a look-alike chain (the root's name and key identifier on another key type) makes
    pyhanko-certvalidator 0.33 fail an assertion instead of answering."""
    try:
        signer.verify_directly_issued_by(root)
    except Exception:  # ValueError (names differ), TypeError (key types differ), InvalidSignature
        return False
    return True
