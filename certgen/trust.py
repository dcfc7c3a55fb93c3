"""Document signer certificates (DSCs) and the trust list that a verifier needs.

A trust list is the set of DSCs, each with its key id, validity and, for a compromised key,
the revocation time. It is published signed by the root (format in docs/keys.md), and a
verifier checks it with nothing but the root certificate. Seals and checkpoints name their
signer by key id and are judged here: known? valid at signing time? revoked before it?
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Iterable, Mapping

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .crypto import Alg, PrivateKey, alg_for_key, key_id, sign_bytes, verify_bytes
from .errors import TrustListError
from .note import LogKey

TRUSTLIST_FORMAT = "certgen-trustlist/1"
#: Largest trust list file accepted: thousands of DSCs fit in far less (about 1.5 KB each).
MAX_TRUSTLIST_BYTES = 4 * 1024 * 1024
#: Deepest JSON nesting accepted: a trust list nests four levels; Python's parser recurses.
MAX_TRUSTLIST_DEPTH = 32


class SignerProblem(str, enum.Enum):
    """Why a signer may not be trusted for a signature made at a given time."""

    UNKNOWN_KID = "unknown_kid"
    KEY_REVOKED = "key_revoked"
    KEY_NOT_YET_VALID = "key_not_yet_valid"
    KEY_EXPIRED = "key_expired"


@dataclass(frozen=True)
class TrustedSigner:
    """One DSC in the trust list."""

    certificate: x509.Certificate
    #: Signatures made at or after this time are invalid (key compromise); None if not revoked.
    revoked_at: datetime | None = None
    revocation_reason: str | None = None

    @property
    def kid(self) -> bytes:
        return key_id(self.certificate)

    @property
    def not_before(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    def problem_at(self, signing_time: datetime) -> SignerProblem | None:
        """What, if anything, forbids trusting a signature this signer made at `signing_time`."""
        if self.revoked_at is not None and signing_time >= self.revoked_at:
            return SignerProblem.KEY_REVOKED
        if signing_time < self.not_before:
            return SignerProblem.KEY_NOT_YET_VALID
        if signing_time > self.not_after:
            return SignerProblem.KEY_EXPIRED
        return None


@dataclass(frozen=True)
class TrustList:
    """DSCs by key id. Built from certificates (tests, conformance) or loaded from a signed file."""

    signers: Mapping[bytes, TrustedSigner] = field(default_factory=dict)
    issued_at: datetime | None = None
    #: Keys that sign the registry's checkpoints (signed tree heads); none in older trust lists.
    log_keys: tuple[LogKey, ...] = ()

    @classmethod
    def from_certificates(cls, certificates: Iterable[x509.Certificate]) -> "TrustList":
        """A trust list of plain certificates, none revoked."""
        return cls.from_signers(TrustedSigner(c) for c in certificates)

    @classmethod
    def from_signers(cls, signers: Iterable[TrustedSigner], issued_at: datetime | None = None,
                     log_keys: Iterable[LogKey] = ()) -> "TrustList":
        return cls({s.kid: s for s in signers}, issued_at, tuple(log_keys))

    def get(self, kid: bytes) -> TrustedSigner | None:
        return self.signers.get(kid)

    def revoke(self, kid: bytes, at: datetime, reason: str) -> "TrustList":
        """A copy in which signer `kid` is revoked from `at` on."""
        signer = self.signers.get(kid)
        if signer is None:
            raise TrustListError(f"no signer with key id {kid.hex()} in the trust list")
        updated = dict(self.signers)
        updated[kid] = replace(signer, revoked_at=at, revocation_reason=reason)
        return TrustList(updated, self.issued_at, self.log_keys)

    # -- the signed file ------------------------------------------------------------------

    def to_signed_json(self, root_key: PrivateKey, root_cert: x509.Certificate, issued_at: datetime) -> bytes:
        """The published form: a JSON envelope around a root-signed JSON payload (docs/keys.md)."""
        payload = {
            "issuer": root_cert.subject.rfc4514_string(),
            "root_sha256": _sha256_hex(root_cert),
            "issued_at": _iso(issued_at),
            "signers": [
                {
                    "kid": s.kid.hex(),
                    "certificate": base64.b64encode(s.certificate.public_bytes(serialization.Encoding.DER)).decode(),
                    "subject": s.certificate.subject.rfc4514_string(),
                    "not_before": _iso(s.not_before),
                    "not_after": _iso(s.not_after),
                    "revoked_at": _iso(s.revoked_at) if s.revoked_at else None,
                    "revocation_reason": s.revocation_reason,
                }
                for s in sorted(self.signers.values(), key=lambda s: s.not_before)
            ],
        }
        if self.log_keys:
            payload["log_keys"] = [{"name": k.name, "vkey": k.vkey} for k in self.log_keys]
        payload_bytes = json.dumps(payload, indent=1, ensure_ascii=False).encode("utf-8")
        alg, signature = sign_bytes(root_key, payload_bytes)
        envelope = {
            "format": TRUSTLIST_FORMAT,
            "alg": alg.jose_name,
            "payload": _b64url(payload_bytes),
            "signature": _b64url(signature),
        }
        return (json.dumps(envelope, indent=1) + "\n").encode("ascii")

    @classmethod
    def load_signed(cls, data: bytes, root_cert: x509.Certificate) -> "TrustList":
        """Load a published trust list, checking everything against `root_cert` alone.

        Raises `TrustListError` naming the first problem: not JSON, wrong format, bad root
        signature, another root, a DSC not issued by the root, or fields that disagree with
        the certificate they describe.
        """
        if len(data) > MAX_TRUSTLIST_BYTES:
            raise TrustListError(f"trust list is {len(data)} bytes; at most {MAX_TRUSTLIST_BYTES // 2**20} MiB are accepted")
        envelope = _json_object(data, "trust list")
        if envelope.get("format") != TRUSTLIST_FORMAT:
            raise TrustListError(f"trust list format {envelope.get('format')!r} is not {TRUSTLIST_FORMAT!r}")
        try:
            alg = Alg.from_jose_name(str(envelope.get("alg")))
            payload_bytes = _unb64url(envelope["payload"])
            signature = _unb64url(envelope["signature"])
        except (KeyError, ValueError, TypeError) as exc:
            raise TrustListError(f"trust list envelope is malformed: {exc}") from None
        if alg is not alg_for_key(root_cert.public_key()):  # type: ignore[arg-type]
            raise TrustListError(f"trust list is signed with {alg.jose_name}, which the root key does not use")
        if not verify_bytes(root_cert.public_key(), alg, payload_bytes, signature):  # type: ignore[arg-type]
            raise TrustListError("trust list signature does not verify with the root certificate: it was altered or signed by another root")
        payload = _json_object(payload_bytes, "trust list payload")
        try:
            if payload["root_sha256"] != _sha256_hex(root_cert):
                raise TrustListError("trust list names another root certificate")
            issued_at = _parse_iso(payload["issued_at"])
            signers = [_load_signer(entry, root_cert) for entry in payload["signers"]]
            log_keys = [_load_log_key(entry) for entry in payload.get("log_keys", [])]
        except TrustListError:
            raise
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise TrustListError(f"trust list payload is malformed: {exc!r}") from None
        return cls.from_signers(signers, issued_at, log_keys)


def _json_object(data: bytes, what: str) -> dict:
    """A JSON object, refusing nesting deeper than MAX_TRUSTLIST_DEPTH before parsing (the
    parser recurses: 100,000 brackets would end in RecursionError)."""
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_TRUSTLIST_DEPTH:
                raise TrustListError(f"{what} is nested more than {MAX_TRUSTLIST_DEPTH} levels deep: not a trust list")
        elif byte in (0x5D, 0x7D):
            depth -= 1
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise TrustListError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise TrustListError(f"{what} is not valid JSON: not a JSON object")
    return value


def _load_signer(entry: dict, root_cert: x509.Certificate) -> TrustedSigner:
    cert = x509.load_der_x509_certificate(base64.b64decode(entry["certificate"], validate=True))
    kid = key_id(cert)
    if entry["kid"] != kid.hex():
        raise TrustListError(f"trust list entry {entry['kid']}: key id does not match its certificate ({kid.hex()})")
    try:
        cert.verify_directly_issued_by(root_cert)
    except Exception:
        raise TrustListError(f"trust list entry {kid.hex()}: certificate is not issued by the root") from None
    revoked_at = _parse_iso(entry["revoked_at"]) if entry.get("revoked_at") else None
    return TrustedSigner(cert, revoked_at, entry.get("revocation_reason"))


def _load_log_key(entry: dict) -> LogKey:
    key = LogKey.from_vkey(entry["vkey"])
    if entry["name"] != key.name:
        raise TrustListError(f"trust list log key {entry['name']!r}: its verifier key names {key.name!r}")
    return key


def _sha256_hex(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no time zone")
    return moment


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError("expected a base64url string")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
