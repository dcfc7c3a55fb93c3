"""The verification report: typed checks and a verdict. Data only; rendering is elsewhere.

A report is never a bare boolean: each check has an outcome (passed, failed, indeterminate),
a stable reason code and a human detail. The verdict follows from the checks by `decide`.
Status, kind and verdict are enums and the claims are the seal's own dataclass; the JSON and
text forms live in `verify.formats` (the JSON form is specified in docs/verification.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from certgen.model import DocumentKind
from certgen.registry.lifecycle import EffectiveStatus
from certgen.seal import SealClaims


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
    STATUS_REDEEMED = "status_redeemed"  # an apology letter whose credit was used: genuine, used up
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
    # the signing time (a signer judged at a time nobody vouches for)
    PDF_SIGNING_TIME_UNPROVEN = "pdf_signing_time_unproven"
    PDF_SIGNING_TIME_CONFLICT = "pdf_signing_time_conflict"
    # hostile input (issue 10): every failure of a parser or validator has its own code
    PDF_TOO_LARGE = "pdf_too_large"
    PDF_SIGNATURE_MALFORMED = "pdf_signature_malformed"
    PDF_NOT_EVALUATED = "pdf_not_evaluated"
    PDF_TIMED_OUT = "pdf_timed_out"
    IMAGE_TOO_SMALL = "image_too_small"
    SCAN_FAILED = "scan_failed"
    CHECK_CRASHED = "check_crashed"
    FILE_UNREADABLE = "file_unreadable"
    # the transparency log (--log-proof)
    LOG_INCLUSION_PROVEN = "log_inclusion_proven"
    LOG_INCLUSION_FAILED = "log_inclusion_failed"
    LOG_CHECKPOINT_UNTRUSTED = "log_checkpoint_untrusted"
    LOG_NOT_CHECKPOINTED = "log_not_checkpointed"
    LOG_UNAVAILABLE = "log_unavailable"
    # the seal's address (appended: issue 10)
    SEAL_HOST_NOT_OFFICIAL = "seal_host_not_official"
    # card editions (issue 12): a card's seal names its edition, the registry the current one
    CARD_CURRENT = "card_current"  # this card is the registry's current edition
    CARD_SUPERSEDED = "card_superseded"  # an older edition: the card was replaced by a newer one
    CARD_EDITION_UNKNOWN = "card_edition_unknown"  # an edition the registry never recorded
    #: A certificate's own seal (no edition) whose card was reprinted: valid for the certificate,
    #: but a card showing it (printed before card editions) is superseded. Passed: a bare seal
    #: cannot tell the two apart (docs/lifecycle.md, "Cards printed before editions").
    CARD_SEAL_ELSEWHERE = "card_seal_elsewhere"
    # the web service's wall-clock bound on one upload's check (verify.isolation)
    CHECK_TIMED_OUT = "check_timed_out"


class TimeSource(str, enum.Enum):
    """Where the time a PDF's signer was judged at comes from (docs/verification.md, "Signing time")."""

    TIMESTAMP = "timestamp"  # an RFC 3161 signature timestamp, validated by pyHanko
    REGISTRY = "registry"  # the issue event the registry logged for this very file
    CLOCK = "clock"  # the verifier's own moment: no one vouches for the signing time


@dataclass(frozen=True)
class SigningTime:
    """The time a document's signer was judged at, and who vouches for it."""

    at: datetime
    source: TimeSource


@dataclass(frozen=True)
class Check:
    name: str  # what was checked: seal, number, status, registry_match, barcode, pdf_signature, pdf_registry
    outcome: Outcome
    reason: Reason
    detail: str
    #: What a library raised (exception type and message): for the JSON report only, never
    #: for the public page (it can name library internals and echo hostile bytes).
    technical: str | None = None

    @classmethod
    def passed(cls, name: str, reason: Reason, detail: str) -> "Check":
        return cls(name, Outcome.PASSED, reason, detail)

    @classmethod
    def failed(cls, name: str, reason: Reason, detail: str, technical: str | None = None) -> "Check":
        return cls(name, Outcome.FAILED, reason, detail, technical)

    @classmethod
    def indeterminate(cls, name: str, reason: Reason, detail: str, technical: str | None = None) -> "Check":
        return cls(name, Outcome.INDETERMINATE, reason, detail, technical)


