"""The PDF fast path: documents of the project's own signed layout, checked without pyHanko's
per-file validation set-up, and never accepted where the full validation would not accept.

`issued_layout` recognises what certgen writes (one revision, one signature field, one
PAdES B-B signature covering the whole file) with a strict reader of its own
(verify.pdf_issued: the cross-reference table, trailer, catalog, page tree, form, field and
signature dictionary, read with regular expressions over a small grammar in which every token
has the reading pyHanko's reader gives it) and returns None for anything else or anything
unexpected; `verify.pdf` then runs pyHanko's reader and full validation with modification
analysis, which also decides every rejection: the fast path only ever says "passed", and only
when every condition below holds.

* the file: in the strict reader's grammar (verify.pdf_issued: one `%%EOF`, one `startxref`,
  one classic cross-reference table, a trailer without /Prev, /XRefStm or /Encrypt), at most
  `max_pages` pages, no `/Perms` (DocMDP) in the catalog;
* the form: `/AcroForm /Fields` is one top-level field, `/FT /Sig`, named (`/T`, a literal
  string: pyHanko skips a field without a name), without `/Kids`,
  `/Parent`, seed values or `/Lock`, whose `/V` is an object the table places at an offset;
* the signature dictionary: `/Type /Sig`, `/Filter /Adobe.PPKLite`, `/SubFilter
  /ETSI.CAdES.detached`, no `/Reference`, `/ByteRange [0 a b c]` with b + c the file's
  length, and its one `/Contents` (no key appears twice) exactly the hex string `<...>` the
  gap leaves;
* the CMS: one SignerInfo by issuer and serial, SHA-256, ECDSA or RSA PKCS#1 v1.5, signed
  attributes content-type (data), message-digest, signing-certificate-v2 (the signer's
  SHA-256) and optionally signing-time, each once and nothing else, no unsigned attributes
  (a timestamp: full path), detached `data` content; the certificates exactly the signer, or
  the signer and the trusted root byte for byte, with different serial numbers;
* the signer: pyHanko's full validation accepted this very certificate (its DER) under this
  root earlier in the process (`SignerCache`), at a moment inside every validity period of
  the signer and the root; the moment asked now lies inside them too. A first document of a
  signer takes the full path and fills the cache.

The digest and the signature are then checked here with `cryptography` (the same checks
pyHanko makes: the message digest over the byte range, the signature over the DER signed
attributes), and `verify.pdf` makes every later check (signing time, trust list,
revocation, trailing bytes) with the same code as the full path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from . import pyhanko_internals as internals
from .pdf_issued import Hex, IssuedFile, Literal, read_issued

_FIELD_KEYS = frozenset({"/AP", "/F", "/FT", "/P", "/Rect", "/Subtype", "/T", "/Type", "/V", "/MK", "/DA", "/Ff",
                         "/TU", "/TM", "/Border", "/StructParent"})
_ATTRIBUTES = frozenset({"content_type", "message_digest", "signing_certificate_v2", "signing_time"})
_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
_ECDSA = frozenset({"sha256_ecdsa"})
_RSA = frozenset({"sha256_rsa", "rsassa_pkcs1v15"})


@dataclass(frozen=True)
class IssuedSignature:
    """What the fast path read from a document of the issued layout (nothing checked yet
    beyond the layout: `intact_and_valid` checks digest and signature)."""

    data: bytes
    gap: tuple[int, int]
    signer_der: bytes
    algorithm: str
    claimed: datetime | None
    message_digest: bytes
    signature: bytes
    #: The DER signed attributes as a SET OF, as the signature covers them.
    signed_attributes: bytes
    #: The catalog's /CertgenSeal text (None when it has none).
    seal: str | None = None

    @property
    def signer_digest(self) -> bytes:
        return hashlib.sha256(self.signer_der).digest()


@dataclass
class SignerCache:
    """Signers whose certificate pyHanko's full validation accepted under a root, by the
    SHA-256 of both DERs: the windows (not before, not after) of the signer and the root.
    Path validation here has no revocation data and fetches nothing, so its answer for one
    certificate depends on the moment only through those validity periods."""

    _known: dict[tuple[bytes, bytes], tuple[x509.Certificate, datetime, datetime]] = field(default_factory=dict)
    limit: int = 256

    def remember(self, root_der: bytes, issued: IssuedSignature, signer: x509.Certificate, root: x509.Certificate,
                 moment: datetime) -> None:
        """Record that pyHanko's full validation accepted `issued`'s signer (`signer`, the same
        DER) under `root` at `moment`."""
        start = max(signer.not_valid_before_utc, root.not_valid_before_utc)
        end = min(signer.not_valid_after_utc, root.not_valid_after_utc)
        if not start <= moment <= end or len(self._known) >= self.limit:
            return
        self._known[(hashlib.sha256(root_der).digest(), issued.signer_digest)] = (signer, start, end)

    def signer_at(self, root_der: bytes, issued: IssuedSignature, moment: datetime) -> x509.Certificate | None:
        """The signer's certificate when its chain is known good at `moment`, else None."""
        known = self._known.get((hashlib.sha256(root_der).digest(), issued.signer_digest))
        if known is None:
            return None
        signer, start, end = known
        return signer if start <= moment <= end else None

    def knows(self, root_der: bytes, signer_der: bytes) -> bool:
        return (hashlib.sha256(root_der).digest(), hashlib.sha256(signer_der).digest()) in self._known

    def clear(self) -> None:
        self._known.clear()


