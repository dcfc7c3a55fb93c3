"""verify a seal, a number, an image or a PDF: never raises for an invalid document, reports.

`Verifier` holds what verification needs: the trust list, optionally the root certificate
(PDF signatures), a status source (registry), the roots of trusted timestamp authorities, and
the clock. A PDF's signer is judged at a trusted signing time (docs/verification.md, "Signing
time"): the clock only says what "now" is for the status and for signatures nobody dates.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Sequence

import cbor2
from cryptography import x509

from certgen.errors import NumberFormatError, SealFormatError
from certgen.numbers import parse_number
from certgen.registry.lifecycle import EffectiveStatus, is_expired
from certgen.seal import MAX_COSE, SealClaims, SealReason, SealResult, open_seal, parse_seal_text
from certgen.trust import TrustList

from .report import STATUS_OUTCOMES, Check, Outcome, Reason, SigningTime, StatusInfo, VerificationReport, decide
from .boundary import technical
from .isolation import CheckCrashed, CheckTimedOut
from .status import StatusSource, StatusUnavailable

if TYPE_CHECKING:
    from .scan import ImageError, ScanResult

_SEAL_REASONS = {
    SealReason.OK: Reason.SEAL_VALID, SealReason.MALFORMED: Reason.SEAL_MALFORMED,
    SealReason.UNSUPPORTED_ALG: Reason.SEAL_UNSUPPORTED_ALG, SealReason.NO_KID: Reason.SEAL_NO_KID,
    SealReason.UNKNOWN_KID: Reason.SEAL_UNKNOWN_SIGNER, SealReason.BAD_SIGNATURE: Reason.SEAL_BAD_SIGNATURE,
    SealReason.KEY_REVOKED: Reason.SEAL_KEY_REVOKED, SealReason.KEY_NOT_YET_VALID: Reason.SEAL_KEY_NOT_VALID,
    SealReason.KEY_EXPIRED: Reason.SEAL_KEY_NOT_VALID, SealReason.SIGNED_IN_FUTURE: Reason.SEAL_SIGNED_IN_FUTURE,
    SealReason.BAD_CLAIMS: Reason.SEAL_BAD_CLAIMS, SealReason.HOST_NOT_OFFICIAL: Reason.SEAL_HOST_NOT_OFFICIAL,
}
_IMAGE_REASONS = {"too_large": Reason.IMAGE_TOO_LARGE, "too_small": Reason.IMAGE_TOO_SMALL,
                  "failed": Reason.SCAN_FAILED, "unreadable": Reason.IMAGE_UNREADABLE}
SEAL_CACHE_SIZE = 50_000


@dataclass
class Verifier:
    trust: TrustList
    status: StatusSource | None = None
    root: x509.Certificate | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    #: Roots of the timestamp authorities whose RFC 3161 tokens date a PDF signature.
    timestamp_roots: Sequence[x509.Certificate] = ()
    #: Proves the certificate's latest event is in the latest signed checkpoint (verify.log_audit.LogInclusion); off by default.
    log: Any = None
    #: PDFs of the issued layout take the fast path (verify.pdf_fast); False forces pyHanko's
    #: full validation for every file (`certverify pdf --full-validation`).
    pdf_fast_path: bool = True
    #: Runs the parsing of files (PDF signature, barcode scan, a print sheet's pages) in child
    #: processes with a wall-clock bound (verify.isolation.SandboxPool: the web service); None
    #: runs it here (the command line, whose own timer and worker processes bound it).
    isolation: Any = None
    #: Seals that checked out, by text. A good seal stays good for this trust list (signers are
    #: judged at the signing time, and a time in the future only ever becomes the past), so a
    #: seal scanned again (a product certificate on packaging) skips CBOR and ECDSA. The
    #: status is still asked every time.
    _good_seals: "OrderedDict[str, SealResult]" = field(default_factory=OrderedDict, repr=False)
    #: Guards the swap of the trust list against a seal checked under the old one being cached under the new.
    _trust_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _open_seal(self, text: str, now: datetime, trust: TrustList | None = None) -> SealResult:
        """`trust`: the list the rest of the request was judged under (a PDF's signature), when
        the version check may have swapped `self.trust` since (verify.live)."""
        key = _seal_key(text)
        if trust is None or trust is self.trust:
            cached = self._good_seals.get(key)
            if cached is not None:
                return cached
        if trust is None:
            trust = self.trust
        opened = open_seal(text, trust, now)
        if opened.ok:
            with self._trust_lock:
                if self.trust is trust:  # not swapped meanwhile (an upload thread)
                    self._good_seals[key] = opened
                    if len(self._good_seals) > SEAL_CACHE_SIZE:
                        self._good_seals.popitem(last=False)
        return opened

    def use_trust(self, trust: TrustList, changed_kids: "frozenset[bytes] | None" = None) -> None:
        """Verify with `trust` from now on (a rotation, a revocation: verify.live). Good seals of
        the signers in `changed_kids` are forgotten; of every signer when it is None."""
        with self._trust_lock:
            if changed_kids is None:
                kept: "OrderedDict[str, SealResult]" = OrderedDict()
            else:
                kept = OrderedDict((t, r) for t, r in self._good_seals.copy().items() if r.kid not in changed_kids)
            self._good_seals = kept
            self.trust = trust

    def cached_seal(self, text: str) -> SealResult | None:
        """The remembered check of a good seal (its signer's key id names what a trust change drops)."""
        return self._good_seals.get(_seal_key(text))

    # -- seals --------------------------------------------------------------------------
    def verify_seal(self, text: str, *, subject: str = "seal", source: str | None = None,
                    barcodes: tuple[str, ...] = (), printed_card: bool | None = None) -> VerificationReport:
        """Check a seal (barcode text) and ask the status source about its certificate.
        `printed_card`: True when the seal was read from a card print file (`verify_print_pdf`),
        so a certificate's own seal there is a card printed before card editions (edition 1);
        False when it is known not to be on a card (a signed certificate PDF); None: unknown."""
        return self._verify_seal(text, self.now(), subject=subject, source=source, barcodes=barcodes,
                                 printed_card=printed_card)

    def _verify_seal(self, text: str, now: datetime, *, subject: str = "seal", source: str | None = None,
                     barcodes: tuple[str, ...] = (), lookup: "Callable[[str], StatusInfo | None] | None" = None,
                     trust: TrustList | None = None, printed_card: bool | None = None) -> VerificationReport:
        checks: list[Check] = []
        opened = self._open_seal(text, now, trust)
        if not opened.ok or opened.claims is None:
            checks.append(Check.failed("seal", _SEAL_REASONS[opened.reason], f"seal invalid: {opened.detail}"))
            return self._report(subject, checks, None, None, source, barcodes or (text,), now)
        claims = opened.claims
        checks.append(Check.passed("seal", Reason.SEAL_VALID, f"seal valid ({opened.detail})"))
        certificate = self._status_checks(claims.number, checks, now, claims=claims, seal_text=text, lookup=lookup,
                                          printed_card=printed_card)
        return self._report(subject, checks, claims, certificate, source, barcodes or (text,), now)

    # -- numbers ------------------------------------------------------------------------
    def verify_number(self, text: str) -> VerificationReport:
        """Look a typed certificate number up; a typo is caught by the check character first."""
        now = self.now()
        try:
            number = str(parse_number(text))
        except NumberFormatError as exc:
            return self._report("number", [Check.failed("number", Reason.NUMBER_MALFORMED, str(exc))], None, None,
                                None, (), now)
        checks = [Check.passed("number", Reason.NUMBER_VALID, f"{number} is a well-formed number")]
        certificate = self._status_checks(number, checks, now)
        return self._report("number", checks, None, certificate, None, (), now)

    # -- images -------------------------------------------------------------------------
    def verify_image(self, data: bytes, source: str | None = None, *, printed_card: bool | None = None
                     ) -> list[VerificationReport]:
        """One report per barcode in the image (two cards side by side give two), or one
        INDETERMINATE report saying why nothing could be read. `printed_card`: the image is a
        rendered page of a card print file (see `verify_seal`)."""
        from .scan import ImageError, scan

        now = self.now()
        try:
            result: "ScanResult | ImageError" = self._isolated(scan, data)
        except ImageError as exc:
            result = exc
        except (CheckTimedOut, CheckCrashed) as exc:
            return [self._report("image", [_stopped("barcode", exc)], None, None, source, (), now)]
        return self._image_reports(result, source, now, printed_card=printed_card)

    def _image_reports(self, result: "ScanResult | ImageError", source: str | None, now: datetime, *,
                       printed_card: bool | None = None) -> list[VerificationReport]:
        from .scan import ImageError

        if isinstance(result, ImageError):
            reason = _IMAGE_REASONS.get(result.kind, Reason.IMAGE_UNREADABLE)
            return [self._report("image", [Check.indeterminate("barcode", reason, str(result), result.technical)], None, None,
                                 source, (), now)]
        if not result.texts:
            detail = "no barcode found in the image" + (" (gave up: the time budget ran out)" if result.gave_up else "")
            return [self._report("image", [Check.indeterminate("barcode", Reason.NO_BARCODE, detail)],
                                 None, None, source, (), now)]
        reports = []
        for text in result.texts:
            found = Check.passed("barcode", Reason.BARCODE_FOUND, f"barcode read by {result.decoder}")
            try:
                parse_seal_text(text)
            except SealFormatError:
                reports.append(self._report("image", [found, Check.failed("seal", Reason.NOT_A_SEAL, "the barcode is not a certificate seal")],
                                            None, None, source, result.texts, now))
                continue
            seal_report = self.verify_seal(text, subject="image", source=source, barcodes=result.texts,
                                           printed_card=printed_card)
            reports.append(self._report("image", [found, *seal_report.checks],
                                        seal_report.claims, seal_report.certificate, source, result.texts, now))
        return reports

    def verify_print_pdf(self, data: bytes, source: str | None = None) -> list[VerificationReport]:
        """The barcodes printed in a PDF without a signature of its own (a card, a print sheet),
        read from its pages rendered by poppler: one report per barcode, its page named in the
        source. The web service runs this for print sheets in its bounded child processes.

        A certificate's own seal (no edition claim) printed on a card print file (an unsigned
        card-sized PDF or print sheet: `pdf_pages.is_card_print`) is a card printed before card
        editions, edition 1: superseded once the card was reprinted (docs/lifecycle.md)."""
        from .pdf_pages import PdfPagesError, is_card_print

        now = self.now()
        try:
            pages = self._isolated(scan_pages, data)
        except PdfPagesError as exc:
            reason = Reason.PDF_TOO_LARGE if getattr(exc, "too_large", False) else Reason.IMAGE_UNREADABLE
            return [self._report("image", [Check.indeterminate("barcode", reason, str(exc))],
                                 None, None, source, (), now)]
        except (CheckTimedOut, CheckCrashed) as exc:
            return [self._report("image", [_stopped("barcode", exc)], None, None, source, (), now)]
        card = is_card_print(data)
        reports = [report for number, page in enumerate(pages, start=1)
                   for report in self._image_reports(page, f"{source or 'PDF'} page {number}", now, printed_card=card)]
        read = [r for r in reports if not any(c.reason is Reason.NO_BARCODE for c in r.checks)]
        if read:
            return read
        return [self._report("image", [Check.indeterminate("barcode", Reason.NO_BARCODE,
                                                           f"no barcode found on the PDF's {len(pages)} page(s)")],
                             None, None, source, (), now)]

    def _isolated(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`function(*args, **kwargs)`, in a bounded child process when `isolation` is set."""
        if self.isolation is None:
            return function(*args, **kwargs)
        return self.isolation.run(function, *args, **kwargs)

    # -- PDFs ---------------------------------------------------------------------------
    def verify_pdf(self, data: bytes, source: str | None = None) -> VerificationReport:
        """Signature, then the seal the PDF carries, then the registry (status, seal, file digest).

        The signer is judged at the signing time a timestamp or the registry vouches for
        (verify.pdf, docs/verification.md "Signing time"), not at the verifier's moment."""
        from .pdf import check_pdf
        from .pdf_structure import DEFAULT_LIMITS

        now = self.now()
        digest = sha256(data)
        looked_up: dict[str, StatusInfo | None] = {}

        def lookup(number: str) -> StatusInfo | None:
            if number not in looked_up:
                assert self.status is not None
                looked_up[number] = self.status.lookup(number)
            return looked_up[number]

        def registry_time(seal: str) -> datetime | None:
            """When the registry logged the issue of this very file (its digest), if it did."""
            if self.status is None:
                return None
            number = _number_in(seal)
            if number is None:
                return None
            try:
                cert = lookup(number)
            except StatusUnavailable:
                return None
            if cert is not None and cert.card_sha256 == digest and (cert.card_edition or 1) == 1:
                return cert.issued_at  # the card issued with its certificate, signed at the issue time
            if cert is not None and cert.card_sha256 == digest:
                return _signed_at(cert.card_seal)  # a reprint: recorded with the seal the registry holds (its time)
            return cert.issued_at if cert is not None and cert.pdf_sha256 == digest else None

        trust = self.trust  # one list for the whole file: the version check may swap it meanwhile (an upload thread)
        bound = {} if self.isolation is None else {"limits": replace(DEFAULT_LIMITS, seconds=self.isolation.seconds + 1)}
        try:  # in a bounded child process when isolated: the web's uploads (its own timer then only a backstop)
            result = self._isolated(check_pdf, data, trust=trust, root=self.root, now=now, registry_time=registry_time,
                                    timestamp_roots=self.timestamp_roots, fast=self.pdf_fast_path, **bound)
        except (CheckTimedOut, CheckCrashed) as exc:
            return self._report("pdf", [_stopped("pdf_signature", exc)], None, None, source, (), now)
        checks = list(result.checks)
        signing_time = SigningTime(result.signed_at, result.time_source) if result.signed_at and result.time_source else None
        if any(c.outcome is not Outcome.PASSED for c in checks):
            return replace(self._report("pdf", checks, None, None, source, (), now), signing_time=signing_time)
        if result.seal is None:
            checks.append(Check.failed("seal", Reason.PDF_NO_SEAL, "the signed PDF carries no seal"))
            return self._report("pdf", checks, None, None, source, (), now)
        seal_report = self._verify_seal(result.seal, now, subject="pdf", source=source,
                                        lookup=lookup if self.status is not None else None, trust=trust,
                                        printed_card=False)  # a signed PDF: a certificate's seal there is on the certificate
        checks.extend(seal_report.checks)
        certificate = seal_report.certificate
        card = seal_report.claims is not None and seal_report.claims.edition is not None
        if card and certificate is not None:
            if seal_report.claims.edition == (certificate.card_edition or 1) and certificate.card_sha256:  # type: ignore[union-attr]
                if certificate.card_sha256 == digest:
                    checks.append(Check.passed("pdf_registry", Reason.PDF_REGISTERED,
                                               "this card file is the one the registry recorded"))
                else:
                    checks.append(Check.failed("pdf_registry", Reason.PDF_NOT_REGISTERED,
                                               f"this file is not the card the registry recorded for {certificate.number}"))
        elif certificate is not None and certificate.pdf_sha256:
            if certificate.pdf_sha256 == digest:
                checks.append(Check.passed("pdf_registry", Reason.PDF_REGISTERED, "this file is the one the registry recorded"))
            else:
                checks.append(Check.failed("pdf_registry", Reason.PDF_NOT_REGISTERED,
                                           f"this file is not the document the registry recorded for {certificate.number}"))
        return replace(self._report("pdf", checks, seal_report.claims, certificate, source, (result.seal,), now),
                       signing_time=signing_time)

    # -- internals ------------------------------------------------------------------------
    def _status_checks(self, number: str, checks: list[Check], now: datetime, *, claims: SealClaims | None = None,
                       seal_text: str | None = None, lookup: "Callable[[str], StatusInfo | None] | None" = None,
                       printed_card: bool | None = None) -> StatusInfo | None:
        if self.status is None:
            checks.append(Check.indeterminate("status", Reason.STATUS_NOT_CHECKED,
                                              "status not checked (no registry given)"))
            if claims is not None and is_expired(claims.expires, now):
                checks.append(Check.passed("expiry", Reason.STATUS_EXPIRED, f"expired on {claims.expires:%Y-%m-%d}"))
            return None
        try:
            certificate = (lookup or self.status.lookup)(number)
        except StatusUnavailable as exc:
            checks.append(Check.indeterminate("status", Reason.REGISTRY_UNAVAILABLE, f"status not checked: {exc}"))
            return None
        if certificate is None:
            checks.append(Check.failed("status", Reason.NOT_IN_REGISTRY, f"{number} is not in the registry"))
            return None
        if claims is not None:
            mismatch = _compare(claims, certificate, seal_text)
            if mismatch:
                checks.append(Check.failed("registry_match", Reason.SEAL_MISMATCH, mismatch))
            else:
                checks.append(Check.passed("registry_match", Reason.SEAL_MATCHES_REGISTRY,
                                           "the seal is the one the registry recorded"))
            if claims.edition is not None and not mismatch:
                checks.append(_card_check(claims, certificate, seal_text))
            elif claims.edition is None and not mismatch and certificate.kind.value == "person":
                legacy = _legacy_card_check(certificate, printed_card)
                if legacy is not None:
                    checks.append(legacy)
        meaning = STATUS_OUTCOMES[certificate.status]
        checks.append(Check(name="status", outcome=meaning.outcome, reason=meaning.reason, detail=_status_detail(certificate)))
        if self.log is not None:
            checks.append(self.log.check(number, certificate))
        return certificate

    def _report(self, subject: str, checks: list[Check], claims: SealClaims | None,
                certificate: StatusInfo | None, source: str | None, barcodes: tuple[str, ...],
                now: datetime) -> VerificationReport:
        verdict, summary = decide(tuple(checks), certificate)
        return VerificationReport(subject, verdict, tuple(checks), summary, source, barcodes, claims, certificate, now)


def scan_pages(data: bytes) -> "list[ScanResult | ImageError]":
    """Each rendered page's scan, or why it could not be read (runs in the web's child process:
    poppler's pages and the decoders are the hostile part of a print sheet)."""
    from .pdf_pages import page_images
    from .scan import ImageError, scan

    results: "list[ScanResult | ImageError]" = []
    for page in page_images(data):
        try:
            results.append(scan(page))
        except ImageError as exc:
            results.append(exc)
    return results


def _stopped(name: str, exc: Exception) -> Check:
    """The check of a file whose isolated process was stopped (too slow) or died."""
    if isinstance(exc, CheckTimedOut):
        return Check.indeterminate(name, Reason.CHECK_TIMED_OUT,
                                   f"checking the file took longer than {exc.seconds:g} s; it was stopped: not evaluated")
    return Check.indeterminate(name, Reason.CHECK_CRASHED, "the check failed on this file: not evaluated", technical(exc))


def _seal_key(text: str) -> str:
    """The good-seal cache's key: one for every spelling of a seal that opens the same way
    (`open_seal` strips white space, and a bare ASCII code is read upper-cased), so spellings
    of one good seal, which anyone can make, do not each take an entry of up to 4 KB."""
    stripped = text.strip()
    return stripped.upper() if "://" not in stripped and stripped.isascii() else stripped


def _number_in(seal: str) -> str | None:
    """The certificate number a seal names, its signature unchecked: only a key to ask the
    registry by (what the registry says is then bound to the file by its digest). The seal's
    signer may be revoked by now, which is exactly when the registry's time matters."""
    try:
        sign1 = cbor2.loads(parse_seal_text(seal))
        payload = (sign1.value if isinstance(sign1, cbor2.CBORTag) else sign1)[2]
        if not isinstance(payload, bytes) or len(payload) > MAX_COSE:
            return None
        return SealClaims.from_cwt(cbor2.loads(payload)).number
    except Exception:  # hostile bytes: no number, hence no registry time
        return None


def _signed_at(seal: str | None) -> datetime | None:
    """The signing time in a seal the registry recorded (a reprinted card's, written with the
    card's digest by the reprint, both under the log), its signature unchecked; None if unreadable."""
    if seal is None:
        return None
    try:
        sign1 = cbor2.loads(parse_seal_text(seal))
        payload = (sign1.value if isinstance(sign1, cbor2.CBORTag) else sign1)[2]
        if not isinstance(payload, bytes) or len(payload) > MAX_COSE:
            return None
        return SealClaims.from_cwt(cbor2.loads(payload)).signed_at
    except Exception:  # an edited row: no registry time (certgen log --verify names the row)
        return None


def _status_detail(cert: StatusInfo) -> str:
    when = f" since {cert.status_changed_at:%Y-%m-%d}" if cert.status_changed_at else ""
    reason = f": {cert.status_reason}" if cert.status_reason else ""
    if cert.status is EffectiveStatus.VALID:
        return (f"{cert.number} is valid" + (f" until {cert.expires:%Y-%m-%d}" if cert.expires else "")
                + (f"; it replaces {cert.replaces}" if cert.replaces else ""))
    if cert.status is EffectiveStatus.EXPIRED:
        return f"{cert.number} expired on {cert.expires:%Y-%m-%d}"
    if cert.status is EffectiveStatus.REDEEMED:
        return f"{cert.number} is genuine; its credit was used{when}{reason}"
    if cert.status is EffectiveStatus.REPLACED:
        return f"{cert.number} was replaced by {cert.replaced_by}{when}{reason}"
    if cert.status is EffectiveStatus.PENDING:
        return f"{cert.number} was never issued"
    return f"{cert.number} is {cert.status.value}{when}{reason}"


def _card_check(claims: SealClaims, cert: StatusInfo, seal_text: str | None) -> Check:
    """A card's edition against the registry's current one (docs/verification.md, "Cards")."""
    edition, current = claims.edition, cert.card_edition or 1
    assert edition is not None
    if cert.card_edition is None:  # its card was printed before editions: no card seal was ever recorded
        return Check.failed("card_edition", Reason.CARD_EDITION_UNKNOWN,
                            f"this card seal claims edition {edition} of {cert.number}, but the registry recorded no "
                            "card with a seal of its own for it")
    if edition < current:
        return _superseded(cert.number, edition, current)
    if edition > current:
        return Check.failed("card_edition", Reason.CARD_EDITION_UNKNOWN,
                            f"this card claims edition {edition} of {cert.number}, but the registry's current card "
                            f"is edition {current}: no such card was recorded")
    if cert.card_seal and seal_text and not _same_seal(cert.card_seal, seal_text):
        return Check.failed("card_edition", Reason.SEAL_MISMATCH,
                            f"this seal is not the one recorded for edition {edition} of the card of {cert.number}")
    return Check.passed("card_edition", Reason.CARD_CURRENT, f"this card is edition {edition}, the current one")


def _superseded(number: str, edition: int, current: int) -> Check:
    """The one wording of a superseded card, whatever carried it (card seal, PDF, print file)."""
    return Check.failed("card_edition", Reason.CARD_SUPERSEDED,
                        f"this card of {number} is edition {edition}; it was replaced by a newer card "
                        f"(edition {current}): this card is no longer valid")


def _legacy_card_check(cert: StatusInfo, printed_card: bool | None) -> Check | None:
    """A person certificate's own seal (no edition claim). Cards printed before card editions
    carried it; the certificate (A4) carries it too, and a bare seal cannot say which it is on.

    * read from a card print file (`printed_card`): it is that old card, edition 1: current
      while the registry recorded no card seal (never reprinted), superseded once it did;
    * anywhere else (a typed or scanned seal, the certificate's PDF): the certificate's, judged
      by its status; once the card was reprinted a passed check says that a card showing this
      code is superseded (docs/lifecycle.md, "Cards printed before editions": the limit)."""
    current = cert.card_edition
    if printed_card is False:
        return None
    if printed_card:
        if current is None:
            return Check.passed("card_edition", Reason.CARD_CURRENT,
                                "this card was printed before card editions (edition 1) and was never reprinted: "
                                "it is the current one")
        if current >= 2:
            return _superseded(cert.number, 1, current)
        return Check.failed("card_edition", Reason.SEAL_MISMATCH,
                            f"this card shows the certificate's own seal, but the card the registry recorded for "
                            f"{cert.number} (edition 1) has a seal of its own")
    if current is not None and current >= 2:
        return Check.passed("card_edition", Reason.CARD_SEAL_ELSEWHERE,
                            f"this is the certificate's own seal; the card of {cert.number} is at edition {current}, "
                            "with a seal of its own: a card showing this code was replaced by a newer card "
                            "and is no longer valid")
    return None


def _same_seal(recorded: str, text: str) -> bool:
    if recorded == text or recorded.endswith("/v/" + text):
        return True
    try:
        return parse_seal_text(recorded) == parse_seal_text(text)
    except SealFormatError:
        return False


def _compare(claims: SealClaims, cert: StatusInfo, seal_text: str | None) -> str | None:
    """Why the seal does not match the registry's record, or None. A card's seal is its own
    (compared with the card's record by `_card_check`); its fields must be the certificate's."""
    if claims.edition is not None and cert.kind.value != "person":
        return f"the seal is a card's, but {cert.number} is not a person certificate"
    if claims.edition is None and cert.seal and seal_text and cert.seal != seal_text and not cert.seal.endswith("/v/" + seal_text):
        try:
            if parse_seal_text(cert.seal) != parse_seal_text(seal_text):
                return f"this seal is not the one issued for {cert.number}"
        except SealFormatError:
            return f"the registry's seal for {cert.number} is unreadable"
    for name, seal_value, registry_value in (("holder", claims.holder, cert.holder), ("scheme", claims.scheme, cert.scheme),
                                             ("kind", claims.kind.value, cert.kind.value), ("grant date", claims.granted, cert.granted),
                                             ("expiry date", claims.expires, cert.expires)):
        if seal_value != registry_value:
            return f"the seal's {name} ({seal_value}) differs from the registry's ({registry_value})"
    return None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = ["Verifier", "sha256"]
