"""The verification report: typed checks and a verdict. Data only; rendering is elsewhere.

A report is never a bare boolean: each check has an outcome (passed, failed, indeterminate),
a stable reason code and a human detail. The verdict follows from the checks by `decide`.
The JSON form (`to_json`) is specified in docs/verification.md and is stable.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

REPORT_FORMAT = "certverify-report/1"


class Outcome(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    INDETERMINATE = "indeterminate"


class Verdict(str, enum.Enum):
    VALID = "VALID"
    SUSPENDED = "SUSPENDED"
    WITHDRAWN = "WITHDRAWN"
    REPLACED = "REPLACED"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"  # not in the registry
    INVALID = "INVALID"  # forged, tampered, or not a certificate of ours
    INDETERMINATE = "INDETERMINATE"  # could not be checked (no barcode, no registry, ...)


class Reason(str, enum.Enum):
    """Stable reason codes (docs/verification.md lists them with their meaning)."""

    # the seal
    SEAL_VALID = "seal_valid"
    SEAL_MALFORMED = "seal_malformed"
    SEAL_UNSUPPORTED_ALG = "seal_unsupported_alg"
    SEAL_NO_KID = "seal_no_kid"
    SEAL_UNKNOWN_SIGNER = "seal_unknown_signer"
    SEAL_BAD_SIGNATURE = "seal_bad_signature"
    SEAL_KEY_REVOKED = "seal_key_revoked"
    SEAL_KEY_NOT_VALID = "seal_key_not_valid"
    SEAL_SIGNED_IN_FUTURE = "seal_signed_in_future"
    SEAL_BAD_CLAIMS = "seal_bad_claims"
    # the certificate number
    NUMBER_VALID = "number_valid"
    NUMBER_MALFORMED = "number_malformed"
    # the registry
    STATUS_ACTIVE = "status_active"
    STATUS_SUSPENDED = "status_suspended"
    STATUS_WITHDRAWN = "status_withdrawn"
    STATUS_REPLACED = "status_replaced"
    STATUS_EXPIRED = "status_expired"
    STATUS_NOT_ISSUED = "status_not_issued"
    NOT_IN_REGISTRY = "not_in_registry"
    STATUS_NOT_CHECKED = "status_not_checked"
    REGISTRY_UNAVAILABLE = "registry_unavailable"
    SEAL_MATCHES_REGISTRY = "seal_matches_registry"
    SEAL_MISMATCH = "seal_mismatch"
    # images
    BARCODE_FOUND = "barcode_found"
    NO_BARCODE = "no_barcode"
    NOT_A_SEAL = "not_a_seal"
    IMAGE_UNREADABLE = "image_unreadable"
    IMAGE_TOO_LARGE = "image_too_large"
    # PDFs
    PDF_SIGNATURE_VALID = "pdf_signature_valid"
    PDF_UNREADABLE = "pdf_unreadable"
    PDF_NOT_SIGNED = "pdf_not_signed"
    PDF_SIGNATURE_INVALID = "pdf_signature_invalid"
    PDF_MODIFIED = "pdf_modified_after_signing"
    PDF_SIGNER_UNTRUSTED = "pdf_signer_untrusted"
    PDF_SIGNER_UNKNOWN = "pdf_signer_not_in_trust_list"
    PDF_SIGNER_REVOKED = "pdf_signer_revoked"
    PDF_NO_SEAL = "pdf_no_seal"
    PDF_REGISTERED = "pdf_registered"
    PDF_NOT_REGISTERED = "pdf_not_registered"
    # the seal's address (appended: issue 10)
    SEAL_HOST_NOT_OFFICIAL = "seal_host_not_official"


@dataclass(frozen=True)
class Check:
    name: str  # what was checked: seal, number, status, registry_match, barcode, pdf_signature, pdf_registry
    outcome: Outcome
    reason: Reason
    detail: str

    @classmethod
    def passed(cls, name: str, reason: Reason, detail: str) -> "Check":
        return cls(name, Outcome.PASSED, reason, detail)

    @classmethod
    def failed(cls, name: str, reason: Reason, detail: str) -> "Check":
        return cls(name, Outcome.FAILED, reason, detail)

    @classmethod
    def indeterminate(cls, name: str, reason: Reason, detail: str) -> "Check":
        return cls(name, Outcome.INDETERMINATE, reason, detail)


@dataclass(frozen=True)
class StatusInfo:
    """What the registry says about a certificate: only what the paper shows, plus status."""

    number: str
    kind: str
    holder: str
    scheme: str
    granted: date
    expires: date | None
    status: str  # valid, suspended, withdrawn, replaced, expired, pending
    status_reason: str | None = None
    status_changed_at: datetime | None = None
    replaced_by: str | None = None
    seal: str | None = None
    pdf_sha256: str | None = None
    record: dict[str, Any] = field(default_factory=dict)


_STATUS_VERDICTS = {"valid": Verdict.VALID, "suspended": Verdict.SUSPENDED, "withdrawn": Verdict.WITHDRAWN,
                    "replaced": Verdict.REPLACED, "expired": Verdict.EXPIRED}


@dataclass(frozen=True)
class VerificationReport:
    subject: str  # seal, number, image, pdf
    verdict: Verdict
    checks: tuple[Check, ...]
    summary: str
    source: str | None = None  # file name, when a file was checked
    barcodes: tuple[str, ...] = ()  # every barcode text found (image, pdf)
    claims: dict[str, Any] | None = None  # what the seal asserts
    certificate: StatusInfo | None = None  # what the registry says
    checked_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.VALID

    def to_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, (date, datetime)):
                return value.isoformat()
            if isinstance(value, enum.Enum):
                return value.value
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            return value

        cert = None
        if self.certificate is not None:
            cert = {k: plain(v) for k, v in asdict(self.certificate).items() if k not in ("seal", "record")}
        return {
            "format": REPORT_FORMAT, "subject": self.subject, "source": self.source, "verdict": self.verdict.value,
            "summary": self.summary, "checked_at": plain(self.checked_at),
            "checks": [{"name": c.name, "outcome": c.outcome.value, "reason": c.reason.value, "detail": c.detail}
                       for c in self.checks],
            "barcodes": list(self.barcodes), "claims": plain(self.claims), "certificate": cert,
        }


def decide(checks: tuple[Check, ...], certificate: StatusInfo | None) -> tuple[Verdict, str]:
    """The verdict and a one-line summary from the checks (docs/verification.md, "Verdicts")."""
    failed = [c for c in checks if c.outcome is Outcome.FAILED]
    if failed:
        first = failed[0]
        if first.reason is Reason.NOT_IN_REGISTRY:
            return Verdict.UNKNOWN, first.detail
        return Verdict.INVALID, first.detail
    status = next((c for c in checks if c.name == "status"), None)
    if status is not None and status.outcome is Outcome.PASSED and certificate is not None:
        verdict = _STATUS_VERDICTS.get(certificate.status, Verdict.INDETERMINATE)
        return verdict, status.detail
    expired = next((c for c in checks if c.reason is Reason.STATUS_EXPIRED), None)
    if expired is not None:
        return Verdict.EXPIRED, expired.detail
    undecided = [c for c in checks if c.outcome is Outcome.INDETERMINATE]
    if undecided:
        return Verdict.INDETERMINATE, "; ".join(c.detail for c in undecided)
    return Verdict.INDETERMINATE, "nothing could be checked"
