"""Key files: the root, the document signers (DSCs), their rotation and revocation.

Layout of the key folder (docs/keys.md):

    root.key.pem            root private key, PKCS#8 encrypted with the passphrase, mode 0600
    root.cert.pem           root certificate (self-signed CA)
    dsc-<kid>.key.pem       one per DSC, PKCS#8 encrypted, mode 0600
    dsc-<kid>.cert.pem      its certificate, issued by the root
    log.key.pem             the log key (Ed25519) that signs checkpoints, PKCS#8 encrypted, mode 0600
    keystore.json           which DSC is current, revocations (time and reason), the log key's name
    trustlist.json          the root-signed trust list, written by `certgen keys trustlist`

Nothing here overwrites an existing key; every file is written to a temporary name and renamed.
"""

from __future__ import annotations

import enum
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from .crypto import DocumentSigner, PrivateKey, key_id
from .errors import KeyStoreError
from .note import LogKey, LogSigner
from .trust import TrustedSigner, TrustList

KEYSTORE_FORMAT = "certgen-keystore/1"
#: id-kp-documentSigning (RFC 9336): the purpose of a DSC.
OID_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
MIN_PASSPHRASE = 8
#: Name (= origin line) of the log when none is given: the verification host, then /log.
DEFAULT_LOG_ORIGIN = "verifikasi.example.id/log"


class KeyAlgorithm(str, enum.Enum):
    """Key types offered by `certgen keys init --algorithm`."""

    EC_P256 = "ec-p256"
    RSA_3072 = "rsa-3072"

    def generate(self) -> PrivateKey:
        if self is KeyAlgorithm.EC_P256:
            return ec.generate_private_key(ec.SECP256R1())
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)


@dataclass(frozen=True)
class Organisation:
    """Names written into certificates."""

    name: str = "Balai Sertifikasi, Kementerian Perdagangan"
    country: str = "ID"

    def subject(self, common_name: str) -> x509.Name:
        return x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, self.country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.name),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ])


@dataclass(frozen=True)
class SignerInfo:
    """A DSC as the key store knows it."""

    kid: bytes
    certificate: x509.Certificate
    revoked_at: datetime | None
    revocation_reason: str | None
    current: bool


