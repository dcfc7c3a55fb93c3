"""PAdES signing of issued PDFs: B-B by default, B-T with a timestamp authority.

The CMS container is pyHanko's, built from a template: pyHanko builds one container per
process with its own code (so the attributes are exactly pyHanko's PAdES set: content-type,
message-digest, signing-certificate-v2, CMS algorithm protection), and each document then only
swaps in its digest and a new signature. That is 0.1 ms instead of about 10 ms of asn1crypto
work per document (design brief, section 9).

The PDF side has two paths. B-B signs in place: the document is drawn with its signature
field and placeholders (`field`, see certgen/render/signature_field.py) and `complete` fills
them, 0.5 ms a document. B-T goes through pyHanko's `PdfSigner` unchanged (`sign`: field,
appearance, timestamp and byte range in an incremental update, about 3 ms plus the timestamp
authority's round trip). Both write the same field, signature dictionary and extensions.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from datetime import datetime, timezone
from typing import Any, Sequence

from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .crypto import DocumentSigner
from .render.signature_field import BYTE_RANGE_KEY, BYTE_RANGE_PLACEHOLDER, CONTENTS_KEY, SignatureField

FIELD_NAME = "Tanda-tangan-elektronik"
#: Catalog key holding the seal text, inside the signed revision: a verifier reads the seal of a
#: PDF without rasterising its QR code (docs/verification.md).
SEAL_KEY = "/CertgenSeal"
#: Room for the CMS container beyond the certificates it carries (signature, attributes,
#: structure), and for a timestamp token with its TSA certificates (B-T). Reserved up front,
#: so pyHanko needs no trial signature to measure the container.
CMS_OVERHEAD = 1536
TIMESTAMP_ALLOWANCE = 12288
STAMP_TEXT = "Ditandatangani secara elektronik oleh\nDigitally signed by\n%(signer)s\n%(ts)s"


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


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
DETERMINISTIC_ECDSA = getattr(_ECDSA_SHA256, "deterministic_signing", False)


class _TemplateCmsSigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner whose PAdES B-B containers come from a per-process template."""

    _template: tuple[bytes, bytes, bytes, bytes, int, bytes] | None = None
    private_key: Any = None

    async def async_sign(self, data_digest: bytes, digest_algorithm: str, dry_run: bool = False,
                         use_pades: bool = False, timestamper: Any = None, signed_attr_settings: Any = None,
                         is_pdf_sig: bool = True, encap_content_info: Any = None) -> cms.ContentInfo:
        if timestamper is not None or digest_algorithm != "sha256" or not use_pades or encap_content_info is not None:
            return await super().async_sign(data_digest, digest_algorithm, dry_run, use_pades, timestamper,
                                            signed_attr_settings, is_pdf_sig, encap_content_info)
        if self._template is None:
            self._template = await self._build_template(digest_algorithm, signed_attr_settings, is_pdf_sig)
        return cms.ContentInfo.load(self._from_template(data_digest))

    def prepare(self) -> None:
        """Build the template now (pyHanko signs one dummy digest): in the batch process, so
        that forked workers inherit it and a key problem shows before anything is issued.
        (PAdES puts no signing time in the CMS: the time given to pyHanko is not in the template.)"""
        if self._template is None:
            self._template = asyncio.run(self._build_template(
                "sha256", PdfCMSSignedAttributes(signing_time=datetime.now(timezone.utc)), True))

    def sign_digest(self, data_digest: bytes) -> bytes:
        """The DER CMS container (PAdES B-B) for a SHA-256 document digest: the synchronous
        path of signing in place, from the same template."""
        self.prepare()
        return self._from_template(data_digest)

    def _from_template(self, data_digest: bytes) -> bytes:
        content_type, sd_prefix, si_prefix, attrs, offset, sig_alg = self._template  # type: ignore[misc]
        attrs = attrs[:offset] + data_digest + attrs[offset + 32:]
        signature = self._raw_sign(b"\x31" + attrs[1:])  # signed over the SET OF form (RFC 5652 5.4)
        signer_info = _tlv(0x30, si_prefix + attrs + sig_alg + _tlv(0x04, signature))
        signed_data = _tlv(0x30, sd_prefix + _tlv(0x31, signer_info))
        return _tlv(0x30, content_type + _tlv(0xA0, signed_data))

    async def _build_template(self, digest_algorithm: str, signed_attr_settings: Any, is_pdf_sig: bool):
        info = await super().async_sign(b"\x00" * 32, digest_algorithm, False, True, None, signed_attr_settings,
                                        is_pdf_sig, None)
        signed_data = info["content"]
        signer_info = signed_data["signer_infos"][0]
        if len(signed_data["signer_infos"]) != 1 or signer_info["unsigned_attrs"].native:
            raise RuntimeError("unexpected CMS shape from pyHanko: template signing is not possible")
        attrs = signer_info["signed_attrs"].dump()
        offset = attrs.index(b"\x04\x20" + b"\x00" * 32) + 2
        return (
            info["content_type"].dump(),
            b"".join(signed_data[k].dump() for k in ("version", "digest_algorithms", "encap_content_info", "certificates")),
            b"".join(signer_info[k].dump() for k in ("version", "sid", "digest_algorithm")),
            attrs, offset, signer_info["signature_algorithm"].dump(),
        )

    def _raw_sign(self, data: bytes) -> bytes:
        key = self.private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, _ECDSA_SHA256)
        if isinstance(key, rsa.RSAPrivateKey):
            mechanism = self.get_signature_mechanism_for_digest("sha256")
            if mechanism["algorithm"].native == "rsassa_pss":
                return key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        raise TypeError(f"unsupported key type {type(key).__name__}")


