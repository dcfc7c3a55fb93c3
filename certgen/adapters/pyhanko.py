"""Every reach into pyHanko beyond its documented signing API (one module).

pyHanko builds a PAdES CMS container with asn1crypto in about 10 ms; the certgen issuing
pipeline needs one per document. `CmsTemplate` asks pyHanko's stock `Signer.async_sign` (by
keyword, its public API) for one container per process and keeps its DER pieces; each
document then only swaps in its digest and a new signature value: 0.1 ms. That relies on the
shape of what this pyHanko version writes (one SignerInfo, the message digest as a 32-byte
OCTET STRING inside the signed attributes, no unsigned attributes), so it is used only with a
version in `TESTED_VERSIONS` and checked when built (`TemplateError`), and tests compare a
template container with pyHanko's own for the same digest (tests/test_adapters.py).

With another pyHanko version (or `CERTGEN_ADAPTERS=off`) no template is built, and `install()`
warns once: every document is then signed by pyHanko's `PdfSigner` in an incremental update
(about 3 ms more a document, same verdicts).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from asn1crypto import cms
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyhanko.sign import signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

from ..crypto import ExternalKey
from . import ACTIVE, TESTED, override, untested_versions, usable, warn_once

#: The versions this module was tested with; any other gets pyHanko's stock signing path.
TESTED_VERSIONS = TESTED["pyhanko"]


def _deterministic_ecdsa() -> ec.ECDSA:
    """ECDSA with RFC 6979 nonces where cryptography offers them (43 and later): the same
    document then gets the same signature, so a lost or damaged file can be issued again
    byte for byte from its registry record (docs/issuing.md, "Repair")."""
    try:
        return ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    except TypeError:  # cryptography < 43: random nonces; a repair then names the file instead
        return ec.ECDSA(hashes.SHA256())


_ECDSA_SHA256 = _deterministic_ecdsa()
#: True when PAdES B-B signatures of this process are reproducible (see `_deterministic_ecdsa`).
DETERMINISTIC_ECDSA = bool(getattr(_ECDSA_SHA256, "deterministic_signing", False))


class TemplateError(RuntimeError):
    """pyHanko's container does not have the shape a template needs."""


def install(tested: dict[str, frozenset[str]] | None = None) -> bool:
    """Allow template containers if this pyHanko was tested (idempotent); else warn once and
    sign through pyHanko's stock path. Returns whether the fast path is active."""
    if tested is not None:
        override("pyhanko", tested)
    if ACTIVE.pyhanko:
        return True
    versions = untested_versions("pyhanko")
    if versions:
        warn_once("pyhanko", f"certgen: {', '.join(versions)} is not a version certgen's pyHanko adapter was tested "
                             f"with: signing every PDF with pyHanko's PdfSigner (slower). See docs/adapters.md.")
        return False
    ACTIVE.pyhanko = True
    return True


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


class CmsTemplate:
    """pyHanko's PAdES B-B container (SHA-256) for one signer, re-signed per document digest.

    The signed attributes are pyHanko's PAdES set (content-type, message-digest,
    signing-certificate-v2, CMS algorithm protection); PAdES puts no signing time in them, so
    one template serves every document of the process. Built in the batch process so forked
    workers inherit it and a key problem shows before anything is issued."""

    def __init__(self, signer: signers.Signer, private_key: Any) -> None:
        if not usable("pyhanko"):
            raise TemplateError("template containers need a tested pyHanko version (docs/adapters.md)")
        self._signer = signer
        self._key = private_key
        self._parts = asyncio.run(self._build())

    async def _build(self) -> tuple[bytes, bytes, bytes, bytes, int, bytes]:
        info = await self._signer.async_sign(
            b"\x00" * 32, "sha256", use_pades=True, is_pdf_sig=True,
            signed_attr_settings=PdfCMSSignedAttributes(signing_time=datetime.now(timezone.utc)))
        signed_data = info["content"]
        signer_info = signed_data["signer_infos"][0]
        if len(signed_data["signer_infos"]) != 1 or signer_info["unsigned_attrs"].native:
            raise TemplateError("unexpected CMS shape from pyHanko: template signing is not possible")
        attrs = signer_info["signed_attrs"].dump()
        marker = b"\x04\x20" + b"\x00" * 32
        if attrs.count(marker) != 1:
            raise TemplateError("pyHanko's signed attributes do not hold the digest once: template signing is not possible")
        return (
            info["content_type"].dump(),
            b"".join(signed_data[k].dump() for k in ("version", "digest_algorithms", "encap_content_info", "certificates")),
            b"".join(signer_info[k].dump() for k in ("version", "sid", "digest_algorithm")),
            attrs, attrs.index(marker) + 2, signer_info["signature_algorithm"].dump(),
        )

    def sign_digest(self, data_digest: bytes) -> bytes:
        """The DER CMS container (PAdES B-B) for a SHA-256 document digest."""
        if len(data_digest) != 32:
            raise ValueError("a SHA-256 digest has 32 bytes")
        content_type, sd_prefix, si_prefix, attrs, offset, sig_alg = self._parts
        attrs = attrs[:offset] + data_digest + attrs[offset + 32:]
        signature = self._raw_sign(b"\x31" + attrs[1:])  # signed over the SET OF form (RFC 5652 5.4)
        signer_info = _tlv(0x30, si_prefix + attrs + sig_alg + _tlv(0x04, signature))
        signed_data = _tlv(0x30, sd_prefix + _tlv(0x31, signer_info))
        return _tlv(0x30, content_type + _tlv(0xA0, signed_data))

    def stock(self, data_digest: bytes) -> cms.ContentInfo:
        """pyHanko's own container for the same digest (for the canary tests)."""
        return asyncio.run(self._signer.async_sign(
            data_digest, "sha256", use_pades=True, is_pdf_sig=True,
            signed_attr_settings=PdfCMSSignedAttributes(signing_time=datetime.now(timezone.utc))))

    def _raw_sign(self, data: bytes) -> bytes:
        key = self._key
        if isinstance(key, ExternalKey):  # a key in a token: ES256 r||s from it, DER in the CMS
            raw = key.sign(data)
            return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, _ECDSA_SHA256)
        if isinstance(key, rsa.RSAPrivateKey):
            mechanism = self._signer.get_signature_mechanism_for_digest("sha256")
            if mechanism["algorithm"].native == "rsassa_pss":
                return key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        raise TypeError(f"unsupported key type {type(key).__name__}")
