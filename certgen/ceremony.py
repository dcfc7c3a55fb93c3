"""The key ceremony: a root kept on an offline machine certifies a document signer whose key
was generated on the issuing machine (in a token or in a key file), through a certificate
signing request (PKCS#10, RFC 2986). docs/keys.md, "Key ceremony", walks through it:

1. offline: `certgen keys init --root-only` (root key and certificate; no signer);
2. issuing machine: `certgen keys request --root-cert root.cert.pem [--pkcs11-module M --token T]`
   generates the signer's key and writes the request, signed by that key (proof of possession);
3. offline: `certgen keys certify REQUEST` checks the request's signature, issues the DSC with
   the profile of certgen.dsc_profile (whatever the request asks for: only its public key is
   used), records it and re-signs the trust list;
4. issuing machine: `certgen keys install CERT --trust-list trustlist.json` checks that the
   certificate is the root's, for the pending key, and that the trust list is root-signed and
   names it; the signer becomes current.

Only certificates, requests and the signed trust list travel between the machines; no
private key does.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from typing import Sequence

from asn1crypto import csr as asn1_csr
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .crypto import ExternalKey, SigningKey, key_id
from .dsc_profile import OID_DOCUMENT_SIGNING, Organisation, dsc_certificate, root_certificate
from .errors import KeyStoreError, TrustListError
from .keys import KEYSTORE_FORMAT, KeyAlgorithm, KeyStore, SignerInfo, token_entry
from .token import TokenRef
from .trust import TrustList


class CeremonyError(KeyStoreError):
    """A request, certificate or trust list of the ceremony does not check out (the message says why)."""


def build_request(key: SigningKey, subject: x509.Name) -> bytes:
    """A PEM certificate signing request for `key`, signed by it (a token key signs inside the
    token: the request is assembled with asn1crypto, as cryptography signs only keys it holds)."""
    if isinstance(key, ExternalKey):
        spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        info = asn1_csr.CertificationRequestInfo({
            "version": "v1", "subject": asn1_x509.Name.load(subject.public_bytes()),
            "subject_pk_info": asn1_keys.PublicKeyInfo.load(spki), "attributes": []})
        raw = key.sign(info.dump())
        request = asn1_csr.CertificationRequest({
            "certification_request_info": info, "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))})
        pem = asn1_pem.armor("CERTIFICATE REQUEST", request.dump())
    else:
        pem = (x509.CertificateSigningRequestBuilder().subject_name(subject)
               .sign(key, hashes.SHA256())  # type: ignore[arg-type]
               .public_bytes(serialization.Encoding.PEM))
    load_request(pem)  # what leaves here must pass `certify`'s own check
    return pem


def load_request(data: bytes, source: str = "the request") -> x509.CertificateSigningRequest:
    """A request whose signature is by the key it names (P-256 or RSA of 3072 bits or more)."""
    try:
        request = (x509.load_pem_x509_csr(data) if b"-----BEGIN" in data else x509.load_der_x509_csr(data))
    except ValueError as exc:
        raise CeremonyError(f"{source}: not a certificate signing request (PKCS#10, PEM or DER): {exc}") from None
    try:
        valid = request.is_signature_valid
        public = request.public_key()
    except (ValueError, InvalidSignature, TypeError) as exc:
        raise CeremonyError(f"{source}: unreadable signature or key ({exc})") from None
    if not valid:
        raise CeremonyError(f"{source}: its signature does not verify: it was not signed by the key it names")
    if isinstance(public, ec.EllipticCurvePublicKey):
        if not isinstance(public.curve, ec.SECP256R1):
            raise CeremonyError(f"{source}: a {public.curve.name} key; document signers use P-256")
    elif isinstance(public, rsa.RSAPublicKey):
        if public.key_size < 3072:
            raise CeremonyError(f"{source}: an RSA key of {public.key_size} bits; at least 3072 are needed")
    else:
        raise CeremonyError(f"{source}: a {type(public).__name__}; document signers use P-256 or RSA-3072")
    return request


def _spki_sha256(key: object) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]
    return hashlib.sha256(der).hexdigest()


def init_root(store: KeyStore, passphrase: bytes, *, now: datetime, algorithm: KeyAlgorithm = KeyAlgorithm.EC_P256,
              org: Organisation = Organisation(), years: int = 20, verify_urls: Sequence[str] = ()) -> x509.Certificate:
    """On the offline machine: the root key and certificate only (no signer, no log key), and
    a trust list naming no signer yet. Refuses when any key is there."""
    from .keys import _check_passphrase, _checked_urls, _write_private, _write_public

    _check_passphrase(passphrase)
    urls = _checked_urls(verify_urls)
    if store.exists():
        raise KeyStoreError(f"{store.folder}: keys already exist; refusing to overwrite them")
    if not store.folder.exists():
        store.folder.mkdir(parents=True, mode=0o700)
        os.chmod(store.folder, 0o700)
    root_key = algorithm.generate()
    cert = root_certificate(root_key, org, now, years)
    _write_private(store.root_key_path, store._encrypt(root_key, passphrase))
    _write_public(store.root_cert_path, cert.public_bytes(serialization.Encoding.PEM))
    store._write_state({"format": KEYSTORE_FORMAT, "algorithm": algorithm.value, "current": None, "signers": [],
                        "verify_urls": urls})
    store._publish(root_key, cert, now)
    return cert


def request_signer(store: KeyStore, passphrase: bytes, *, now: datetime, token: TokenRef | None = None,
                   root_cert: x509.Certificate | None = None, org: Organisation = Organisation()) -> bytes:
    """On the issuing machine: generate the next signer's key (in `token`, else a key file
    encrypted with `passphrase`) and return its request. A folder without keys is set up with
    the root's certificate (`root_cert`). While a request is pending, the same key's request is
    returned again (a lost request file costs nothing)."""
    state = _state_or_new(store, root_cert)
    pending = state.get("pending")
    if pending and (token is not None) != bool(pending.get("token")):
        where = "a token" if pending.get("token") else "a key file"
        raise CeremonyError(f"a request for a key in {where} is pending since {pending['created']}: install its "
                            f"certificate (`certgen keys install`) before requesting another")
    if pending:
        key = _pending_key(store, pending, passphrase)
    elif token is not None:
        key = store.new_token_key(token, label=f"certgen-dsc-request-{now:%Y%m%d%H%M%S}")
        state["pending"] = {"created": now.astimezone(timezone.utc).isoformat(), "token": token_entry(key)}
    else:
        if len(passphrase) < 8:
            raise KeyStoreError("the passphrase must have at least 8 characters")
        file_key = ec.generate_private_key(ec.SECP256R1())
        name = f"request-{os.urandom(8).hex()}.key.pem"
        from .keys import _write_private

        _write_private(store.folder / name, store._encrypt(file_key, passphrase))
        key = file_key
        state["pending"] = {"created": now.astimezone(timezone.utc).isoformat(), "key_file": name}
    state["pending"]["spki_sha256"] = _spki_sha256(key.public_key())
    store._write_state(state)
    return build_request(key, org.subject(f"Balai Sertifikasi Document Signer request {now:%Y-%m-%d}"))


def certify_request(store: KeyStore, data: bytes, passphrase: bytes, *, now: datetime, years: int = 10,
                    org: Organisation = Organisation(), source: str = "the request") -> SignerInfo:
    """On the offline machine: issue the DSC for a checked request with the DSC profile, record
    it (its key is elsewhere) and re-sign the trust list."""
    request = load_request(data, source)
    state = store._state()
    root_key = store._load_private(store.root_key_path, passphrase)
    root_cert = store.root_certificate()
    wanted = _spki_sha256(request.public_key())
    for signer in store.signers():
        if _spki_sha256(signer.certificate.public_key()) == wanted:
            raise CeremonyError(f"{source}: this key is already certified as signer {signer.kid.hex()}")
    cert = dsc_certificate(request.public_key(), root_key, root_cert, org, now, years,  # type: ignore[arg-type]
                           len(state["signers"]) + 1)
    kid = key_id(cert)
    from .keys import _write_public

    _write_public(store.dsc_cert_path(kid), cert.public_bytes(serialization.Encoding.PEM))
    state["signers"].append({"kid": kid.hex(), "created": now.astimezone(timezone.utc).isoformat(),
                             "revoked_at": None, "revocation_reason": None, "key": "elsewhere"})
    state["current"] = kid.hex()
    store._write_state(state)
    store._publish(root_key, root_cert, now)
    return next(s for s in store.signers() if s.kid == kid)


def install_certificate(store: KeyStore, cert_data: bytes, trust_list: bytes) -> SignerInfo:
    """On the issuing machine: make the certified signer current, once its certificate is the
    root's, is a DSC, is for the pending key, and the root-signed trust list names it."""
    state = store._state()
    pending = state.get("pending")
    if not pending:
        raise CeremonyError(f"{store.folder}: no request is pending here (run `certgen keys request` first)")
    try:
        cert = x509.load_pem_x509_certificate(cert_data) if b"-----BEGIN" in cert_data else \
            x509.load_der_x509_certificate(cert_data)
    except ValueError as exc:
        raise CeremonyError(f"the certificate: not an X.509 certificate ({exc})") from None
    root = store.root_certificate()
    try:
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        raise CeremonyError("the certificate is not issued by this folder's root (root.cert.pem)") from None
    if _spki_sha256(cert.public_key()) != pending["spki_sha256"]:
        raise CeremonyError("the certificate is for another key than the pending request's")
    _check_profile(cert)
    kid = key_id(cert)
    try:
        listed = TrustList.load_signed(trust_list, root)
    except TrustListError as exc:
        raise CeremonyError(f"the trust list: {exc}") from None
    if listed.get(kid) is None:
        raise CeremonyError(f"the trust list does not name signer {kid.hex()}: use the one `keys certify` wrote")
    from .keys import _write_public

    entry: dict = {"kid": kid.hex(), "created": pending["created"], "revoked_at": None, "revocation_reason": None}
    if pending.get("token"):
        entry["token"] = pending["token"]
    else:
        source = store.folder / pending["key_file"]
        target = store.dsc_key_path(kid)
        if target.exists() and (not source.exists() or os.path.samefile(source, target)):
            source.unlink(missing_ok=True)  # an install interrupted after linking the key: finish it
        elif target.exists():
            raise CeremonyError(f"{target}: already exists; refusing to overwrite it")
        else:
            os.link(source, target)
            os.unlink(source)
    _write_public(store.dsc_cert_path(kid), cert.public_bytes(serialization.Encoding.PEM))
    state["signers"].append(entry)
    state["current"] = kid.hex()
    state["verify_urls"] = list(listed.verify_urls)
    del state["pending"]
    store._write_state(state)
    _write_public(store.trustlist_path, trust_list)
    return next(s for s in store.signers() if s.kid == kid)