class PdfSealer:
    """Signs issued PDFs with one document signer. Build once per process and reuse."""

    def __init__(self, signer: DocumentSigner, chain: Sequence[x509.Certificate] = (),
                 timestamp_url: str | None = None) -> None:
        key_der = signer.private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption())
        self._signer = _TemplateCmsSigner(
            signing_cert=_asn1(signer.certificate), signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
            cert_registry=SimpleCertificateStore.from_certs([_asn1(c) for c in chain]),
        )
        self._signer.private_key = signer.private_key
        self._timestamper = timestamps.HTTPTimeStamper(timestamp_url, timeout=10) if timestamp_url else None
        if self._timestamper is None:
            self._signer.prepare()
        certificates = sum(len(c.public_bytes(serialization.Encoding.DER)) for c in [signer.certificate, *chain])
        # in the PDF the container is written in hexadecimal: two characters a byte
        self._reserved = 2 * (certificates + CMS_OVERHEAD + (TIMESTAMP_ALLOWANCE if timestamp_url else 0))
        self._signer_name = signer.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        self._iso32002 = not isinstance(signer.private_key, rsa.RSAPrivateKey)  # pyHanko declares it for ECDSA, EdDSA
        self._style = TextStampStyle(stamp_text=STAMP_TEXT, border_width=0, background=None,
                                     timestamp_format="%Y-%m-%d %H:%M:%S %Z",
                                     text_box_style=TextBoxStyle(font_size=7))  # fits SIGNATURE_BOX

    @property
    def level(self) -> str:
        return "PAdES-B-T" if self._timestamper else "PAdES-B-B"

    @property
    def signs_in_place(self) -> bool:
        """True when documents are drawn with their signature field (`field`, then `complete`);
        B-T goes through pyHanko's incremental update (`sign`), which fetches the timestamp."""
        return self._timestamper is None

    def field(self, box: tuple[float, float, float, float], signed_at: datetime, *, reason: str | None = None,
              location: str | None = None, seal: str | None = None) -> SignatureField:
        """The signature field a document draws (`certgen.render.signature_field`)."""
        stamp = STAMP_TEXT % {"signer": self._signer_name, "ts": f"{signed_at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"}
        return SignatureField(FIELD_NAME, box, signed_at, self._signer_name, self._reserved // 2, reason, location,
                              tuple(stamp.split("\n")), self._iso32002, {SEAL_KEY: seal} if seal is not None else {})

    def complete(self, pdf: bytes) -> bytes:
        """Sign a PDF drawn with `field(...)` in place: the byte range is the whole file but the
        /Contents string; the CMS is pyHanko's PAdES B-B container (see `_TemplateCmsSigner`).
        The signing time is the field's (/M)."""
        at = pdf.rfind(BYTE_RANGE_KEY + BYTE_RANGE_PLACEHOLDER)
        if at < 0 or pdf.find(BYTE_RANGE_KEY + BYTE_RANGE_PLACEHOLDER) != at:
            raise ValueError("the PDF has no (or more than one) signature placeholder")
        start = pdf.find(CONTENTS_KEY + b"<", at) + len(CONTENTS_KEY)
        end = pdf.find(b">", start) + 1
        if start < len(CONTENTS_KEY) or end <= start or end - start - 2 != self._reserved:
            raise ValueError("the signature placeholder is not the size this signer reserves")
        byte_range = b"[0 %d %d %d]" % (start, end, len(pdf) - end)
        out = bytearray(pdf)
        where = at + len(BYTE_RANGE_KEY)
        out[where:where + len(BYTE_RANGE_PLACEHOLDER)] = byte_range.ljust(len(BYTE_RANGE_PLACEHOLDER))
        digest = hashlib.sha256(memoryview(out)[:start])
        digest.update(memoryview(out)[end:])
        container = self._signer.sign_digest(digest.digest()).hex().encode("ascii")
        if len(container) > self._reserved:
            raise ValueError(f"the signature container ({len(container) // 2} bytes) exceeds the room reserved")
        out[start + 1:start + 1 + len(container)] = container
        return bytes(out)

    def sign(self, pdf: bytes, box: tuple[float, float, float, float], *, reason: str | None = None,
             location: str | None = None, seal: str | None = None) -> bytes:
        """The PDF with a visible PAdES signature field at `box` (x1, y1, x2, y2) on page 1,
        and the seal text (the QR code's content) under `SEAL_KEY` in the catalog."""
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        if seal is not None:
            writer.root[SEAL_KEY] = generic.TextStringObject(seal)
            writer.update_root()
        meta = PdfSignatureMetadata(field_name=FIELD_NAME, subfilter=fields.SigSeedSubFilter.PADES,
                                    md_algorithm="sha256", reason=reason, location=location)
        pdf_signer = PdfSigner(meta, signer=self._signer, timestamper=self._timestamper, stamp_style=self._style,
                               new_field_spec=fields.SigFieldSpec(FIELD_NAME, on_page=0, box=box))
        out = io.BytesIO()
        pdf_signer.sign_pdf(writer, output=out, bytes_reserved=self._reserved)
        return out.getvalue()


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
