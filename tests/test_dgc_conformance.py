"""Conformance of the COSE_Sign1 layer with the EU DCC public test vectors (tests/data/dgc)."""

import base64
import json
from datetime import datetime

import pytest
from cryptography import x509

from certgen.seal import verify_sign1
from certgen.trust import TrustList
from tests.conftest import DATA

CASES = sorted(p for p in (DATA / "dgc").glob("*.json")
               if "EXPECTEDVERIFY" in json.loads(p.read_text())["EXPECTEDRESULTS"])


def test_all_verify_cases_are_present():
    assert len(CASES) == 12


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_verify_sign1_agrees_with_expectedverify(path):
    case = json.loads(path.read_text())
    ctx = case["TESTCTX"]
    trust = TrustList.from_certificates([x509.load_der_x509_certificate(base64.b64decode(ctx["CERTIFICATE"]))])
    now = datetime.fromisoformat(ctx["VALIDATIONCLOCK"].replace("Z", "+00:00"))
    result = verify_sign1(bytes.fromhex(case["COSE"]), trust, now=now)
    assert result.ok is case["EXPECTEDRESULTS"]["EXPECTEDVERIFY"], f"{ctx['DESCRIPTION']}: {result.reason} {result.detail}"
    if result.ok:
        assert set(result.claims) >= {1, 4, 6, -260}  # the DCC's CWT claims came through
