"""Coverage-guided fuzzing of the trust-list loader (atheris).

Each input is loaded twice: as a whole signed file against the seeds' root (envelope
parsing; the root signature stops everything else), and as a payload that this harness
signs with its own root, so the payload reader behind the signature is reached. In the
payload, the placeholders @ROOT_SHA256@, @KID@ and @CERT@ are replaced by the harness's
root digest, DSC key id and DSC certificate (fuzz/make_seeds.py writes such templates).
The only exception allowed out of `TrustList.load_signed` is `TrustListError`.

    PYTHONPATH=$PWD python fuzz/fuzz_trustlist.py fuzz/corpus/trustlist fuzz/seeds/trustlist -max_total_time=1800
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports():
    from certgen import trust as trust_module
    from certgen.crypto import sign_bytes
    from certgen.errors import TrustListError
    from certgen.trust import TrustList

from cryptography.hazmat.primitives import serialization  # noqa: E402

from fuzz.pki import PASSPHRASE, NOW, fresh_keystore, seeds_pki  # noqa: E402

_, SEEDS_ROOT, _ = seeds_pki()
_KEYS = fresh_keystore()
ROOT = _KEYS.root_certificate()
ROOT_SIGNER = _KEYS.root_signer(PASSPHRASE)
_DSC = _KEYS.current_signer(PASSPHRASE, now=NOW)
_CERT = next(iter(_KEYS.trust_list().signers.values())).certificate
PLACEHOLDERS = {
    b"@ROOT_SHA256@": trust_module._sha256_hex(ROOT).encode(),
    b"@KID@": _DSC.kid.hex().encode(),
    b"@CERT@": base64.b64encode(_CERT.public_bytes(serialization.Encoding.DER)),
}


def _envelope(payload: bytes) -> bytes:
    alg, signature = sign_bytes(ROOT_SIGNER.private_key, payload)
    return json.dumps({"format": trust_module.TRUSTLIST_FORMAT, "alg": alg.jose_name,
                       "payload": trust_module._b64url(payload), "signature": trust_module._b64url(signature)}).encode()


def _load(data: bytes, root) -> None:
    try:
        TrustList.load_signed(data, root)
    except TrustListError as exc:
        assert str(exc)


def test_one_input(data: bytes) -> None:
    _load(data, SEEDS_ROOT)
    for placeholder, value in PLACEHOLDERS.items():
        data = data.replace(placeholder, value)
    _load(_envelope(data), ROOT)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