#: One per process: the forked workers of `certverify pdf` each fill their own.
SIGNERS = SignerCache()


def issued_layout(data: bytes, root_der: bytes, max_pages: int) -> IssuedSignature | None:
    """The signature of a document in the issued layout with at most `max_pages` pages; None
    for anything else. The structure is read by `verify.pdf_issued` (a strict reader of a
    small grammar), the container by asn1crypto or the layout cache."""
    if not internals.usable():
        return None
    try:
        found = read_issued(data, max_pages)
        return _layout(data, found, root_der) if found is not None else None
    except Exception:  # anything unexpected is simply not the issued layout: the full path decides
        return None


def _layout(data: bytes, found: IssuedFile, root_der: bytes) -> IssuedSignature | None:
    sig_field, value = found.field, found.signature
    if not set(sig_field) <= _FIELD_KEYS or sig_field.get("/FT") != "/Sig":
        return None
    if not isinstance(sig_field.get("/T"), Literal):
        return None  # pyHanko skips a field without a name (a bare widget): it finds no signature
    if (value.get("/Type") != "/Sig" or value.get("/Filter") != "/Adobe.PPKLite"
            or value.get("/SubFilter") != "/ETSI.CAdES.detached" or "/Reference" in value):
        return None
    contents, byte_range = value.get("/Contents"), value.get("/ByteRange")
    if not isinstance(contents, Hex) or not isinstance(byte_range, list) or len(byte_range) != 4:
        return None
    if any(type(v) is not int for v in byte_range):
        return None
    start, first, second, last = byte_range
    if start != 0 or not found.sig_start < first < second <= found.sig_end or second + last != len(data):
        return None
    if (contents.start, contents.end) != (first, second) or (second - first) % 2:
        return None  # the /Contents string pyHanko reads is the one hex string in the gap, nothing else
    written = value.get("/M")
    if written is not None and not isinstance(written, Literal):
        return None
    return _cms(data, (first, second), written.decode("ascii") if written is not None else None, root_der, found.seal)


def _cms(data: bytes, gap: tuple[int, int], written_time: str | None, root_der: bytes,
         seal: str | None) -> IssuedSignature | None:
    raw = bytes.fromhex(data[gap[0] + 1:gap[1] - 1].decode("ascii"))
    container = CONTAINERS.match(raw, root_der) or _container(raw, root_der)
    if container is None:
        return None
    claimed = container.signing_time
    if claimed is None and written_time is not None:
        claimed = internals.parse_pdf_date(written_time)
    if claimed is not None and not isinstance(claimed, datetime):
        return None
    return IssuedSignature(data, gap, container.signer_der, container.algorithm, claimed, container.message_digest,
                           container.signature, container.signed_attributes, seal)


@dataclass(frozen=True)
class Container:
    """What the checks of a CMS container found: its signer, its algorithm, the values."""

    signer_der: bytes
    algorithm: str
    signing_time: datetime | None
    message_digest: bytes
    signature: bytes
    #: The DER signed attributes as a SET OF, as the signature covers them.
    signed_attributes: bytes


