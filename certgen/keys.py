"""Key files: the root, the document signers (DSCs), their rotation and revocation.

Layout of the key folder (docs/keys.md):

    root.key.pem            root private key, PKCS#8 encrypted with the passphrase, mode 0600
                            (PBKDF2-HMAC-SHA256, 600,000 iterations: certgen.pkcs8)
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
from typing import Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .config import check_verify_url
from .crypto import DocumentSigner, PrivateKey, SigningKey, key_id
from .dsc_profile import OID_DOCUMENT_SIGNING, Organisation, dsc_certificate, root_certificate  # noqa: F401
from .errors import ConfigError, KeyStoreError, TrustListError
from .note import LogKey, LogSigner
from .pkcs8 import KDF_ITERATIONS, KdfParams, encrypt_pem, kdf_params
from .token import TokenKey, TokenRef, find_key, generate_key, session
from .trust import TrustedSigner, TrustList

KEYSTORE_FORMAT = "certgen-keystore/1"
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
class SignerInfo:
    """A DSC as the key store knows it."""

    kid: bytes
    certificate: x509.Certificate
    revoked_at: datetime | None
    revocation_reason: str | None
    current: bool
    #: Where the private key is: None for a key file here, else "token LABEL of PKCS#11 module PATH"
    #: (or "elsewhere" for a signer certified here whose key is on the issuing machine).
    key_location: str | None = None


class KeyStore:
    """The key folder. Reading certificates needs no passphrase; using a private key does.

    `kdf_iterations` is the PBKDF2 cost of key files written from here on. Leave it at its
    default: tests pass a low value explicitly, to stay fast; nothing else should.

    `token_pin` gives the PIN of a PKCS#11 token (asked only when a key in a token is used);
    `token_module` replaces the module path recorded for a token (the library moved)."""

    def __init__(self, folder: Path, *, kdf_iterations: int = KDF_ITERATIONS,
                 token_pin: Callable[[], str] | None = None, token_module: str | None = None) -> None:
        self.folder = Path(folder)
        self.kdf_iterations = kdf_iterations
        self.token_pin = token_pin
        self.token_module = token_module

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
             root_years: int = 20, dsc_years: int = 10, log_origin: str = DEFAULT_LOG_ORIGIN,
             verify_urls: Sequence[str] = (), token: TokenRef | None = None) -> SignerInfo:
        """Create the root, a first DSC and the log key, and publish the trust list (naming
        `verify_urls`, the official verification addresses, when given). Refuses when any key
        file is already there. With `token`, the DSC's key is generated in that PKCS#11 token
        (P-256; the root and the log key stay encrypted files)."""
        _check_passphrase(passphrase)
        urls = _checked_urls(verify_urls)
        _check_token_algorithm(token, algorithm)
        if self.exists():
            raise KeyStoreError(f"{self.folder}: keys already exist; refusing to overwrite them")
        if token is not None:
            session(token, self._pin(token), rw=True)  # module, token and PIN checked before any file is written
        if not self.folder.exists():
            self.folder.mkdir(parents=True, mode=0o700)
            os.chmod(self.folder, 0o700)  # whatever the umask: only the owner lists the key folder
        root_key = algorithm.generate()
        root_cert = root_certificate(root_key, org, now, root_years)
        _write_private(self.root_key_path, self._encrypt(root_key, passphrase))
        _write_public(self.root_cert_path, root_cert.public_bytes(serialization.Encoding.PEM))
        state = {"format": KEYSTORE_FORMAT, "algorithm": algorithm.value, "current": None, "signers": [],
                 "verify_urls": urls}
        info = self._new_dsc(root_key, root_cert, state, passphrase, algorithm, org, now, dsc_years, token)
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
               dsc_years: int = 10, algorithm: KeyAlgorithm | None = None, token: TokenRef | None = None) -> SignerInfo:
        """A new DSC becomes current; earlier ones stay in the (republished) trust list. With
        `token`, its key is generated in that PKCS#11 token; without, in a key file (so a
        rotation moves to a token and back)."""
        state = self._state()
        root_key = self._load_private(self.root_key_path, passphrase)
        root_cert = self.root_certificate()
        algorithm = algorithm or (KeyAlgorithm.EC_P256 if token else KeyAlgorithm(state["algorithm"]))
        _check_token_algorithm(token, algorithm)
        info = self._new_dsc(root_key, root_cert, state, passphrase, algorithm, org, now, dsc_years, token)
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

    def signed_trust_list(self, passphrase: bytes, *, now: datetime, verify_urls: Sequence[str] | None = None) -> bytes:
        """The trust list signed by the root, also written to `trustlist.json`. `verify_urls`
        replaces the official verification addresses it names; None keeps the recorded ones."""
        root_key = self._load_private(self.root_key_path, passphrase)
        if verify_urls is not None:
            state = self._state()
            state["verify_urls"] = _checked_urls(verify_urls)
            self._write_state(state)
        return self._publish(root_key, self.root_certificate(), now)

    def verify_urls(self) -> list[str]:
        """The official verification addresses recorded here (empty for a key store from before them)."""
        return list(self._state().get("verify_urls") or [])

    def key_files(self) -> list[Path]:
        """Every private key file: the root's, each DSC's (oldest first), then the log key's."""
        state = self._state()
        files = [self.root_key_path] + [self.dsc_key_path(bytes.fromhex(e["kid"])) for e in state["signers"]
                                        if _key_location(e) is None]
        return files + ([self.log_key_path] if state.get("log") else [])

    def key_protection(self) -> dict[Path, KdfParams]:
        """How each private key file is encrypted (no passphrase needed)."""
        result = {}
        for path in self.key_files():
            try:
                result[path] = kdf_params(path.read_bytes())
            except FileNotFoundError:
                raise KeyStoreError(f"{path}: key file is missing") from None
            except ValueError as exc:
                raise KeyStoreError(f"{path}: {exc}") from None
        return result

    def reencrypt(self, passphrase: bytes, *, new_passphrase: bytes | None = None, force: bool = False) -> list[Path]:
        """Re-encrypt the private key files with the current KDF cost (and `new_passphrase`, if
        given), each replaced atomically. Every key is decrypted first (all of them, so a wrong
        passphrase is named even when nothing needs rewriting), so a wrong passphrase or a damaged
        file changes nothing. Without `force`, files already at the cost are left alone.
        Returns the files rewritten."""
        if new_passphrase is not None:
            _check_passphrase(new_passphrase)
        protection = self.key_protection()
        keys = {path: self._load_private(path, passphrase) for path in protection}
        todo = [p for p, params in protection.items()
                if force or new_passphrase is not None or params.weaker_than(self.kdf_iterations)]
        for path in todo:
            key = keys[path]
            _atomic_write(path, self._encrypt(key, new_passphrase or passphrase), mode=0o600, replace=True)
        return todo

    def _publish(self, root_key: PrivateKey, root_cert: x509.Certificate, now: datetime) -> bytes:
        issued_at = self._next_issue_time(root_cert, now)
        data = self.trust_list().with_verify_urls(self.verify_urls()).to_signed_json(root_key, root_cert, issued_at)
        _write_public(self.trustlist_path, data)
        return data

    def _next_issue_time(self, root_cert: x509.Certificate, now: datetime) -> datetime:
        """`now`, or 1 µs after the trust list this store signed last when the clock has not
        moved past it (a frozen or coarse clock, two key commands in the same instant): every
        list is strictly newer than the one before, so the web instances, which refuse a list
        that is not newer, take each one (docs/keys.md)."""
        try:
            previous = TrustList.load_signed(self.trustlist_path.read_bytes(), root_cert).issued_at
        except (OSError, TrustListError):
            return now  # none yet, or not this root's: nothing to follow
        if previous is None or now > previous:
            return now
        return previous + timedelta(microseconds=1)

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
            result.append(SignerInfo(kid, cert, revoked, entry.get("revocation_reason"), entry["kid"] == state["current"],
                                     _key_location(entry)))
        return result

    def trust_list(self) -> TrustList:
        """The unsigned trust list of this key store (for local verification), naming the
        recorded official verification addresses."""
        log_key = self.log_key()
        return TrustList.from_signers((TrustedSigner(s.certificate, s.revoked_at, s.revocation_reason) for s in self.signers()),
                                      verify_urls=self.verify_urls(), log_keys=[log_key] if log_key else [])

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
        entry = self._entry(self._state(), current.kid.hex())
        if entry.get("token"):
            key: SigningKey = self._token_key(entry["token"])
            where = str(key.ref)  # type: ignore[union-attr]
        elif entry.get("key") == "elsewhere":
            raise KeyStoreError(f"the current signer {current.kid.hex()} was certified here, its key is on the issuing "
                                f"machine: issue there (docs/keys.md, key ceremony)")
        else:
            key = self._load_private(self.dsc_key_path(current.kid), passphrase)
            where = str(self.dsc_key_path(current.kid))
        if _spki(key.public_key()) != _spki(current.certificate.public_key()):
            raise KeyStoreError(f"{where}: private key does not match its certificate")
        return DocumentSigner(key, current.certificate)

    def root_signer(self, passphrase: bytes) -> DocumentSigner:
        """The root key, for signing the trust list and registry checkpoints."""
        return DocumentSigner(self._load_private(self.root_key_path, passphrase), self.root_certificate())

    # -- internals -----------------------------------------------------------------------
    def _new_dsc(self, root_key: PrivateKey, root_cert: x509.Certificate, state: dict, passphrase: bytes,
                 algorithm: KeyAlgorithm, org: Organisation, now: datetime, years: int,
                 token: TokenRef | None = None) -> SignerInfo:
        number = len(state["signers"]) + 1
        entry: dict = {}
        if token is not None:
            token_key = self.new_token_key(token, label=f"certgen-dsc-{now.year}-{number}")
            public = token_key.public_key()
            entry["token"] = token_entry(token_key)
        else:
            dsc_key = algorithm.generate()
            public = dsc_key.public_key()
        cert = dsc_certificate(public, root_key, root_cert, org, now, years, number)
        kid = key_id(cert)
        if token is None:
            _write_private(self.dsc_key_path(kid), self._encrypt(dsc_key, passphrase))
        _write_public(self.dsc_cert_path(kid), cert.public_bytes(serialization.Encoding.PEM))
        state["signers"].append({"kid": kid.hex(), "created": now.astimezone(timezone.utc).isoformat(),
                                 "revoked_at": None, "revocation_reason": None, **entry})
        state["current"] = kid.hex()
        self._write_state(state)
        return SignerInfo(kid, cert, None, None, True, _key_location(state["signers"][-1]))

    def new_token_key(self, token: TokenRef, *, label: str) -> TokenKey:
        """A new P-256 key generated inside `token` (the PIN from `token_pin`)."""
        return generate_key(token, self._pin(token), label=label)

    def _token_key(self, recorded: dict) -> TokenKey:
        try:
            ref = TokenRef(self.token_module or recorded["module"], recorded["token"])
            key_id_ = bytes.fromhex(recorded["key_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyStoreError(f"{self.state_path}: token entry is corrupted ({exc})") from None
        return find_key(ref, self._pin(ref), key_id_, label=recorded.get("key_label", ""))

    def _pin(self, token: TokenRef) -> str:
        if self.token_pin is None:
            raise KeyStoreError(f"{token}: no PIN given (CERTGEN_PKCS11_PIN, or run on a terminal to be asked)")
        return self.token_pin()

    def _encrypt(self, key: PrivateKey, passphrase: bytes) -> bytes:
        return encrypt_pem(key, passphrase, iterations=self.kdf_iterations)

    def _new_log_key(self, state: dict, passphrase: bytes, origin: str, now: datetime) -> LogKey:
        try:
            signer = LogSigner(origin, ed25519.Ed25519PrivateKey.generate())
            public = signer.public
        except ValueError as exc:
            raise KeyStoreError(f"log name {origin!r}: {exc}") from None
        _write_private(self.log_key_path, self._encrypt(signer.private_key, passphrase))
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


# -- files -----------------------------------------------------------------------------------

def token_entry(key: TokenKey) -> dict:
    """How keystore.json records a key in a token: module, token label, CKA_ID, CKA_LABEL."""
    return {"module": key.ref.module, "token": key.ref.token, "key_id": key.key_id.hex(), "key_label": key.label}


def _key_location(entry: dict) -> str | None:
    if entry.get("token"):
        return f"token {entry['token'].get('token')!r} of PKCS#11 module {entry['token'].get('module')}"
    return "elsewhere" if entry.get("key") == "elsewhere" else None


def _check_token_algorithm(token: TokenRef | None, algorithm: KeyAlgorithm) -> None:
    if token is not None and algorithm is not KeyAlgorithm.EC_P256:
        raise KeyStoreError(f"a document signer in a token is a P-256 key (ES256), not {algorithm.value}: "
                            f"use --algorithm ec-p256 with --pkcs11-module")


def _spki(key: object) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]


def _check_passphrase(passphrase: bytes) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise KeyStoreError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")


def _checked_urls(urls: Sequence[str]) -> list[str]:
    """Official verification addresses as the seal needs them (certgen.config.check_verify_url)."""
    if isinstance(urls, str):
        raise KeyStoreError("verify_urls must be a list of addresses, not one string")
    for url in urls:
        try:
            check_verify_url(url)
        except ConfigError as exc:
            raise KeyStoreError(str(exc).replace("CERTGEN_VERIFY_URL ", "verification address ")) from None
    return list(dict.fromkeys(urls))


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
