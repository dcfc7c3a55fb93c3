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
from datetime import datetime, timedelta
from typing import Callable, Sequence

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation import EmbeddedPdfSignature, validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from certgen.crypto import key_id
from certgen.seal import SEAL_KEY
from certgen.trust import SignerProblem, TrustList

from . import pdf_fast
from .boundary import TimeBoundExceeded, technical, time_bound
from .pdf_structure import DEFAULT_LIMITS, PdfLimits, malformed_signature, too_large, trailing_bytes, unsigned_changes
from .report import Check, Outcome, Reason, TimeSource

MAX_PDF_BYTES = DEFAULT_LIMITS.max_bytes
MAX_PAGES = DEFAULT_LIMITS.max_pages
NAME = "pdf_signature"
_ALLOWED_LATER = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
#: How far a signature's own time may run ahead of the registry's issue record (clock skew).
CLOCK_SKEW = timedelta(minutes=5)

logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # problems are reported as checks, not logged
logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class PdfResult:
    checks: list[Check]
    seal: str | None
    #: The time the signer was judged at, and where it comes from.
    signed_at: datetime | None
    time_source: TimeSource | None = None


def _failed(reason: Reason, detail: str, technical_text: str | None = None) -> PdfResult:
    return PdfResult([Check.failed(NAME, reason, detail, technical_text)], None, None)


def check_pdf(data: bytes, *, trust: TrustList, root: x509.Certificate | None, now: datetime,
              registry_time: Callable[[str], datetime | None] | None = None,
              timestamp_roots: Sequence[x509.Certificate] = (), limits: PdfLimits = DEFAULT_LIMITS,
              fast: bool = True) -> PdfResult:
    """Signature checks of a PDF; `seal` is the seal text when the signature checks out.

    The signer is judged at a trusted signing time: the signature's RFC 3161 timestamp when a
    root in `timestamp_roots` vouches for it, else `registry_time(seal)` (the issue time the
    registry logged for this file, None if it has none), else `now`, and then only while the
    signer is still valid now: the time the PDF claims for itself is never trusted.

    Never raises: what the libraries raise is a check with the exception in its technical
    text (damage found late: `pdf_unreadable`; anything else: `pdf_not_evaluated`), and a run
    past `limits.seconds` is `pdf_timed_out`.

    `fast=False` forces pyHanko's full validation for every file; by default a document of
    the issued layout whose signer was already validated takes the fast path (verify.pdf_fast),
    which only ever passes a file the full validation passes."""
    try:
        with time_bound(limits.seconds):
            return _check(data, trust, root, now, registry_time, timestamp_roots, limits, fast)
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