def _container(raw: bytes, root_der: bytes) -> Container | None:
    """The container parsed with asn1crypto and checked (module docstring); a container that
    passes teaches `CONTAINERS` its layout."""
    content = cms.ContentInfo.load(raw)
    if content["content_type"].native != "signed_data":
        return None
    signed = content["content"]
    encapsulated = signed["encap_content_info"]
    if encapsulated["content_type"].native != "data" or encapsulated["content"].native is not None:
        return None
    infos = signed["signer_infos"]
    if len(infos) != 1:
        return None
    info = infos[0]
    if info["digest_algorithm"]["algorithm"].native != "sha256" or info["unsigned_attrs"].native:
        return None
    algorithm = info["signature_algorithm"]["algorithm"].native
    if algorithm not in _ECDSA | _RSA or info["signature_algorithm"]["parameters"].native not in (None,):
        return None
    attributes_der = info["signed_attrs"].dump()  # as encoded, before anything parses them
    signer = _signer_certificate(signed, info, root_der)
    if signer is None:
        return None
    signer_der = signer.dump()
    attributes = _attributes(info, signer, signer_der)
    if attributes is None:
        return None
    signing_time = attributes.get("signing_time")
    if signing_time is not None and not isinstance(signing_time, datetime):
        return None
    found = Container(signer_der, algorithm, signing_time, attributes["message_digest"], info["signature"].native,
                      b"\x31" + attributes_der[1:])
    CONTAINERS.learn(raw, root_der, found, attributes_der)
    return found


def _der_length(raw: bytes) -> int | None:
    """The length of the DER SEQUENCE `raw` starts with (header included); None if it is not one."""
    if len(raw) < 2 or raw[0] != 0x30:
        return None
    if raw[1] < 0x80:
        return 2 + raw[1]
    count = raw[1] & 0x7F
    if not 1 <= count <= 3 or len(raw) < 2 + count:
        return None
    return 2 + count + int.from_bytes(raw[2:2 + count], "big")


def _octets_header(size: int) -> bytes:
    return b"\x04" + (bytes([size]) if size < 0x80 else bytes([0x81, size]) if size < 0x100 else bytes([0x82]) + size.to_bytes(2, "big"))


@dataclass(frozen=True)
class _Layout:
    digest_at: int
    signature_at: int
    signature_size: int
    attributes_at: int
    attributes_size: int
    skeleton: bytes
    container: Container


@dataclass
class ContainerLayouts:
    """Containers already checked, as their bytes without the two values that change from one
    document to the next (the message digest, the signature value). A container whose bytes
    equal a known one everywhere else has the same DER structure (the values are the contents
    of OCTET STRINGs of the same length), so every check `_container` makes gives the same
    answer: only the digest and the signature remain to be checked, as for any container.
    Certgen's signing template (certgen.adapters.pyhanko.CmsTemplate) is the same idea
    the other way round."""

    _known: dict[tuple[bytes, int], list[_Layout]] = field(default_factory=dict)
    _count: int = 0
    limit: int = 64

    def learn(self, raw: bytes, root_der: bytes, container: Container, attributes_der: bytes) -> None:
        size = _der_length(raw)
        if size is None or size > len(raw) or self._count >= self.limit:
            return
        if not SIGNERS.knows(root_der, container.signer_der):  # only signers the full path accepted
            return
        der = raw[:size]
        digest = b"\x04\x20" + container.message_digest
        signature = _octets_header(len(container.signature)) + container.signature
        if len(container.message_digest) != 32 or der.count(digest) != 1 or der.count(signature) != 1:
            return
        if der.count(attributes_der) != 1:
            return
        digest_at = der.index(digest) + 2
        signature_at = der.index(signature) + len(signature) - len(container.signature)
        attributes_at = der.index(attributes_der)
        if not attributes_at < digest_at < attributes_at + len(attributes_der) <= signature_at:
            return
        layout = _Layout(digest_at, signature_at, len(container.signature), attributes_at, len(attributes_der),
                         _skeleton(der, digest_at, signature_at, len(container.signature)), container)
        self._known.setdefault((hashlib.sha256(root_der).digest(), size), []).append(layout)
        self._count += 1

    def match(self, raw: bytes, root_der: bytes) -> Container | None:
        """The checked container `raw` is a copy of but for digest and signature, or None."""
        size = _der_length(raw)
        if size is None or size > len(raw):
            return None
        der = raw[:size]
        for layout in self._known.get((hashlib.sha256(root_der).digest(), size), ()):
            if _skeleton(der, layout.digest_at, layout.signature_at, layout.signature_size) == layout.skeleton:
                known = layout.container
                attributes = der[layout.attributes_at:layout.attributes_at + layout.attributes_size]
                return Container(known.signer_der, known.algorithm, known.signing_time,
                                 der[layout.digest_at:layout.digest_at + 32],
                                 der[layout.signature_at:layout.signature_at + layout.signature_size],
                                 b"\x31" + attributes[1:])
        return None

    def clear(self) -> None:
        self._known.clear()
        self._count = 0


