"""Encrypted PKCS#8 key files with a key-derivation cost that current guidance asks for.

cryptography's `BestAvailableEncryption` writes PBES2 with PBKDF2-HMAC-SHA256 at 2,048
iterations, and (version 48) offers no way to raise the count for PKCS#8: its
`encryption_builder()` serves only PKCS#12 and OpenSSH. So the EncryptedPrivateKeyInfo
(RFC 5958, PBES2 of RFC 8018) is built here with asn1crypto, from cryptography's PBKDF2 and
AES-256-CBC. The result is the standard format: cryptography, OpenSSL (`openssl pkey`) and
pyHanko read it as any other encrypted PKCS#8 file.

Why PBKDF2 and not scrypt: OWASP's 2023 guidance is PBKDF2-HMAC-SHA256 with 600,000
iterations, or scrypt with N=2^17 (128 MiB); OpenSSL 3.0 refuses scrypt parameters above 32 MiB
by default (`openssl pkcs8 -scrypt -scrypt_N 131072`: "memory limit exceeded"), so a scrypt key
file at that cost would not open in the tools an operator has at hand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from asn1crypto import algos as asn1_algos
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

#: PBKDF2-HMAC-SHA256 iterations for new key files (OWASP Password Storage Cheat Sheet, 2023).
KDF_ITERATIONS = 600_000
SALT_BYTES = 16


@dataclass(frozen=True)
class KdfParams:
    """How a key file's encryption key is derived from the passphrase."""

    #: "pbkdf2" or "scrypt"; "pbes1" for the legacy schemes, "none" for an unencrypted file.
    kdf: str
    #: The PRF of PBKDF2 ("sha1", "sha256", ...), None otherwise.
    prf: str | None
    #: PBKDF2 iteration count, or scrypt's N.
    cost: int
    cipher: str

    def weaker_than(self, iterations: int) -> bool:
        """True when re-encrypting with PBKDF2-HMAC-SHA256 at `iterations` would make it stronger."""
        if self.kdf == "scrypt":
            return False
        return self.kdf != "pbkdf2" or self.prf not in ("sha256", "sha384", "sha512") or self.cost < iterations

    def __str__(self) -> str:
        if self.kdf == "pbkdf2":
            return f"PBKDF2-HMAC-{(self.prf or 'sha1').upper()}, {self.cost:,} iterations, {self.cipher}"
        return f"{self.kdf}, cost {self.cost}, {self.cipher}"


def encrypt_pem(key: object, passphrase: bytes, *, iterations: int = KDF_ITERATIONS) -> bytes:
    """PEM `ENCRYPTED PRIVATE KEY` of `key` (a cryptography private key): PBES2, PBKDF2-HMAC-SHA256
    at `iterations`, AES-256-CBC."""
    if not passphrase:
        raise ValueError("an empty passphrase cannot encrypt a key")
    if iterations < 1:
        raise ValueError("the PBKDF2 iteration count must be positive")
    plain = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,  # type: ignore[attr-defined]
                              serialization.NoEncryption())
    salt, iv = os.urandom(SALT_BYTES), os.urandom(16)
    secret = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(secret), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    info = asn1_keys.EncryptedPrivateKeyInfo({
        "encryption_algorithm": {
            "algorithm": "pbes2",
            "parameters": {
                "key_derivation_func": {
                    "algorithm": "pbkdf2",
                    "parameters": {"salt": asn1_algos.Pbkdf2Salt(name="specified", value=salt), "iteration_count": iterations, "prf": {"algorithm": "sha256"}},
                },
                "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
            },
        },
        "encrypted_data": ciphertext,
    })
    return asn1_pem.armor("ENCRYPTED PRIVATE KEY", info.dump())


def kdf_params(pem: bytes) -> KdfParams:
    """The key derivation of an encrypted PKCS#8 PEM file; raises ValueError if it is not one."""
    try:
        kind, _, der = asn1_pem.unarmor(pem)
        if kind != "ENCRYPTED PRIVATE KEY":
            raise ValueError(f"a {kind!r} PEM block")
        algorithm = asn1_keys.EncryptedPrivateKeyInfo.load(der)["encryption_algorithm"]
        name = algorithm["algorithm"].native
        if name != "pbes2":
            return KdfParams("pbes1", None, algorithm.kdf_iterations, name)
        params = algorithm["parameters"]
        kdf = params["key_derivation_func"]
        cipher = params["encryption_scheme"]["algorithm"].native
        if kdf["algorithm"].native == "pbkdf2":
            return KdfParams("pbkdf2", kdf["parameters"]["prf"]["algorithm"].native,
                             kdf["parameters"]["iteration_count"].native, cipher)
        return KdfParams(str(kdf["algorithm"].native), None, 0, cipher)
    except ValueError:
        raise
    except Exception as exc:  # asn1crypto raises several types on a damaged file
        raise ValueError(f"not an encrypted PKCS#8 key ({type(exc).__name__}: {exc})") from None
