"""Coverage-guided fuzzing of the seal decoder (atheris): barcode text, COSE bytes, claims.

Each input is tried three ways: as barcode text through `Verifier.verify_seal` (must give a
report with a verdict), as COSE_Sign1 bytes through `verify_sign1` (must give a result, never
raise), and as a CWT claims payload that this harness signs with its own DSC, so that the
claims reader (`SealClaims.from_cwt`), which sits behind the signature, is reached too.

    PYTHONPATH=$PWD python fuzz/fuzz_seal.py fuzz/corpus/seal fuzz/seeds/seal -max_total_time=1800
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports():
    import cbor2

    from certgen import seal as seal_module
    from certgen.seal import COSE_SIGN1_TAG, HDR_ALG, HDR_KID, SealReason, open_seal, seal_text, verify_sign1
    from verify.formats import report_json
    from verify.report import Verdict
    from verify.service import Verifier

from fuzz.pki import NOW, PASSPHRASE, URL, fresh_keystore, seeds_pki  # noqa: E402

TRUST, _ROOT, _ = seeds_pki()
VERIFIER = Verifier(TRUST, None, None, lambda: NOW)
_KEYS = fresh_keystore()
SIGNER = _KEYS.current_signer(PASSPHRASE, now=NOW)
OWN_TRUST = _KEYS.trust_list()


def _signed(payload: bytes) -> bytes:
    protected = cbor2.dumps({HDR_ALG: SIGNER.alg.value, HDR_KID: SIGNER.kid})
    signature = SIGNER.sign(seal_module._sig_structure(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    report = VERIFIER.verify_seal(text)
    assert report.verdict in Verdict and report_json(report)["checks"], report
    result = verify_sign1(data, TRUST, NOW)
    assert result.reason in SealReason
    opened = open_seal(seal_text(_signed(data), URL), OWN_TRUST, NOW)
    assert opened.reason in SealReason
    assert opened.ok == (opened.reason is SealReason.OK)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
