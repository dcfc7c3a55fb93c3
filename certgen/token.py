"""Document signer keys in a PKCS#11 token (a hardware security module, a smart card, SoftHSM2).

The key is generated inside the token, marked sensitive and not extractable, and never leaves
it: certgen keeps only a reference (module, token label, CKA_ID) in keystore.json and the
public key from the token. Seals and checkpoints are signed through `TokenKey.sign`
(python-pkcs11, ECDSA P-256, the digest computed here and signed with the raw CKM_ECDSA
mechanism, which every token offers; SoftHSM2 2.6 has no CKM_ECDSA_SHA256); PDFs through
pyHanko's own PKCS#11 signer on the same session (`pdf_signer`).

Sessions are per process. PKCS#11 (v2.40, section 6.7.7) says a forked child must initialise
the library again and may not use its parent's sessions: `session` notices a new process id,
re-initialises the module and logs in again with the PIN it was given, so the issuing workers
forked by certgen.batch_pool each open their own. Nothing here reads the environment: the PIN
comes from the caller (the CLI: CERTGEN_PKCS11_PIN or a prompt).

Every failure of the module or the token becomes a `TokenError` naming the module, the token
and what went wrong (wrong PIN, no such token, not a PKCS#11 module), never a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from .crypto import ExternalKey
from .errors import KeyStoreError


class TokenError(KeyStoreError):
    """The PKCS#11 module, the token or a key in it cannot be used (the message says which)."""


@dataclass(frozen=True)
class TokenRef:
    """Where keys live: the PKCS#11 module (a shared library) and the token's label."""

    module: str
    token: str

    def __str__(self) -> str:
        return f"token {self.token!r} of PKCS#11 module {self.module}"


@dataclass
class _Open:
    pid: int
    pin_digest: bytes
    rw: bool
    session: Any


_sessions: dict[TokenRef, _Open] = {}
_library_pids: dict[str, int] = {}
#: Modules this process initialised again after a fork (see `_open_token`).
_reinitialised: set[str] = set()
#: How often a forked process initialises the module again when the token fails it (see `_open_token`).
FORK_RETRIES = 8


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:  # pragma: no cover - a dependency of certgen
        raise TokenError("python-pkcs11 is not installed: `pip install python-pkcs11`") from None
    return pkcs11


def _library(module: str) -> Any:
    """The loaded module, initialised in this process (again in a forked child)."""
    pkcs11 = _pkcs11()
    path = Path(module)
    if not path.is_file():
        raise TokenError(f"PKCS#11 module {module}: no such file (give the path of the token's shared library, "
                         f"e.g. /usr/lib/softhsm/libsofthsm2.so)")
    try:
        lib = pkcs11.lib(str(path))
    except pkcs11.PKCS11Error as exc:
        detail = str(exc).replace(f"OS exception while loading {path}: ", "")
        raise TokenError(f"{module}: not a PKCS#11 module ({detail})") from None
    except Exception as exc:  # the module's own initialisation failed in an unplanned way
        raise TokenError(f"{module}: the PKCS#11 module failed to load ({type(exc).__name__}: {exc})") from None
    pid = os.getpid()
    if _library_pids.setdefault(str(path), pid) != pid:
        # inherited across fork: initialise again (PKCS#11 v2.40 6.7.7); the parent's sessions are not ours
        try:
            lib.finalize()
        except pkcs11.PKCS11Error:
            pass
        try:
            lib.initialize()
        except pkcs11.PKCS11Error as exc:
            raise TokenError(f"{module}: cannot initialise the PKCS#11 module in worker process {pid} "
                             f"({type(exc).__name__})") from None
        for ref in [r for r in _sessions if r.module == module]:
            del _sessions[ref]
        _library_pids[str(path)] = pid
        _reinitialised.add(module)
    return lib