class KeyStore:
    """The key folder. Reading certificates needs no passphrase; using a private key does."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    # -- paths ---------------------------------------------------------------------------
    @property
    def root_key_path(self) -> Path:
        return self.folder / "root.key.pem"

    @property
    def root_cert_path(self) -> Path:
        return self.folder / "root.cert.pem"

    @property
    def state_path(self) -> Path:
        return self.folder / "keystore.json"

    @property
    def trustlist_path(self) -> Path:
        return self.folder / "trustlist.json"

    @property
    def log_key_path(self) -> Path:
        return self.folder / "log.key.pem"

    def dsc_key_path(self, kid: bytes) -> Path:
        return self.folder / f"dsc-{kid.hex()}.key.pem"

    def dsc_cert_path(self, kid: bytes) -> Path:
        return self.folder / f"dsc-{kid.hex()}.cert.pem"

    def exists(self) -> bool:
        return self.root_key_path.exists() or self.root_cert_path.exists() or self.state_path.exists()

    # -- commands ------------------------------------------------------------------------
    def init(self, passphrase: bytes, algorithm: KeyAlgorithm = KeyAlgorithm.EC_P256, *,
             now: datetime, org: Organisation = Organisation(),
             root_years: int = 20, dsc_years: int = 10, log_origin: str = DEFAULT_LOG_ORIGIN) -> SignerInfo:
        """Create the root, a first DSC and the log key, and publish the trust list. Refuses
        when any key file is already there."""
        _check_passphrase(passphrase)
        if self.exists():
            raise KeyStoreError(f"{self.folder}: keys already exist; refusing to overwrite them")
        self.folder.mkdir(parents=True, exist_ok=True)
        root_key = algorithm.generate()
        root_cert = _root_certificate(root_key, org, now, root_years)
        _write_private(self.root_key_path, _encrypt(root_key, passphrase))
        _write_public(self.root_cert_path, root_cert.public_bytes(serialization.Encoding.PEM))
        state = {"format": KEYSTORE_FORMAT, "algorithm": algorithm.value, "current": None, "signers": []}
        info = self._new_dsc(root_key, root_cert, state, passphrase, algorithm, org, now, dsc_years)
        self._new_log_key(state, passphrase, log_origin, now)
        self._publish(root_key, root_cert, now)
        return info

    def init_log(self, passphrase: bytes, *, now: datetime, origin: str = DEFAULT_LOG_ORIGIN) -> LogKey:
        """Add the log key to a key folder made before there was one, and republish the trust
        list (root-signed) naming it. Refuses when a log key exists."""
        state = self._state()
        if state.get("log") or self.log_key_path.exists():
            raise KeyStoreError(f"{self.log_key_path}: a log key exists already; refusing to overwrite it")
        root_key = self._load_private(self.root_key_path, passphrase)
        key = self._new_log_key(state, passphrase, origin, now)
        self._publish(root_key, self.root_certificate(), now)
        return key

    def log_key(self) -> LogKey | None:
        """The log's public key (no passphrase needed), None for a folder without one."""
        entry = self._state().get("log")
        if not entry:
            return None
        try:
            return LogKey.from_vkey(entry["vkey"])
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyStoreError(f"{self.state_path}: log key entry is corrupted ({exc})") from None

    def log_signer(self, passphrase: bytes) -> LogSigner:
        """The log key with its decrypted private key, for signing checkpoints."""
        public = self.log_key()
        if public is None:
            raise KeyStoreError(f"{self.folder}: no log key; run `certgen keys init-log`")
        key = self._load_private(self.log_key_path, passphrase)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise KeyStoreError(f"{self.log_key_path}: not an Ed25519 key")
        signer = LogSigner(public.name, key)
        if signer.public != public:
            raise KeyStoreError(f"{self.log_key_path}: private key does not match the log key in {self.state_path.name}")
        return signer

    def rotate(self, passphrase: bytes, *, now: datetime, org: Organisation = Organisation(),
               dsc_years: int = 10, algorithm: KeyAlgorithm | None = None) -> SignerInfo:
        """A new DSC becomes current; earlier ones stay in the (republished) trust list."""
        state = self._state()
        root_key = self._load_private(self.root_key_path, passphrase)
        root_cert = self.root_certificate()
        algorithm = algorithm or KeyAlgorithm(state["algorithm"])
        info = self._new_dsc(root_key, root_cert, state, passphrase, algorithm, org, now, dsc_years)
        self._publish(root_key, root_cert, now)
        return info

    def revoke(self, kid_hex: str, *, at: datetime, reason: str) -> SignerInfo:
        """Mark a DSC compromised from `at` on. Publishing it needs `trust_list` + a signature."""
        if not reason.strip():
            raise KeyStoreError("a revocation needs a reason")
        if at.tzinfo is None:
            raise KeyStoreError("the revocation time needs a time zone, e.g. 2026-11-24T08:00:00+07:00")
        state = self._state()
        entry = self._entry(state, kid_hex)
        if entry.get("revoked_at"):
            raise KeyStoreError(f"signer {kid_hex} is already revoked since {entry['revoked_at']}")
        entry["revoked_at"] = at.astimezone(timezone.utc).isoformat()
        entry["revocation_reason"] = reason.strip()
        self._write_state(state)
        return next(s for s in self.signers() if s.kid.hex() == entry["kid"])

    def signed_trust_list(self, passphrase: bytes, *, now: datetime) -> bytes:
        """The trust list signed by the root, also written to `trustlist.json`."""
        return self._publish(self._load_private(self.root_key_path, passphrase), self.root_certificate(), now)

    def _publish(self, root_key: PrivateKey, root_cert: x509.Certificate, now: datetime) -> bytes:
        data = self.trust_list().to_signed_json(root_key, root_cert, now)
        _write_public(self.trustlist_path, data)
        return data

    # -- reading -------------------------------------------------------------------------
    def root_certificate(self) -> x509.Certificate:
        return _load_certificate(self.root_cert_path)

    def signers(self) -> list[SignerInfo]:
        """Every DSC ever created here, oldest first."""
        state = self._state()
        result = []
        for entry in state["signers"]:
            kid = bytes.fromhex(entry["kid"])
            cert = _load_certificate(self.dsc_cert_path(kid))
            if key_id(cert) != kid:
                raise KeyStoreError(f"{self.dsc_cert_path(kid)}: certificate does not match key id {kid.hex()}")
            revoked = datetime.fromisoformat(entry["revoked_at"]) if entry.get("revoked_at") else None
            result.append(SignerInfo(kid, cert, revoked, entry.get("revocation_reason"), entry["kid"] == state["current"]))
        return result

    def trust_list(self) -> TrustList:
        """The unsigned trust list of this key store (for local verification)."""
        log_key = self.log_key()
        return TrustList.from_signers((TrustedSigner(s.certificate, s.revoked_at, s.revocation_reason) for s in self.signers()),
                                      log_keys=[log_key] if log_key else [])

    def current_signer(self, passphrase: bytes, *, now: datetime | None = None) -> DocumentSigner:
        """The current DSC with its decrypted key. Refuses a revoked or expired one."""
        current = next((s for s in self.signers() if s.current), None)
        if current is None:
            raise KeyStoreError(f"{self.folder}: no current document signer; run `certgen keys rotate`")
        moment = now or datetime.now(timezone.utc)
        if current.revoked_at is not None and moment >= current.revoked_at:
            raise KeyStoreError(f"the current signer {current.kid.hex()} is revoked; run `certgen keys rotate`")
        if moment > current.certificate.not_valid_after_utc:
            raise KeyStoreError(f"the current signer {current.kid.hex()} expired; run `certgen keys rotate`")
        key = self._load_private(self.dsc_key_path(current.kid), passphrase)
        if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
                current.certificate.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
            raise KeyStoreError(f"{self.dsc_key_path(current.kid)}: private key does not match its certificate")
        return DocumentSigner(key, current.certificate)

    def root_signer(self, passphrase: bytes) -> DocumentSigner:
        """The root key, for signing the trust list and registry checkpoints."""
        return DocumentSigner(self._load_private(self.root_key_path, passphrase), self.root_certificate())

    # -- internals -----------------------------------------------------------------------
    def _new_dsc(self, root_key: PrivateKey, root_cert: x509.Certificate, state: dict, passphrase: bytes,
                 algorithm: KeyAlgorithm, org: Organisation, now: datetime, years: int) -> SignerInfo:
        dsc_key = algorithm.generate()
        number = len(state["signers"]) + 1
        cert = _dsc_certificate(dsc_key, root_key, root_cert, org, now, years, number)
        kid = key_id(cert)
        _write_private(self.dsc_key_path(kid), _encrypt(dsc_key, passphrase))
        _write_public(self.dsc_cert_path(kid), cert.public_bytes(serialization.Encoding.PEM))
        state["signers"].append({"kid": kid.hex(), "created": now.astimezone(timezone.utc).isoformat(),
                                 "revoked_at": None, "revocation_reason": None})
        state["current"] = kid.hex()
        self._write_state(state)
        return SignerInfo(kid, cert, None, None, True)

    def _new_log_key(self, state: dict, passphrase: bytes, origin: str, now: datetime) -> LogKey:
        try:
            signer = LogSigner(origin, ed25519.Ed25519PrivateKey.generate())
            public = signer.public
        except ValueError as exc:
            raise KeyStoreError(f"log name {origin!r}: {exc}") from None
        _write_private(self.log_key_path, _encrypt(signer.private_key, passphrase))
        state["log"] = {"name": origin, "vkey": public.vkey, "created": now.astimezone(timezone.utc).isoformat()}
        self._write_state(state)
        return public

    def _state(self) -> dict:
        if not self.state_path.exists():
            raise KeyStoreError(f"{self.folder}: no keys here; run `certgen keys init` first")
        try:
            state = json.loads(self.state_path.read_text("utf-8"))
            if state.get("format") != KEYSTORE_FORMAT:
                raise ValueError(f"format is {state.get('format')!r}")
            return state
        except ValueError as exc:
            raise KeyStoreError(f"{self.state_path}: corrupted ({exc})") from None

    def _write_state(self, state: dict) -> None:
        _write_public(self.state_path, (json.dumps(state, indent=1) + "\n").encode(), replace=True)

    def _entry(self, state: dict, kid_hex: str) -> dict:
        matches = [e for e in state["signers"] if e["kid"].startswith(kid_hex.lower())] if kid_hex else []
        if len(matches) != 1:
            known = ", ".join(e["kid"] for e in state["signers"])
            raise KeyStoreError(f"no single signer with key id {kid_hex!r} (known: {known})")
        return matches[0]

    def _load_private(self, path: Path, passphrase: bytes) -> PrivateKey:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(f"{path}: key file is missing") from None
        if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in data:
            raise KeyStoreError(f"{path}: not an encrypted PKCS#8 key file (corrupted?)")
        try:
            key = serialization.load_pem_private_key(data, password=passphrase)
        except (ValueError, TypeError) as exc:
            if "password" in str(exc).lower() or "decrypt" in str(exc).lower():
                raise KeyStoreError(f"{path}: wrong passphrase") from None
            if _encrypted_pkcs8_is_intact(data):
                # decrypted to garbage: a wrong passphrase whose padding passed by chance (1 in 256)
                raise KeyStoreError(f"{path}: wrong passphrase, or the encrypted key in the file is damaged") from None
            raise KeyStoreError(f"{path}: corrupted key file ({exc})") from None
        return key  # type: ignore[return-value]


