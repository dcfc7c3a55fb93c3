"""The seal: certificate claims <-> COSE_Sign1 <-> barcode text. No drawing, no PDF.

Normative spec: docs/seal.md. In short:

* claims are a CWT (RFC 8392) map: `1` issuer id, `6` signing time, and under the private
  claim key `-65537` the document body `{0: version, 1: number, 2: kind, 3: holder,
  4: scheme, 5: granted, 6: expires, 7: subject, 8: card edition}` (dates as days since 1970-01-01);
* the CWT is the payload of a COSE_Sign1 (RFC 9052), tag 18, protected header `{1: alg, 4: kid}`
  with `kid` = first 8 bytes of SHA-256 of the signer certificate (DER);
* the barcode text is the lower-case verification address followed by the base32 (RFC 4648,
  upper case, no padding) of the COSE bytes: `https://HOST/v/HRAU...`.

API: `SealClaims`, `sign_seal()`, `seal_text()`, `parse_seal_text()`, `verify_sign1()` and
`open_seal()`. Verification never raises for a bad or forged seal: it returns a result with
`ok`, `claims` and a `reason` code.
"""

from __future__ import annotations

import enum
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Mapping

import cbor2

from . import base32
from .crypto import Alg, DocumentSigner, verify_bytes
from .errors import SealFormatError
from .model import DocumentKind
from .trust import TrustList

SEAL_VERSION = 1
#: Private-use CWT claim key (RFC 8392 section 9.1: below -65536) holding the document body.
BODY_CLAIM = -65537
CWT_ISS, CWT_IAT = 1, 6
COSE_SIGN1_TAG, CWT_TAG = 18, 61
HDR_ALG, HDR_KID = 1, 4
#: Longest barcode text and COSE accepted: far above any real seal, far below anything costly.
MAX_TEXT = 4096
MAX_COSE = 2048
#: Seals dated further than this in the future are refused (clock skew allowance).
CLOCK_SKEW = timedelta(minutes=5)
#: PDF catalog key holding the seal text inside the signed revision of an issued certificate:
#: a verifier reads a PDF's seal without rasterising its QR code (docs/verification.md).
#: Written by certgen.sign, read by verify.pdf: one definition for both.
SEAL_KEY = "/CertgenSeal"
#: Keyword in a card print sheet's document information (an unsigned print file carrying up to
#: ten card seals): `certverify pdf` checks every seal on a sheet instead of a PDF signature.
#: Written by certgen.render.card, read by verify.cli: one definition for both.
SHEET_KEYWORD = "certgen-print-sheet"
#: Body claim key of a card seal's edition (docs/seal.md): present only on card seals.
CARD_EDITION = 8
MAX_EDITION = 999

_KIND_CODES = {DocumentKind.PRODUCT: 1, DocumentKind.PERSON: 2, DocumentKind.TRAINING: 3, DocumentKind.LETTER: 4}
_KINDS_BY_CODE = {v: k for k, v in _KIND_CODES.items()}
_EPOCH = date(1970, 1, 1)
_BASE32 = re.compile(r"^[A-Z2-7]+$")
_B32_VALUE = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}


class SealReason(str, enum.Enum):
    """Why a seal did not verify (or `OK`). Stable codes: they appear in reports."""

    OK = "ok"
    MALFORMED = "malformed"  # not a COSE_Sign1, or not a CWT payload
    UNSUPPORTED_ALG = "unsupported_alg"
    NO_KID = "no_kid"
    UNKNOWN_KID = "unknown_kid"
    BAD_SIGNATURE = "bad_signature"
    KEY_REVOKED = "key_revoked"
    KEY_NOT_YET_VALID = "key_not_yet_valid"
    KEY_EXPIRED = "key_expired"
    SIGNED_IN_FUTURE = "signed_in_future"
    BAD_CLAIMS = "bad_claims"  # signature fine, but the body is not a certgen seal body
    #: The barcode's address is not one of the official verification addresses in the signed
    #: trust list: whatever its signature, the paper was not printed by the body.
    HOST_NOT_OFFICIAL = "host_not_official"