def _open_token(lib: Any, ref: TokenRef, pin: str, rw: bool) -> Any:
    """A session with the token labelled `ref.token`, logged in with `pin`.

    SoftHSM2 2.6 (file object store) sometimes reads no token, or fails with CKR_GENERAL_ERROR,
    when a forked worker initialises it while another worker logs in (measured here: one
    worker in two with two workers, cured by initialising again a moment later). So a process
    that initialised the module after a fork tries again, up to `FORK_RETRIES` times with a
    growing random pause (at most about 2 s), before it reports the error; a wrong PIN is
    never retried."""
    pkcs11 = _pkcs11()
    transient = (pkcs11.NoSuchToken, pkcs11.GeneralError, pkcs11.DeviceError, pkcs11.TokenNotPresent,
                 pkcs11.TokenNotRecognised)
    for attempt in range(FORK_RETRIES + 1):
        try:
            return lib.get_token(token_label=ref.token).open(user_pin=pin, rw=rw)
        except transient:
            if ref.module not in _reinitialised or attempt == FORK_RETRIES:
                raise
        time.sleep(random.uniform(0.02, 0.08) * (attempt + 1))
        try:
            lib.finalize()
        except pkcs11.PKCS11Error:
            pass
        lib.initialize()
    raise AssertionError("unreachable")  # pragma: no cover


def session(ref: TokenRef, pin: str, *, rw: bool = False) -> Any:
    """A logged-in session with the token, one per process (re-opened after fork, or when
    another PIN is given: the login state of a PKCS#11 application is shared by its sessions,
    so a cached session must not vouch for a PIN it was not opened with)."""
    pkcs11 = _pkcs11()
    pid = os.getpid()
    digest = hashlib.sha256(pin.encode("utf-8")).digest()
    current = _sessions.get(ref)
    if current is not None and current.pid == pid:
        if hmac.compare_digest(current.pin_digest, digest) and (current.rw or not rw):
            return current.session
        _close(ref)
    lib = _library(ref.module)
    try:
        opened = _open_token(lib, ref, pin, rw)
    except pkcs11.NoSuchToken:
        labels = ", ".join(repr(label) for label in _token_labels(lib)) or "none"
        raise TokenError(f"{ref}: no such token (tokens there: {labels})") from None
    except pkcs11.MultipleTokensReturned:
        raise TokenError(f"{ref}: more than one token has this label; give each token its own") from None
    except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange):
        raise TokenError(f"{ref}: wrong PIN") from None
    except pkcs11.PinLocked:
        raise TokenError(f"{ref}: the PIN is locked (too many wrong tries); the security officer must reset it") from None
    except pkcs11.PinExpired:
        raise TokenError(f"{ref}: the PIN has expired; change it with the token's own tool") from None
    except pkcs11.PKCS11Error as exc:
        raise TokenError(f"{ref}: cannot open a session ({type(exc).__name__}: {exc})") from None
    _sessions[ref] = _Open(pid, digest, rw, opened)
    return opened


def _close(ref: TokenRef) -> None:
    current = _sessions.pop(ref, None)
    if current is not None and current.pid == os.getpid():
        try:
            current.session.close()
        except Exception:  # a session the token dropped already: nothing to close
            pass


def close_sessions() -> None:
    """Close this process's sessions (the tests, between tokens)."""
    for ref in list(_sessions):
        _close(ref)


def _token_labels(lib: Any) -> list[str]:
    try:
        return [slot.get_token().label for slot in lib.get_slots(token_present=True)]
    except Exception:
        return []