def _encrypted_pkcs8_is_intact(pem: bytes) -> bool:
    """The file's outer layers (PEM armour, EncryptedPrivateKeyInfo) parse completely."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import pem as asn1_pem

    try:
        _, _, der = asn1_pem.unarmor(pem)
        info = asn1_keys.EncryptedPrivateKeyInfo.load(der, strict=True)
        info.native  # parses every field
    except Exception:
        return False
    return True


# -- certificates ----------------------------------------------------------------------------

def _root_certificate(key: PrivateKey, org: Organisation, now: datetime, years: int) -> x509.Certificate:
    subject = org.subject("Balai Sertifikasi Root CA")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )


def _dsc_certificate(key: PrivateKey, root_key: PrivateKey, root_cert: x509.Certificate, org: Organisation,
                     now: datetime, years: int, number: int) -> x509.Certificate:
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(org.subject(f"Balai Sertifikasi Document Signer {now.year}-{number}"))
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=365 * years), root_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        # documentSigning says what the key is for; emailProtection is what NSS (poppler's
        # pdfsig) requires of a signer it is asked to trust for signed documents.
        .add_extension(x509.ExtendedKeyUsage([OID_DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False)
        .sign(root_key, hashes.SHA256())  # type: ignore[arg-type]
    )


# -- files -----------------------------------------------------------------------------------

def _check_passphrase(passphrase: bytes) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise KeyStoreError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")


def _encrypt(key: PrivateKey, passphrase: bytes) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase))


def _load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        raise KeyStoreError(f"{path}: certificate file is missing") from None
    except ValueError as exc:
        raise KeyStoreError(f"{path}: corrupted certificate file ({exc})") from None


def _write_private(path: Path, data: bytes) -> None:
    _atomic_write(path, data, mode=0o600, replace=False)


def _write_public(path: Path, data: bytes, replace: bool = True) -> None:
    _atomic_write(path, data, mode=0o644, replace=replace)


def _atomic_write(path: Path, data: bytes, *, mode: int, replace: bool) -> None:
    """Write to a temporary file in the same folder, then rename; never clobber a key."""
    if not replace and path.exists():
        raise KeyStoreError(f"{path}: already exists; refusing to overwrite it")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if path appeared meanwhile: no silent overwrite
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
