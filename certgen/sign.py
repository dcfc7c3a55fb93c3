"""PAdES signing of issued PDFs: B-B by default, B-LTA with a timestamp authority.

B-B signs in place: the document is drawn with its signature field and placeholders (`field`,
see certgen/pdf_signature.py and certgen/render/signature_field.py) and `complete` fills them,
0.5 ms a document. The CMS container comes from a per-process template of pyHanko's own
(certgen/adapters/pyhanko.py): 0.1 ms instead of about 10 ms of asn1crypto work (design
brief, section 9). When either adapter is not active (a library version they were not tested
with, or `install` not called) every document goes through pyHanko's `PdfSigner` unchanged
(`sign`: about 3 ms more).

With a timestamp authority, signatures are PAdES B-LTA (`sign`, pyHanko's `PdfSigner`): the
signature carries an RFC 3161 timestamp; the document security store (DSS) gets the
certificate chain and the revocation lists given in `chain` (the root-signed CRL from
`certgen keys crl`), so no network is needed to validate; and a document timestamp covers all
of it, so that the document validates in long-term mode after the signer's certificate has
expired (docs/issuing.md). This module imports no rendering code.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence, Union

from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .adapters import ACTIVE
from .adapters import pyhanko as adapter
from .adapters.pyhanko import DETERMINISTIC_ECDSA
from .crypto import DocumentSigner, ExternalKey
from .errors import CertgenError
from .output import HashedBytes
from .pdf_signature import (BYTE_RANGE_KEY, BYTE_RANGE_PLACEHOLDER, CONTENTS_KEY, FIELD_NAME, STAMP_TEXT,
                            SignatureField)
from .seal import SEAL_KEY

#: Room for the CMS container beyond the certificates it carries (signature, attributes,
#: structure), and for a timestamp token with its TSA certificates (B-T). Reserved up front,
#: so pyHanko needs no trial signature to measure the container.
CMS_OVERHEAD = 1536
TIMESTAMP_ALLOWANCE = 12288


class _OfflineEmbedding(logging.Filter):
    """Drop pyHanko's warning that it embeds validation data without fetching: offline is the
    design here (the CRL is given), and a warning per document would flood a batch's stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


@dataclass(frozen=True)
class TimestampAuthorityRoot:
    """A trust anchor of the timestamp authority's certificate: B-LTA signing validates the
    timestamps it embeds, so it must know whom to trust for them (not put in the CMS)."""

    certificate: x509.Certificate


#: What `chain` may hold: certificates up to the root (put in the CMS), the root's CRLs and
#: the timestamp authority's roots (for B-LTA).
ChainItem = Union[x509.Certificate, x509.CertificateRevocationList, TimestampAuthorityRoot]

__all__ = ["DETERMINISTIC_ECDSA", "FIELD_NAME", "SEAL_KEY", "ChainItem", "SigningError", "PdfSealer",
           "TimestampAuthorityRoot"]


class SigningError(CertgenError):
    """A document cannot be signed as configured (e.g. B-LTA with a stale CRL)."""