def _check(data: bytes, trust: TrustList, root: x509.Certificate | None, now: datetime,
           registry_time: Callable[[str], datetime | None] | None, timestamp_roots: Sequence[x509.Certificate],
           limits: PdfLimits, fast: bool) -> PdfResult:
    name = NAME
    if not data.startswith(b"%PDF-"):
        return _failed(Reason.PDF_UNREADABLE, "not a PDF file")
    refused = too_large(data, limits)
    if refused:
        return _failed(Reason.PDF_TOO_LARGE, refused)
    root_der = root.public_bytes(serialization.Encoding.DER) if root is not None else b""
    # the issued layout, read by the strict reader (verify.pdf_issued): pyHanko's reader only
    # when the fast path does not answer
    issued = pdf_fast.issued_layout(data, root_der, limits.max_pages) if fast and root is not None else None
    if issued is not None:
        quick = _fast(issued, data, trust, root_der, now, registry_time)
        if quick is not None:
            return quick
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        pages = int(reader.root["/Pages"]["/Count"])
    except Exception as exc:
        return _failed(Reason.PDF_UNREADABLE, "the PDF cannot be read (damaged or not a PDF)", technical(exc))
    if pages > limits.max_pages:
        return _failed(Reason.PDF_UNREADABLE, f"the PDF has {pages} pages; a certificate has 1")
    try:
        signatures = reader.embedded_regular_signatures  # document timestamps (B-LTA) sign no content
    except Exception as exc:  # pyHanko parses /Contents and /ByteRange here
        return _failed(Reason.PDF_SIGNATURE_MALFORMED, "the signature dictionary is malformed (forged or damaged)", technical(exc))
    if not signatures:
        return PdfResult([Check.failed(name, Reason.PDF_NOT_SIGNED, "the PDF carries no signature: removed, or not an issued certificate (cards and print sheets are print files: check them by their QR code)")], None, None)
    for each in signatures:
        problem = malformed_signature(each.sig_object, len(data))
        if problem:
            return _failed(Reason.PDF_SIGNATURE_MALFORMED, problem)
    if root is None:
        return PdfResult([Check.indeterminate(name, Reason.PDF_SIGNER_UNTRUSTED, "no root certificate given: signature not checked")], None, None)
    signature = signatures[0]
    try:
        claimed_signer = x509.load_der_x509_certificate(signature.signer_cert.dump())
    except Exception as exc:
        return _failed(Reason.PDF_SIGNATURE_MALFORMED, "the signature names no readable signer certificate", technical(exc))
    if not _issued_by(claimed_signer, root):
        return _failed(Reason.PDF_SIGNER_UNTRUSTED, "the signer is not certified by the root")
    seal = _seal(reader)
    try:
        status, moment, source = _validate_at_trusted_time(signature, root, now, seal, registry_time, timestamp_roots)
    except (SignatureValidationError, ValueError, KeyError, TypeError) as exc:
        return _failed(Reason.PDF_SIGNATURE_INVALID, "the signature cannot be validated", technical(exc))
    if not status.intact:
        return PdfResult([Check.failed(name, Reason.PDF_SIGNATURE_INVALID, "the signed content was changed after signing")], None, None)
    if not status.valid:
        return PdfResult([Check.failed(name, Reason.PDF_SIGNATURE_INVALID, "the signature does not verify")], None, None)
    signer = x509.load_der_x509_certificate(status.signing_cert.dump())
    modified = None
    if len(signatures) > 1 or status.modification_level not in _ALLOWED_LATER or not status.docmdp_ok:
        modified = status.modification_level.name.lower() if status.modification_level else "unknown"
    whole = status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    result = _judge(_Validated(status.trusted, signer, status.signer_reported_dt, modified, whole),
                    moment, source, data, reader, signature, trust, seal)
    if issued is not None and result.seal is not None and status.signing_cert.dump() == issued.signer_der:
        pdf_fast.SIGNERS.remember(root_der, issued, signer, root, moment)  # this signer's chain is now known good
    return result


def _seal(reader: PdfFileReader) -> str | None:
    value = reader.root.get(SEAL_KEY)
    return str(value) if value is not None else None


def _fast(issued: pdf_fast.IssuedSignature, data: bytes, trust: TrustList, root_der: bytes,
          now: datetime, registry_time: Callable[[str], datetime | None] | None) -> PdfResult | None:
    """The passed check of a document of the issued layout whose signer's chain is known good
    at the trusted signing time; None whenever the full path must decide (a first document of
    its signer, a signature that does not verify here, any check that does not pass)."""
    seal = issued.seal
    logged = registry_time(seal) if registry_time is not None and seal is not None else None
    moment, source = (logged, TimeSource.REGISTRY) if logged is not None else (now, TimeSource.CLOCK)
    signer = pdf_fast.SIGNERS.signer_at(root_der, issued, moment)
    if signer is None or not pdf_fast.intact_and_valid(issued, signer):
        return None
    result = _judge(_Validated(True, signer, issued.claimed, None, True), moment, source, data, None, None, trust, seal)
    return result if all(c.outcome is Outcome.PASSED for c in result.checks) else None


@dataclass(frozen=True)
class _Validated:
    """What signature validation established, by pyHanko's full path or the fast path."""

    trusted: bool
    signer: x509.Certificate
    #: The time the signature claims for itself (never trusted for the document).
    claimed: datetime | None
    #: The modification level when there is more than one signature or a change after it.
    modified: str | None
    whole: bool


