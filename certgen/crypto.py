"""Signature algorithms shared by the seal, the trust list and the registry checkpoints.

Signatures are in the JOSE/COSE raw form (ECDSA as r||s, not DER) so one format serves
COSE_Sign1 (RFC 9052), the trust list and checkpoints. Verification never raises for a bad
signature: it answers False.
"""

from __future__ import annotations

import abc
import enum
import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

PrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey]
PublicKey = Union[ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey]


class ExternalKey(abc.ABC):
    """A private key held outside this process (a PKCS#11 token, certgen.token): it signs on
    request and is never read. Implementations must be safe to use after `fork` (each process
    opens its own session) and P-256 only: ES256 is what a token signs here."""

    @abc.abstractmethod
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half, as read from the token when the key was found."""

    @abc.abstractmethod
    def sign(self, data: bytes) -> bytes:
        """ES256 of `data`: ECDSA P-256 over SHA-256(data), raw r||s (64 bytes)."""


#: Anything that signs: a key in memory (loaded from an encrypted file) or one in a token.
SigningKey = Union[PrivateKey, ExternalKey]


class Alg(enum.Enum):
    """Signature algorithms, valued by their COSE identifiers (IANA COSE Algorithms)."""

    ES256 = -7
    EDDSA = -8
    PS256 = -37
    #: ECDSA with SHA-384 / SHA-512 (RFC 9053): accepted on verification, never used to sign.
    ES384 = -35
    ES512 = -36

    @property
    def jose_name(self) -> str:
        """The JOSE name, used in JSON documents (trust list, checkpoints)."""
        return {Alg.ES256: "ES256", Alg.EDDSA: "EdDSA", Alg.PS256: "PS256", Alg.ES384: "ES384",
                Alg.ES512: "ES512"}[self]

    @classmethod
    def from_jose_name(cls, name: str) -> "Alg":
        for alg in cls:
            if alg.jose_name == name:
                return alg
        raise ValueError(f"unsupported signature algorithm {name!r}")


def key_id(certificate: x509.Certificate) -> bytes:
    """The key id of a signer: first 8 bytes of SHA-256 of its certificate (DER), as in the EU DCC."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()[:8]


def alg_for_key(key: SigningKey | PublicKey) -> Alg:
    """The algorithm a key signs with: ES256 for P-256, PS256 for RSA, EdDSA for Ed25519."""
    if isinstance(key, ExternalKey):
        key = key.public_key()
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"unsupported elliptic curve {key.curve.name}: only P-256 is used")
        return Alg.ES256
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return Alg.PS256
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return Alg.EDDSA
    raise ValueError(f"unsupported key type {type(key).__name__}")


#: The hash each ECDSA algorithm binds. RFC 9053 section 2.1 ties ES256/ES384/ES512 to a hash,
#: not to a curve: an ES256 signature by a P-384 or P-521 key is a valid COSE signature.
_ECDSA_HASHES: dict[Alg, type[hashes.HashAlgorithm]] = {Alg.ES256: hashes.SHA256, Alg.ES384: hashes.SHA384,
                                                         Alg.ES512: hashes.SHA512}
#: The NIST curves accepted for ECDSA verification.
_NIST_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)  # RFC 8230: salt = hash length


def sign_bytes(key: SigningKey, data: bytes) -> tuple[Alg, bytes]:
    """Sign `data`; returns the algorithm used and the raw signature."""
    alg = alg_for_key(key)
    if isinstance(key, ExternalKey):
        return alg, key.sign(data)
    if alg is Alg.ES256:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return alg, r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg is Alg.PS256:
        assert isinstance(key, rsa.RSAPrivateKey)
        return alg, key.sign(data, _PSS, hashes.SHA256())
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return alg, key.sign(data)


def verify_bytes(key: PublicKey, alg: Alg, data: bytes, signature: bytes) -> bool:
    """True when `signature` by `key` with `alg` covers `data`; False for anything else,
    including a key that does not fit the algorithm."""
    try:
        if alg in _ECDSA_HASHES:
            if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, _NIST_CURVES):
                return False
            size = (key.curve.key_size + 7) // 8  # r and s each take the curve's order length (RFC 9053 2.1)
            if len(signature) != 2 * size:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
            key.verify(der, data, ec.ECDSA(_ECDSA_HASHES[alg]()))
        elif alg is Alg.PS256:
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            key.verify(signature, data, _PSS, hashes.SHA256())
        elif alg is Alg.EDDSA:
            if not isinstance(key, ed25519.Ed25519PublicKey):
                return False
            key.verify(signature, data)
        else:  # pragma: no cover - Alg is closed
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True


@dataclass(frozen=True)
class DocumentSigner:
    """A loaded document signer: private key, certificate and the derived key id.

    Loaded once per process (decrypting a PKCS#8 file costs far more than a signature). The
    key is either in memory or in a token (`ExternalKey`): everything that signs (seals,
    PDFs, checkpoints) goes through this one object, and only `certgen.sign` tells the two
    apart (pyHanko needs its own PKCS#11 signer for a token)."""

    private_key: SigningKey
    certificate: x509.Certificate

    @cached_property
    def kid(self) -> bytes:
        """Worked out once: every seal names it (the certificate is immutable)."""
        return key_id(self.certificate)

    @cached_property
    def alg(self) -> Alg:
        return alg_for_key(self.private_key)

    @property
    def in_token(self) -> bool:
        """True when the private key lives in a hardware token (never in this process)."""
        return isinstance(self.private_key, ExternalKey)

    def sign(self, data: bytes) -> bytes:
        """Raw signature of `data` with this signer's algorithm."""
        return sign_bytes(self.private_key, data)[1]