class PdfSealer:
    """Signs issued PDFs with one document signer. Build once per process and reuse.

    `chain`: the certificates up to the root and, for B-LTA (with `timestamp_url`), the
    root-signed CRL and the timestamp authority's roots (`TimestampAuthorityRoot`). With a
    timestamp authority but neither of those, signatures are PAdES B-T (timestamp, no DSS, no
    document timestamp); `certgen issue` always gives both, so it always signs B-LTA."""

    def __init__(self, signer: DocumentSigner, chain: Sequence[ChainItem] = (),
                 timestamp_url: str | None = None) -> None:
        certificates = [c for c in chain if isinstance(c, x509.Certificate)]
        crls = [c for c in chain if isinstance(c, x509.CertificateRevocationList)]
        timestamp_roots = [c.certificate for c in chain if isinstance(c, TimestampAuthorityRoot)]
        self._token_key = signer.private_key if isinstance(signer.private_key, ExternalKey) else None
        self._chain = [_asn1(c) for c in certificates]
        self._signer_cert = _asn1(signer.certificate)
        self._signer_pid = os.getpid()
        self._signer = self._pyhanko_signer(signer)
        self._timestamper = timestamps.HTTPTimeStamper(timestamp_url, timeout=10) if timestamp_url else None
        self._validation: ValidationContext | None = None
        if self._timestamper is not None and (crls or timestamp_roots):
            self._validation = _lta_context(signer, certificates, crls, timestamp_roots)
        self._template = (adapter.CmsTemplate(self._signer, signer.private_key)
                          if self._timestamper is None and ACTIVE.signs_in_place else None)
        size = sum(len(c.public_bytes(serialization.Encoding.DER)) for c in [signer.certificate, *certificates])
        # in the PDF the container is written in hexadecimal: two characters a byte
        self._reserved = 2 * (size + CMS_OVERHEAD + (TIMESTAMP_ALLOWANCE if timestamp_url else 0))
        self._signer_name = signer.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        self._iso32002 = not isinstance(signer.private_key, rsa.RSAPrivateKey)  # pyHanko declares it for ECDSA, EdDSA
        self._style = TextStampStyle(stamp_text=STAMP_TEXT, border_width=0, background=None,
                                     timestamp_format="%Y-%m-%d %H:%M:%S %Z",
                                     text_box_style=TextBoxStyle(font_size=7))  # fits SIGNATURE_BOX

    def _pyhanko_signer(self, signer: DocumentSigner | None = None) -> signers.Signer:
        """pyHanko's signer: `SimpleSigner` for a key in memory; for a key in a token, pyHanko's
        PKCS#11 signer on this process's own session (certgen.token), made again in a forked
        worker, never shared with the parent."""
        if self._token_key is not None:
            if signer is None and self._signer_pid == os.getpid():
                return self._signer
            from .token import pdf_signer

            self._signer_pid = os.getpid()
            self._signer = pdf_signer(self._token_key, self._signer_cert, self._chain)  # type: ignore[arg-type]
            return self._signer
        if signer is None:
            return self._signer
        key_der = signer.private_key.private_bytes(serialization.Encoding.DER,  # type: ignore[union-attr]
                                                   serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return signers.SimpleSigner(signing_cert=self._signer_cert, signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
                                    cert_registry=SimpleCertificateStore.from_certs(self._chain))

    @property
    def level(self) -> str:
        if self._timestamper is None:
            return "PAdES-B-B"
        return "PAdES-B-LTA" if self._validation is not None else "PAdES-B-T"

    @property
    def signs_in_place(self) -> bool:
        """True when documents are drawn with their signature field (`field`, then `complete`):
        B-B with both adapters active. Otherwise `sign` (pyHanko's incremental update)."""
        return self._template is not None

    def field(self, box: tuple[float, float, float, float], signed_at: datetime, *, reason: str | None = None,
              location: str | None = None, seal: str | None = None) -> SignatureField:
        """The signature field a document draws (`certgen.render.signature_field`)."""
        stamp = STAMP_TEXT % {"signer": self._signer_name, "ts": f"{signed_at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"}
        return SignatureField(FIELD_NAME, box, signed_at, self._signer_name, self._reserved // 2, reason, location,
                              tuple(stamp.split("\n")), self._iso32002, {SEAL_KEY: seal} if seal is not None else {})

    def complete(self, pdf: bytes) -> HashedBytes:
        """Sign a PDF drawn with `field(...)` in place: the byte range is the whole file but the
        /Contents string; the CMS is pyHanko's PAdES B-B container (certgen.adapters.pyhanko).
        The signing time is the field's (/M). The signed file comes with its SHA-256: the part
        before /Contents is hashed once for both digests."""
        if self._template is None:
            raise ValueError("this signer does not sign in place (see signs_in_place): use sign()")
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
        view = memoryview(out)
        digest = hashlib.sha256(view[:start])
        whole = digest.copy()  # the file's digest goes on from the same prefix
        digest.update(view[end:])
        container = self._template.sign_digest(digest.digest()).hex().encode("ascii")
        if len(container) > self._reserved:
            raise ValueError(f"the signature container ({len(container) // 2} bytes) exceeds the room reserved")
        out[start + 1:start + 1 + len(container)] = container
        whole.update(view[start:])
        view.release()
        return HashedBytes.of(out, whole.hexdigest())

    def sign(self, pdf: bytes, box: tuple[float, float, float, float], *, reason: str | None = None,
             location: str | None = None, seal: str | None = None) -> bytes:
        """The PDF with a visible PAdES signature field at `box` (x1, y1, x2, y2) on page 1,
        and the seal text (the QR code's content) under `SEAL_KEY` in the catalog; with a
        timestamp authority, B-LTA (DSS and document timestamp)."""
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        if seal is not None:
            writer.root[SEAL_KEY] = generic.TextStringObject(seal)
            writer.update_root()
        lta = self._validation is not None
        meta = PdfSignatureMetadata(field_name=FIELD_NAME, subfilter=fields.SigSeedSubFilter.PADES,
                                    md_algorithm="sha256", reason=reason, location=location,
                                    embed_validation_info=lta, use_pades_lta=lta, validation_context=self._validation)
        pdf_signer = PdfSigner(meta, signer=self._pyhanko_signer(), timestamper=self._timestamper, stamp_style=self._style,
                               new_field_spec=fields.SigFieldSpec(FIELD_NAME, on_page=0, box=box))
        out = io.BytesIO()
        try:
            pdf_signer.sign_pdf(writer, output=out, bytes_reserved=self._reserved)
        except Exception as exc:
            if not lta:
                raise
            # pyHanko validates the chain and the timestamps before it embeds them: say what failed
            raise SigningError(f"PAdES B-LTA signing failed: {type(exc).__name__}: {exc} (is the root's CRL current? "
                               f"`certgen keys crl`; is the timestamp authority's root given?)") from exc
        return out.getvalue()


def _lta_context(signer: DocumentSigner, certificates: Sequence[x509.Certificate],
                 crls: Sequence[x509.CertificateRevocationList],
                 timestamp_roots: Sequence[x509.Certificate]) -> ValidationContext:
    """What pyHanko validates and embeds for B-LTA, offline: the chain, the root's CRL (current,
    not revoking this signer) and the timestamp authority's roots."""
    if not crls:
        raise SigningError("PAdES B-LTA needs the root's CRL in the document: run `certgen keys crl` "
                           "(keys/root.crl.pem)")
    if not timestamp_roots:
        raise SigningError("PAdES B-LTA needs the timestamp authority's root certificate (--timestamp-root, "
                           "CERTGEN_TSA_ROOT)")
    moment = datetime.now(timezone.utc)  # B-LTA is signed now: the TSA stamps its own clock's time
    for crl in crls:
        if crl.next_update_utc is not None and crl.next_update_utc < moment:
            raise SigningError(f"the root's CRL expired on {crl.next_update_utc:%Y-%m-%d %H:%M}Z: "
                               f"run `certgen keys crl` (a validator would not accept it as current)")
        entry = crl.get_revoked_certificate_by_serial_number(signer.certificate.serial_number)
        if crl.issuer == signer.certificate.issuer and entry is not None:
            raise SigningError(f"the document signer {signer.kid.hex()} is revoked in the root's CRL "
                               f"(since {entry.revocation_date_utc:%Y-%m-%d %H:%M}Z): rotate the key")
    logger = logging.getLogger("pyhanko.sign.signers.pdf_signer")
    if not any(isinstance(f, _OfflineEmbedding) for f in logger.filters):
        logger.addFilter(_OfflineEmbedding())
    return ValidationContext(
        trust_roots=[_asn1(c) for c in [*certificates, *timestamp_roots]],
        crls=[asn1_crl.CertificateList.load(c.public_bytes(serialization.Encoding.DER)) for c in crls],
        allow_fetching=False, revocation_mode="hard-fail")


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