def _skeleton(der: bytes, digest_at: int, signature_at: int, signature_size: int) -> bytes:
    return der[:digest_at] + der[digest_at + 32:signature_at] + der[signature_at + signature_size:]


#: One per process, as `SIGNERS`.
CONTAINERS = ContainerLayouts()


def _signer_certificate(signed: cms.SignedData, info: cms.SignerInfo, root_der: bytes) -> Any:
    """The signer's DER when the container holds exactly the signer (and perhaps the root,
    byte for byte), named by issuer and serial byte for byte; else None."""
    sid = info["sid"]
    if sid.name != "issuer_and_serial_number":
        return None
    certificates = [c.chosen for c in signed["certificates"] if c.name == "certificate"]
    if len(certificates) != len(signed["certificates"]):
        return None
    others = [c for c in certificates if c.dump() != root_der]
    if len(others) != 1 or len(certificates) - len(others) > 1:
        return None
    signer = others[0]
    serials = {c.serial_number for c in certificates}
    if len(serials) != len(certificates):
        return None
    wanted = sid.chosen
    if signer.issuer.dump() != wanted["issuer"].dump() or signer.serial_number != wanted["serial_number"].native:
        return None
    return signer


def _attributes(info: cms.SignerInfo, signer: Any, signer_der: bytes) -> dict[str, Any] | None:
    """The signed attributes by name when they are exactly pyHanko's PAdES set and the
    signing certificate is the signer's; else None."""
    attributes = info["signed_attrs"]
    if not attributes:
        return None
    found: dict[str, Any] = {}
    for attribute in attributes:
        kind = attribute["type"].dotted if attribute["type"].native == _SIGNING_CERTIFICATE_V2 else attribute["type"].native
        name = "signing_certificate_v2" if kind in (_SIGNING_CERTIFICATE_V2, "signing_certificate_v2") else kind
        if name not in _ATTRIBUTES or name in found or len(attribute["values"]) != 1:
            return None
        found[name] = attribute["values"][0]
    if set(found) - {"signing_time"} != _ATTRIBUTES - {"signing_time"}:
        return None
    if found["content_type"].native != "data":
        return None
    ess = found["signing_certificate_v2"]
    if not isinstance(ess, tsp.SigningCertificateV2):  # pyHanko registers the attribute type on import
        ess = tsp.SigningCertificateV2.load(ess.dump())
    certificate_ids = ess["certs"]
    first = certificate_ids[0]
    if first["hash_algorithm"]["algorithm"].native != "sha256":
        return None
    if first["cert_hash"].native != hashlib.sha256(signer_der).digest():
        return None
    if not isinstance(found["message_digest"].native, bytes) or not _same_issuer_serial(first["issuer_serial"], signer):
        return None
    result: dict[str, Any] = {"message_digest": found["message_digest"].native}
    if "signing_time" in found:
        result["signing_time"] = found["signing_time"].native
    return result


def _same_issuer_serial(issuer_serial: Any, certificate: Any) -> bool:
    """The ESS issuer-serial is absent, or names the signer's issuer byte for byte and its
    serial (pyHanko compares names after LDAP string preparation: identical DER matches there
    too; anything else is left to it)."""
    if not issuer_serial:
        return True
    names = issuer_serial["issuer"]
    if len(names) != 1 or names[0].name != "directory_name":
        return False
    return (names[0].chosen.untag().dump() == certificate.issuer.dump()
            and issuer_serial["serial_number"].native == certificate.serial_number)


def intact_and_valid(issued: IssuedSignature, signer: x509.Certificate) -> bool:
    """The message digest is the SHA-256 of the byte range, and the signer's key signed the
    DER signed attributes (as pyHanko's `validate_sig_integrity` checks). False, never an
    exception, for anything else: the full path then decides."""
    try:
        return _intact_and_valid(issued, signer)
    except Exception:
        return False


def _intact_and_valid(issued: IssuedSignature, signer: x509.Certificate) -> bool:
    first, second = issued.gap
    digest = hashlib.sha256(issued.data[:first])
    digest.update(issued.data[second:])
    if issued.message_digest != digest.digest():
        return False
    signed = issued.signed_attributes
    signature = issued.signature
    key = signer.public_key()
    try:
        if issued.algorithm in _ECDSA and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
        elif issued.algorithm in _RSA and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except InvalidSignature:
        return False
    return True