@dataclass(frozen=True, eq=False)
class TokenKey(ExternalKey):
    """A P-256 private key in a token, found by its CKA_ID; signs ES256 through the session of
    the calling process. The PIN is held for the life of the process (as a decrypted key file
    would be), so that forked workers can log in; it is never written anywhere."""

    ref: TokenRef
    key_id: bytes
    public: ec.EllipticCurvePublicKey
    pin: str = field(repr=False)
    label: str = ""
    _handles: dict = field(default_factory=dict, repr=False, compare=False)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.public

    def session(self) -> Any:
        """This process's session with the key's token."""
        return session(self.ref, self.pin)

    def handle(self) -> Any:
        """The private key object in this process's session."""
        pkcs11 = _pkcs11()
        current = self.session()
        cached = self._handles.get("key")
        if cached is not None and cached[0] is current:
            return cached[1]
        try:
            key = current.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, id=self.key_id)
        except pkcs11.NoSuchKey:
            raise TokenError(f"{self.ref}: no private key with id {self.key_id.hex()} (deleted, or another token?)") from None
        except pkcs11.MultipleObjectsReturned:
            raise TokenError(f"{self.ref}: several private keys have id {self.key_id.hex()}") from None
        self._handles["key"] = (current, key)
        return key

    def sign(self, data: bytes) -> bytes:
        pkcs11 = _pkcs11()
        try:
            signature = self.handle().sign(hashlib.sha256(data).digest(), mechanism=pkcs11.Mechanism.ECDSA)
        except TokenError:
            raise
        except pkcs11.PKCS11Error as exc:
            raise TokenError(f"{self.ref}: signing with key {self.key_id.hex()} failed ({type(exc).__name__}: {exc})") from None
        if len(signature) != 64:
            raise TokenError(f"{self.ref}: the token returned a {len(signature)}-byte ECDSA signature, not 64 (P-256 r||s)")
        return bytes(signature)

    def protection(self) -> dict[str, bool]:
        """The key's protection attributes as the token reports them (sensitive, extractable,
        always sensitive, never extractable): what says the key cannot leave the token."""
        pkcs11 = _pkcs11()
        key = self.handle()
        names = {"sensitive": pkcs11.Attribute.SENSITIVE, "extractable": pkcs11.Attribute.EXTRACTABLE,
                 "always_sensitive": pkcs11.Attribute.ALWAYS_SENSITIVE,
                 "never_extractable": pkcs11.Attribute.NEVER_EXTRACTABLE}
        return {name: bool(key[attribute]) for name, attribute in names.items()}


def generate_key(ref: TokenRef, pin: str, *, label: str) -> TokenKey:
    """A new P-256 key pair generated inside the token: the private key sensitive, not
    extractable, usable only to sign. Its CKA_ID is 16 random bytes."""
    pkcs11 = _pkcs11()
    from pkcs11.util.ec import encode_named_curve_parameters

    Attribute = pkcs11.Attribute
    key_id = os.urandom(16)
    opened = session(ref, pin, rw=True)
    try:
        params = opened.create_domain_parameters(
            pkcs11.KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
        params.generate_keypair(
            store=True, label=label, id=key_id,
            public_template={Attribute.VERIFY: True, Attribute.TOKEN: True},
            private_template={Attribute.SIGN: True, Attribute.TOKEN: True, Attribute.PRIVATE: True,
                              Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.DECRYPT: False,
                              Attribute.UNWRAP: False, Attribute.DERIVE: False})
    except pkcs11.PKCS11Error as exc:
        raise TokenError(f"{ref}: generating a P-256 key failed ({type(exc).__name__}: {exc})") from None
    return find_key(ref, pin, key_id, label=label)


def find_key(ref: TokenRef, pin: str, key_id: bytes, *, label: str = "") -> TokenKey:
    """The key with CKA_ID `key_id`, with its public key read from the token. Refuses a key
    the token would let out (extractable or not sensitive)."""
    pkcs11 = _pkcs11()
    from pkcs11.util.ec import encode_ec_public_key

    opened = session(ref, pin)
    try:
        public = opened.get_key(object_class=pkcs11.ObjectClass.PUBLIC_KEY, id=key_id)
        der = encode_ec_public_key(public)
    except pkcs11.NoSuchKey:
        raise TokenError(f"{ref}: no key with id {key_id.hex()} (deleted, or another token?)") from None
    except pkcs11.PKCS11Error as exc:
        raise TokenError(f"{ref}: cannot read key {key_id.hex()} ({type(exc).__name__}: {exc})") from None
    public_key = load_der_public_key(der)
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        raise TokenError(f"{ref}: key {key_id.hex()} is not a P-256 key")
    key = TokenKey(ref, key_id, public_key, pin, label)
    flags = key.protection()
    if flags["extractable"] or not flags["sensitive"]:
        raise TokenError(f"{ref}: key {key_id.hex()} can leave the token (sensitive={flags['sensitive']}, "
                         f"extractable={flags['extractable']}): refusing to sign with it")
    return key


def pdf_signer(key: TokenKey, certificate: Any, chain: list[Any]) -> Any:
    """pyHanko's PKCS#11 signer for `key` (asn1crypto certificates), on this process's session:
    ECDSA through the raw mechanism, as `TokenKey.sign`. Build one per process."""
    from pyhanko.sign.pkcs11 import PKCS11Signer

    return PKCS11Signer(key.session(), signing_cert=certificate, ca_chain=chain, key_id=key.key_id,
                        use_raw_mechanism=True, other_certs_to_pull=())