@dataclass(frozen=True)
class SealClaims:
    """What a seal asserts: the essentials printed on the paper, nothing more."""

    number: str
    kind: DocumentKind
    #: Holder as printed: person or participant name, or the client company of a product certificate.
    holder: str
    #: Scheme code (person), standard (product, e.g. an SNI number) or course code (training).
    scheme: str
    granted: date
    #: None for documents without expiry (training certificates).
    expires: date | None
    issuer: str
    #: When the seal was signed; decides whether a revoked key's signature still counts.
    signed_at: datetime
    #: Optional short subject: product and type, or course title.
    subject: str | None = None
    version: int = SEAL_VERSION
    #: Card seals only: the edition of the certified-person card (1 for the card issued with the
    #: certificate, 2 and on for reprints). None on a certificate's own seal, and on cards printed
    #: before editions existed (they carried their certificate's seal: read as edition 1).
    edition: int | None = None

    def to_cwt(self) -> dict[int, Any]:
        body: dict[int, Any] = {0: self.version, 1: self.number, 2: _KIND_CODES[self.kind], 3: self.holder,
                                4: self.scheme, 5: (self.granted - _EPOCH).days}
        if self.expires is not None:
            body[6] = (self.expires - _EPOCH).days
        if self.subject:
            body[7] = self.subject
        if self.edition is not None:
            body[CARD_EDITION] = self.edition
        return {CWT_ISS: self.issuer, CWT_IAT: int(self.signed_at.timestamp()), BODY_CLAIM: body}

    @classmethod
    def from_cwt(cls, cwt: Mapping[Any, Any]) -> "SealClaims":
        """Read a CWT map; raises `SealFormatError` naming the claim at fault."""
        body = cwt.get(BODY_CLAIM)
        if not isinstance(body, Mapping):
            raise SealFormatError("claims: no certgen document body (claim -65537)")
        version = body.get(0)
        if version != SEAL_VERSION:
            raise SealFormatError(f"claims: unsupported seal version {version!r}")
        kind = _KINDS_BY_CODE.get(body.get(2))  # type: ignore[arg-type]
        if kind is None:
            raise SealFormatError(f"claims: unknown document kind {body.get(2)!r}")
        edition = body.get(CARD_EDITION)
        if CARD_EDITION in body and (not isinstance(edition, int) or isinstance(edition, bool)
                                     or not 1 <= edition <= MAX_EDITION):
            raise SealFormatError(f"claims: card edition {edition!r} is not a number from 1 to {MAX_EDITION}")
        if edition is not None and kind is not DocumentKind.PERSON:
            raise SealFormatError(f"claims: a card edition on a {kind.value} seal (only person certificates have cards)")
        iat = cwt.get(CWT_IAT)
        if not isinstance(iat, int) or isinstance(iat, bool) or not 0 <= iat < 2**40:
            raise SealFormatError("claims: signing time (iat) is missing or not a timestamp")
        return cls(
            number=_text(body, 1, "number"), kind=kind, holder=_text(body, 3, "holder"),
            scheme=_text(body, 4, "scheme"), granted=_day(body.get(5), "granted"),
            expires=_day(body[6], "expires") if 6 in body else None,
            issuer=_text(cwt, CWT_ISS, "issuer"),
            signed_at=datetime.fromtimestamp(iat, timezone.utc),
            subject=_text(body, 7, "subject") if 7 in body else None, version=version, edition=edition,
        )


@dataclass(frozen=True)
class Sign1Result:
    """Outcome of `verify_sign1`: `claims` is the raw CWT map when the signature is good."""

    ok: bool
    reason: SealReason
    detail: str
    claims: Mapping[Any, Any] | None = None
    kid: bytes | None = None
    alg: Alg | None = None


@dataclass(frozen=True)
class SealResult:
    """Outcome of `open_seal`: the signature check plus the decoded certgen claims."""

    ok: bool
    reason: SealReason
    detail: str
    claims: SealClaims | None = None
    kid: bytes | None = None


# -- issuing -------------------------------------------------------------------------------