@dataclass(frozen=True)
class StatusInfo:
    """What the registry says about a certificate: only what the paper shows, plus status."""

    number: str
    kind: DocumentKind
    holder: str
    scheme: str
    granted: date
    expires: date | None
    #: As the public sees it at the verifier's moment (expired is derived from the dates).
    status: EffectiveStatus
    status_reason: str | None = None
    status_changed_at: datetime | None = None
    replaced_by: str | None = None
    seal: str | None = None
    pdf_sha256: str | None = None
    record: dict[str, Any] = field(default_factory=dict)
    #: When the registry logged the issue event: proof that the document with `pdf_sha256`
    #: existed then, hence an upper bound of its signing time (docs/verification.md).
    issued_at: datetime | None = None
    #: The certificate this one replaced (renewal or correction, docs/lifecycle.md).
    replaces: str | None = None
    #: Person certificates: the current card edition (None: a card printed before editions,
    #: which is edition 1), its seal text and its file's SHA-256.
    card_edition: int | None = None
    card_seal: str | None = None
    card_sha256: str | None = None


@dataclass(frozen=True)
class StatusOutcome:
    """What an effective status means for the status check and the verdict."""

    outcome: Outcome
    reason: Reason
    verdict: Verdict


#: The one table from a registry status to the status check's reason and the verdict.
STATUS_OUTCOMES: dict[EffectiveStatus, StatusOutcome] = {
    EffectiveStatus.VALID: StatusOutcome(Outcome.PASSED, Reason.STATUS_ACTIVE, Verdict.VALID),
    EffectiveStatus.SUSPENDED: StatusOutcome(Outcome.PASSED, Reason.STATUS_SUSPENDED, Verdict.SUSPENDED),
    EffectiveStatus.WITHDRAWN: StatusOutcome(Outcome.PASSED, Reason.STATUS_WITHDRAWN, Verdict.WITHDRAWN),
    EffectiveStatus.REPLACED: StatusOutcome(Outcome.PASSED, Reason.STATUS_REPLACED, Verdict.REPLACED),
    EffectiveStatus.EXPIRED: StatusOutcome(Outcome.PASSED, Reason.STATUS_EXPIRED, Verdict.EXPIRED),
    # an apology letter whose credit was used (docs/service.md): genuine; its status line says it was used
    EffectiveStatus.REDEEMED: StatusOutcome(Outcome.PASSED, Reason.STATUS_REDEEMED, Verdict.VALID),
    # reserved but never issued: a seal or number for it is not a certificate
    EffectiveStatus.PENDING: StatusOutcome(Outcome.FAILED, Reason.STATUS_NOT_ISSUED, Verdict.INVALID),
}


@dataclass(frozen=True)
class VerificationReport:
    subject: str  # seal, number, image, pdf
    verdict: Verdict
    checks: tuple[Check, ...]
    summary: str
    source: str | None = None  # file name, when a file was checked
    barcodes: tuple[str, ...] = ()  # every barcode text found (image, pdf)
    claims: SealClaims | None = None  # what the seal asserts (signature checked)
    certificate: StatusInfo | None = None  # what the registry says
    checked_at: datetime | None = None
    #: PDFs: the time the signer was judged at and its source; None when not established.
    signing_time: SigningTime | None = None

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.VALID

    @property
    def deciding(self) -> Check | None:
        """The check the verdict follows from (the public page shows its label)."""
        return deciding_check(self.checks, self.certificate)


def deciding_check(checks: tuple[Check, ...], certificate: StatusInfo | None) -> Check | None:
    """The check that decides the verdict, in the order of docs/verification.md, "Verdicts"."""
    failed = next((c for c in checks if c.outcome is Outcome.FAILED), None)
    if failed is not None:
        return failed
    status = next((c for c in checks if c.name == "status"), None)
    if status is not None and status.outcome is Outcome.PASSED and certificate is not None:
        return status
    expired = next((c for c in checks if c.reason is Reason.STATUS_EXPIRED), None)
    if expired is not None:
        return expired
    return next((c for c in checks if c.outcome is Outcome.INDETERMINATE), None)


def decide(checks: tuple[Check, ...], certificate: StatusInfo | None) -> tuple[Verdict, str]:
    """The verdict and a one-line summary from the checks (docs/verification.md, "Verdicts")."""
    first = deciding_check(checks, certificate)
    if first is None:
        return Verdict.INDETERMINATE, "nothing could be checked"
    if first.reason is Reason.CARD_SUPERSEDED:
        return Verdict.REPLACED, first.detail  # genuine, but replaced by a newer card: never VALID
    if first.outcome is Outcome.FAILED:
        return (Verdict.UNKNOWN if first.reason is Reason.NOT_IN_REGISTRY else Verdict.INVALID), first.detail
    if first.name == "status" and certificate is not None:
        return STATUS_OUTCOMES[certificate.status].verdict, first.detail
    if first.reason is Reason.STATUS_EXPIRED:
        return Verdict.EXPIRED, first.detail
    undecided = [c for c in checks if c.outcome is Outcome.INDETERMINATE]
    return Verdict.INDETERMINATE, "; ".join(c.detail for c in undecided)