def _check_profile(cert: x509.Certificate) -> None:
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise CeremonyError(f"the certificate lacks an extension a DSC has ({exc})") from None
    if basic.ca or OID_DOCUMENT_SIGNING not in eku:
        raise CeremonyError("the certificate is not a document signer certificate (a CA, or no documentSigning usage)")


def _state_or_new(store: KeyStore, root_cert: x509.Certificate | None) -> dict:
    if store.state_path.exists():
        if root_cert is not None and root_cert != store.root_certificate():
            raise CeremonyError(f"{store.root_cert_path}: another root than the one given")
        return store._state()
    if root_cert is None:
        raise CeremonyError(f"{store.folder}: no keys here: give the root's certificate (--root-cert root.cert.pem)")
    from .keys import _write_public

    if not store.folder.exists():
        store.folder.mkdir(parents=True, mode=0o700)
        os.chmod(store.folder, 0o700)
    _write_public(store.root_cert_path, root_cert.public_bytes(serialization.Encoding.PEM), replace=False)
    state = {"format": KEYSTORE_FORMAT, "algorithm": "ec-p256", "current": None, "signers": [], "verify_urls": []}
    store.state_path.write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    return state


def _pending_key(store: KeyStore, pending: dict, passphrase: bytes) -> SigningKey:
    if pending.get("token"):
        return store._token_key(pending["token"])
    return store._load_private(store.folder / pending["key_file"], passphrase)