def _judge(v: _Validated, moment: datetime, source: TimeSource, data: bytes, reader: PdfFileReader | None,
           signature: EmbeddedPdfSignature | None, trust: TrustList, seal: str | None) -> PdfResult:
    """The check's outcome once the signature is intact and valid: time, trust, changes, trust list."""
    name = NAME
    signer, claimed, whole = v.signer, v.claimed, v.whole
    when = f"{moment:%Y-%m-%d %H:%M}Z ({_SOURCE_WORDS[source]})"
    if source is TimeSource.REGISTRY and claimed is not None and claimed > moment + CLOCK_SKEW:
        return PdfResult([Check.indeterminate(
            name, Reason.PDF_SIGNING_TIME_CONFLICT,
            f"the registry records this file as issued at {moment:%Y-%m-%d %H:%M}Z, before its signature's own time "
            f"{claimed:%Y-%m-%d %H:%M}Z: the registry's issue time cannot be right (see `certgen log --verify`)")], None, None)
    if not v.trusted:
        if source is TimeSource.CLOCK and moment > signer.not_valid_after_utc:
            if trust.get(key_id(signer)) is None:
                return PdfResult([Check.failed(name, Reason.PDF_SIGNER_UNKNOWN, f"signer {key_id(signer).hex()} is not in the trust list")], None, None)
            return PdfResult([Check.indeterminate(
                name, Reason.PDF_SIGNING_TIME_UNPROVEN,
                f"signer {key_id(signer).hex()} expired on {signer.not_valid_after_utc:%Y-%m-%d}, and nothing proves this "
                f"document was signed before: {_NEEDED}")], None, None)
        if source is not TimeSource.CLOCK and not signer.not_valid_before_utc <= moment <= signer.not_valid_after_utc:
            return PdfResult([Check.failed(name, Reason.PDF_SIGNER_UNTRUSTED,
                                           f"the signer's certificate was not valid at the signing time {when}")], None, moment, source)
        return PdfResult([Check.failed(name, Reason.PDF_SIGNER_UNTRUSTED, "the signer is not certified by the root")], None, None)
    if v.modified is not None:
        return PdfResult([Check.failed(name, Reason.PDF_MODIFIED, f"the document was changed after it was signed ({v.modified})")], None, None)
    changed = trailing_bytes(data) or (None if whole else unsigned_changes(reader, signature, whole))
    if changed:
        return _failed(Reason.PDF_MODIFIED, f"the document was changed after it was signed: {changed}")
    scope = "whole document, unchanged" if whole else "signed revision unchanged; later updates change nothing"
    trusted = trust.get(key_id(signer))
    if trusted is None:
        return PdfResult([Check.failed(name, Reason.PDF_SIGNER_UNKNOWN, f"signer {key_id(signer).hex()} is not in the trust list")], None, moment, source)
    problem = trusted.problem_at(moment)
    if trusted.revoked_at is not None:
        cut_off = f"signer {trusted.kid.hex()} was revoked on {trusted.revoked_at:%Y-%m-%d %H:%M}Z"
        if problem is SignerProblem.KEY_REVOKED and source is not TimeSource.CLOCK:
            return PdfResult([Check.failed(name, Reason.PDF_SIGNER_REVOKED, f"{cut_off}, before this signature ({when})")],
                             None, moment, source)
        if claimed is not None and claimed >= trusted.revoked_at:  # the signer's own claim counts against it, never for it
            return PdfResult([Check.failed(name, Reason.PDF_SIGNER_REVOKED,
                                           f"{cut_off}, before this signature ({claimed:%Y-%m-%d %H:%M}Z, the signature's own time)")],
                             None, moment, source)
        if problem is SignerProblem.KEY_REVOKED:
            return PdfResult([Check.indeterminate(
                name, Reason.PDF_SIGNING_TIME_UNPROVEN,
                f"{cut_off}, and nothing proves this document was signed before: {_NEEDED}")], None, None)
    if problem is not None:  # the trust list's own validity dates disagree with the certificate pyHanko checked
        return PdfResult([Check.failed(name, Reason.PDF_SIGNER_UNTRUSTED,
                                       f"the trust list does not accept signer {trusted.kid.hex()} at {when} ({problem.value})")],
                         None, moment, source)
    if source is TimeSource.CLOCK:
        said = f" on {claimed:%Y-%m-%d %H:%M}Z by its own account" if claimed is not None else ""
        detail = (f"signed by {trusted.kid.hex()}{said}, {scope}; signer still valid at "
                  f"{moment:%Y-%m-%d %H:%M}Z ({_SOURCE_WORDS[source]})")
    else:
        detail = (f"signed by {trusted.kid.hex()} on {moment:%Y-%m-%d %H:%M}Z or before, {scope}; "
                  f"signer judged at that time ({_SOURCE_WORDS[source]})")
    return PdfResult([Check.passed(name, Reason.PDF_SIGNATURE_VALID, detail)], seal, moment, source)