def sign_seal(claims: SealClaims, signer: DocumentSigner) -> bytes:
    """COSE_Sign1 bytes of `claims`, signed by `signer`."""
    payload = cbor2.dumps(claims.to_cwt())
    protected = _protected_header(signer.alg, signer.kid)
    signature = signer.sign(_sig_structure(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


@lru_cache(maxsize=16)
def _protected_header(alg: Alg, kid: bytes) -> bytes:
    """The same few bytes for every seal of one signer."""
    return cbor2.dumps({HDR_ALG: alg.value, HDR_KID: kid})


def is_print_sheet(pdf: bytes) -> bool:
    """Whether a PDF is a card print sheet: unsigned (no /ByteRange anywhere) and marked with
    `SHEET_KEYWORD`. A signed PDF is always checked as a signed document."""
    return b"/ByteRange" not in pdf and b"(" + SHEET_KEYWORD.encode() + b")" in pdf


def seal_text(cose: bytes, verify_url: str) -> str:
    """Barcode text: the verification address followed by the base32 of the seal."""
    return verify_url + base32.encode(cose)


def parse_seal_text(text: str) -> bytes:
    """COSE bytes from barcode text; raises `SealFormatError` saying what is wrong.

    Accepts any `http(s)://HOST/.../v/` address (a verifier should not trust the host in the
    barcode, only the signature) and the bare base32 without an address.
    """
    if not isinstance(text, str):
        raise SealFormatError("seal text must be a string")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise SealFormatError(f"seal text is {len(text)} characters long; at most {MAX_TEXT} are accepted")
    if not text:
        raise SealFormatError("seal text is empty")
    encoded = text
    if "://" in text:
        address = seal_address(text)
        assert address is not None
        encoded = text[len(address):]
    encoded = encoded.upper()
    if not encoded:
        raise SealFormatError("seal address has nothing after /v/")
    if not _BASE32.match(encoded):
        bad = next(c for c in encoded if c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        raise SealFormatError(f"seal code contains {bad!r}, which is not a base32 character")
    if len(encoded) % 8 in (1, 3, 6):
        raise SealFormatError(f"seal code has an impossible base32 length {len(encoded)} (truncated?)")
    try:
        cose = base32.decode(encoded)
    except ValueError as exc:  # not reached after the checks above; kept as the boundary
        raise SealFormatError(f"seal code is not valid base32: {exc}") from None
    unused = len(encoded) * 5 - len(cose) * 8
    if unused and _B32_VALUE[encoded[-1]] & ((1 << unused) - 1):
        # unused low bits set in the last character: one seal, one text
        raise SealFormatError("seal code is not in canonical base32 (last character altered?)")
    return cose


def seal_address(text: str) -> str | None:
    """The address part of barcode text, up to and including the last `/v/` (in either case),
    or None for bare base32. Raises `SealFormatError` for an address that cannot be a seal's."""
    text = text.strip()
    if "://" not in text:
        return None
    scheme, _, rest = text.partition("://")
    if scheme.lower() not in ("https", "http"):
        raise SealFormatError(f"seal address scheme {scheme!r} is not https")
    marker = rest.lower().rfind("/v/")
    if marker < 0:
        raise SealFormatError("seal address has no /v/ part: not a certificate seal")
    return text[:len(scheme) + 3 + marker + 3]


def is_official_address(address: str, official: tuple[str, ...]) -> bool:
    """Whether a seal's address is one of the official verification addresses.

    Compared whole (scheme, host with any port or user part, path) but case-insensitively:
    scheme and host are case-insensitive by RFC 3986, and an all-upper-case `HTTPS://HOST/V/`
    (a smaller QR code) is still the body's address. The path must match exactly otherwise, so
    `https://evil.example/https://official/v/` or `https://official@evil.example/v/` are refused."""
    folded = address.casefold()
    return any(folded == url.casefold() for url in official)


# -- verifying -----------------------------------------------------------------------------

def verify_sign1(cose_bytes: bytes, trust: TrustList, now: datetime | None = None) -> Sign1Result:
    """Check a COSE_Sign1 against the trust list at time `now` (default: the current time).

    The key id is taken from the protected header, or the unprotected one when the protected
    header has none; the algorithm likewise. The signer must be in `trust`, not revoked at the
    signing time (CWT `iat`, or `now` without one), and valid then. Never raises for bad input.
    """
    now = now or datetime.now(timezone.utc)
    try:
        protected_bytes, protected, unprotected, payload, signature = _decode_sign1(cose_bytes)
    except SealFormatError as exc:
        return Sign1Result(False, SealReason.MALFORMED, str(exc))
    kid = protected.get(HDR_KID) if HDR_KID in protected else unprotected.get(HDR_KID)
    alg_id = protected.get(HDR_ALG) if HDR_ALG in protected else unprotected.get(HDR_ALG)
    try:
        alg = Alg(alg_id)
    except ValueError:
        return Sign1Result(False, SealReason.UNSUPPORTED_ALG, f"algorithm {alg_id!r} is not ES256, ES384, ES512, PS256 or EdDSA")
    if not isinstance(kid, bytes) or not kid:
        return Sign1Result(False, SealReason.NO_KID, "no key id in the header", alg=alg)
    signer = trust.get(kid)
    if signer is None:
        return Sign1Result(False, SealReason.UNKNOWN_KID, f"key id {kid.hex()} is not in the trust list", kid=kid, alg=alg)
    if not verify_bytes(signer.certificate.public_key(), alg, _sig_structure(protected_bytes, payload), signature):  # type: ignore[arg-type]
        return Sign1Result(False, SealReason.BAD_SIGNATURE, "the signature does not match the content", kid=kid, alg=alg)
    try:
        claims = _loads(payload, "payload")
    except SealFormatError as exc:
        return Sign1Result(False, SealReason.MALFORMED, str(exc), kid=kid, alg=alg)
    if not isinstance(claims, Mapping):
        return Sign1Result(False, SealReason.MALFORMED, "payload is not a CWT claims map", kid=kid, alg=alg)
    iat = claims.get(CWT_IAT)
    signed_at = now
    if isinstance(iat, (int, float)) and not isinstance(iat, bool) and 0 <= iat < 2**40:
        signed_at = datetime.fromtimestamp(iat, timezone.utc)
        if signed_at > now + CLOCK_SKEW:
            return Sign1Result(False, SealReason.SIGNED_IN_FUTURE, f"signed at {signed_at:%Y-%m-%d %H:%M}Z, which is in the future", kid=kid, alg=alg)
    problem = signer.problem_at(signed_at)
    if problem is not None:
        detail = {
            "key_revoked": f"signer {kid.hex()} was revoked at {signer.revoked_at} ({signer.revocation_reason}); this seal was signed at {signed_at}",
            "key_not_yet_valid": f"signer {kid.hex()} was not yet valid at {signed_at}",
            "key_expired": f"signer {kid.hex()} had expired at {signed_at}",
        }[problem.value]
        return Sign1Result(False, SealReason(problem.value), detail, kid=kid, alg=alg)
    return Sign1Result(True, SealReason.OK, f"signed by {kid.hex()} ({alg.jose_name})", claims, kid, alg)


def open_seal(text: str, trust: TrustList, now: datetime | None = None) -> SealResult:
    """Barcode text to checked claims: parse, check the address against the trust list's
    official ones (when it names any), verify the signature, read the certgen body."""
    try:
        cose = parse_seal_text(text)
        address = seal_address(text)
    except SealFormatError as exc:
        return SealResult(False, SealReason.MALFORMED, str(exc))
    if address is not None and trust.verify_urls and not is_official_address(address, trust.verify_urls):
        return SealResult(False, SealReason.HOST_NOT_OFFICIAL,
                          f"the address {address[:200]!r} is not an official verification address "
                          f"({', '.join(trust.verify_urls)}): this paper was not printed by the certification body")
    result = verify_sign1(cose, trust, now)
    if not result.ok:
        return SealResult(False, result.reason, result.detail, kid=result.kid)
    assert result.claims is not None
    try:
        claims = SealClaims.from_cwt(result.claims)
    except SealFormatError as exc:
        return SealResult(False, SealReason.BAD_CLAIMS, str(exc), kid=result.kid)
    return SealResult(True, SealReason.OK, result.detail, claims, result.kid)


# -- internals -----------------------------------------------------------------------------

def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _loads(data: bytes, what: str) -> Any:
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except RecursionError:
        raise SealFormatError(f"{what}: CBOR nested too deeply") from None
    except Exception as exc:  # cbor2 raises a variety of types on hostile input
        raise SealFormatError(f"{what}: not valid CBOR ({type(exc).__name__}: {exc})") from None
    if stream.tell() != len(data):
        raise SealFormatError(f"{what}: {len(data) - stream.tell()} bytes of trailing data after the CBOR item")
    return value


def _decode_sign1(data: bytes) -> tuple[bytes, Mapping[Any, Any], Mapping[Any, Any], bytes, bytes]:
    if not isinstance(data, (bytes, bytearray)):
        raise SealFormatError("seal must be bytes")
    if len(data) > MAX_COSE:
        raise SealFormatError(f"seal is {len(data)} bytes; at most {MAX_COSE} are accepted")
    obj = _loads(bytes(data), "seal")
    if isinstance(obj, cbor2.CBORTag) and obj.tag == CWT_TAG:
        obj = obj.value
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != COSE_SIGN1_TAG:
            raise SealFormatError(f"seal: CBOR tag {obj.tag} is not COSE_Sign1 (18)")
        obj = obj.value
    if not isinstance(obj, (list, tuple)) or len(obj) != 4:
        raise SealFormatError("seal: not a COSE_Sign1 structure (an array of four)")
    protected_bytes, unprotected, payload, signature = obj
    if not isinstance(protected_bytes, bytes) or not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise SealFormatError("seal: COSE_Sign1 fields have the wrong types")
    if not isinstance(unprotected, Mapping):
        raise SealFormatError("seal: unprotected header is not a map")
    protected = _loads(protected_bytes, "protected header") if protected_bytes else {}
    if not isinstance(protected, Mapping):
        raise SealFormatError("seal: protected header is not a map")
    return protected_bytes, protected, unprotected, payload, signature


def _text(mapping: Mapping[Any, Any], key: int, name: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise SealFormatError(f"claims: {name} is missing or not text")
    return value


def _day(value: Any, name: str) -> date:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2_932_896:
        raise SealFormatError(f"claims: {name} is not a day number")
    return _EPOCH + timedelta(days=value)