_NEEDED = "the registry's issue record (--registry) or a timestamp (PAdES B-T) is needed"
_SOURCE_WORDS = {TimeSource.TIMESTAMP: "the signature's RFC 3161 timestamp",
                 TimeSource.REGISTRY: "the registry's issue record of this file",
                 TimeSource.CLOCK: "the verifier's clock: no timestamp or registry record dates the signature"}


def _validate_at_trusted_time(signature: EmbeddedPdfSignature, root: x509.Certificate, now: datetime,
                              seal: str | None, registry_time: Callable[[str], datetime | None] | None,
                              timestamp_roots: Sequence[x509.Certificate]) -> tuple[PdfSignatureStatus, datetime, TimeSource]:
    """pyHanko's status of `signature` with the signer's chain judged at the trusted signing time."""
    roots = [_asn1(root)]
    stamped = _timestamp_time(signature) if timestamp_roots else None
    if stamped is not None:
        tsa_context = ValidationContext(trust_roots=[_asn1(c) for c in timestamp_roots], allow_fetching=False, moment=stamped)
        status = validate_pdf_signature(signature, ValidationContext(trust_roots=roots, allow_fetching=False, moment=stamped),
                                        ts_validation_context=tsa_context)
        token = status.timestamp_validity
        if token is not None and token.intact and token.valid and token.trusted and token.timestamp == stamped:
            return status, stamped, TimeSource.TIMESTAMP
    logged = registry_time(seal) if registry_time is not None and seal is not None else None
    moment, source = (logged, TimeSource.REGISTRY) if logged is not None else (now, TimeSource.CLOCK)
    return validate_pdf_signature(signature, ValidationContext(trust_roots=roots, allow_fetching=False, moment=moment)), moment, source


def _timestamp_time(signature: EmbeddedPdfSignature) -> datetime | None:
    """The time in the signature's RFC 3161 token, unchecked: pyHanko then validates the token."""
    try:
        attributes = signature.signer_info["unsigned_attrs"]
        if not attributes:
            return None
        for attribute in attributes:
            if attribute["type"].native == "signature_time_stamp_token":
                info = attribute["values"][0]["content"]["encap_content_info"]["content"].parsed
                moment = info["gen_time"].native
                return moment if isinstance(moment, datetime) and moment.tzinfo is not None else None
    except Exception:  # a malformed token is no time source; pyHanko reports the token itself
        return None
    return None


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _issued_by(signer: x509.Certificate, root: x509.Certificate) -> bool:
    """The signer's certificate is signed by the root's key. Checked before pyHanko builds a
    path: a look-alike chain (the root's name and key identifier on another key type) makes
    pyhanko-certvalidator 0.33 fail an assertion instead of answering."""
    try:
        signer.verify_directly_issued_by(root)
    except Exception:  # ValueError (names differ), TypeError (key types differ), InvalidSignature
        return False
    return True
