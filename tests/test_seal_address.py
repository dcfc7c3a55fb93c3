"""The seal's address: official addresses in the signed trust list, and ECDSA on every NIST curve."""

from datetime import date, datetime, timedelta, timezone

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from certgen.cli import main as certgen
from certgen.crypto import Alg, key_id, verify_bytes
from certgen.keys import KeyStore
from certgen.errors import KeyStoreError
from certgen.model import DocumentKind
from certgen.seal import COSE_SIGN1_TAG, SealClaims, SealReason, _sig_structure, open_seal, seal_text, sign_seal
from certgen.trust import TrustList
from tests.conftest import NOW, PASSPHRASE
from verify.report import Reason, Verdict
from verify.service import Verifier

URL = "https://verifikasi.example.id/v/"
CLAIMS = SealClaims("SK-2026-000123-6", DocumentKind.PERSON, "Ayu Lestari", "SKM-PTK-03", date(2026, 11, 24),
                    date(2029, 11, 23), "ID-BSKP", NOW)


@pytest.fixture(scope="module")
def genuine(keystore, signer):
    cose = sign_seal(CLAIMS, signer)
    return cose, keystore.trust_list().with_verify_urls([URL])


def test_a_genuine_seal_under_another_host_is_refused(genuine):
    cose, trust = genuine
    assert open_seal(seal_text(cose, URL), trust, NOW).ok
    for address in ("https://evil.example.com/phish/v/", "https://evil.example.com/v/",
                    "http://verifikasi.example.id/v/",  # not the scheme printed by the body
                    "https://verifikasi.example.id.evil.example.com/v/",
                    "https://verifikasi.example.id@evil.example.com/v/",
                    "https://evil.example.com/https://verifikasi.example.id/v/",
                    "https://verifikasi.example.id/other/v/"):
        result = open_seal(seal_text(cose, address), trust, NOW)
        assert result.reason is SealReason.HOST_NOT_OFFICIAL, address
        assert "not an official verification address" in result.detail and not result.ok


def test_case_of_scheme_host_and_code_does_not_matter(genuine):
    cose, trust = genuine
    text = seal_text(cose, URL)
    code = text[len(URL):]
    for variant in (text.upper(), "HTTPS://VERIFIKASI.EXAMPLE.ID/v/" + code, "https://Verifikasi.Example.ID/v/" + code,
                    URL + code.lower(), text.upper().replace("/V/", "/v/")):
        result = open_seal(variant, trust, NOW)
        assert result.ok and result.claims == CLAIMS, variant


def test_the_verifier_names_the_reason_and_says_invalid(genuine):
    cose, trust = genuine
    report = Verifier(trust, None, None, lambda: NOW).verify_seal(seal_text(cose, "https://evil.example.com/phish/v/"))
    assert report.verdict is Verdict.INVALID
    assert [c.reason for c in report.checks] == [Reason.SEAL_HOST_NOT_OFFICIAL]
    # bare base32 (typed code, the /v/ page of the service itself) has no address to check
    bare = Verifier(trust, None, None, lambda: NOW).verify_seal(seal_text(cose, "https://x/v/").rsplit("/v/", 1)[1])
    assert bare.checks[0].reason is Reason.SEAL_VALID


def test_official_addresses_travel_in_the_signed_trust_list(fresh_keystore, signer):
    data = fresh_keystore.signed_trust_list(PASSPHRASE, now=NOW, verify_urls=[URL, "https://cek.example.id/v/"])
    trust = TrustList.load_signed(data, fresh_keystore.root_certificate())
    assert trust.verify_urls == (URL, "https://cek.example.id/v/")
    # a later republication (rotation) keeps them
    fresh_keystore.rotate(PASSPHRASE, now=NOW)
    again = TrustList.load_signed(fresh_keystore.trustlist_path.read_bytes(), fresh_keystore.root_certificate())
    assert again.verify_urls == trust.verify_urls
    with pytest.raises(KeyStoreError, match="lower-case https:// address ending in /v/"):
        fresh_keystore.signed_trust_list(PASSPHRASE, now=NOW, verify_urls=["http://verifikasi.example.id/v/"])


def test_an_old_trust_list_without_addresses_still_loads_and_checks_no_host(fresh_keystore, signer):
    data = fresh_keystore.signed_trust_list(PASSPHRASE, now=NOW)  # key store from before: none recorded
    assert b"verify_urls" not in _payload(data)
    trust = TrustList.load_signed(data, fresh_keystore.root_certificate())
    assert trust.verify_urls == ()
    own = fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    assert open_seal(seal_text(sign_seal(CLAIMS, own), "https://evil.example.com/v/"), trust, NOW).ok


def test_cli_trustlist_takes_the_configured_address(cli, settings):
    result = cli(certgen, ["keys", "trustlist"])
    assert result.exit_code == 0, result.output
    assert f"official verification address(es): {settings.verify_url}" in result.output
    store = KeyStore(settings.keys_dir)
    trust = TrustList.load_signed(store.trustlist_path.read_bytes(), store.root_certificate())
    assert trust.verify_urls == (settings.verify_url,)
    listing = cli(certgen, ["keys", "list"])
    assert f"official verification address(es): {settings.verify_url}" in listing.output
    assert "warning" not in listing.output
    store.signed_trust_list(b"test-passphrase-0", now=NOW, verify_urls=["https://cek.example.id/v/"])
    moved = cli(certgen, ["keys", "list"])
    assert f"warning: CERTGEN_VERIFY_URL {settings.verify_url} is not among them" in moved.output


def _payload(data: bytes) -> bytes:
    import base64
    import json
    text = json.loads(data)["payload"]
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- ECDSA on P-384 and P-521 -------------------------------------------------------------------

def _certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test signer {key.curve.name}")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - timedelta(days=30)).not_valid_after(NOW + timedelta(days=365))
            .sign(key, hashes.SHA256()))


def _sign1(key: ec.EllipticCurvePrivateKey, kid: bytes, alg: int, digest: hashes.HashAlgorithm) -> bytes:
    payload = cbor2.dumps(CLAIMS.to_cwt())
    protected = cbor2.dumps({1: alg, 4: kid})
    r, s = decode_dss_signature(key.sign(_sig_structure(protected, payload), ec.ECDSA(digest)))
    size = (key.curve.key_size + 7) // 8
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, r.to_bytes(size, "big") + s.to_bytes(size, "big")]))


@pytest.mark.parametrize("curve, size", [(ec.SECP384R1(), 96), (ec.SECP521R1(), 132)])
def test_es256_by_a_p384_or_p521_key_is_a_valid_cose_signature(curve, size):
    """RFC 9053 section 2.1: ES256 names the hash (SHA-256), not the curve."""
    key = ec.generate_private_key(curve)
    cert = _certificate(key)
    trust = TrustList.from_certificates([cert])
    cose = _sign1(key, key_id(cert), -7, hashes.SHA256())
    result = open_seal(seal_text(cose, URL), trust, NOW)
    assert result.ok and result.claims == CLAIMS and "ES256" in result.detail
    # the r||s form has the curve's length; a signature cut to 64 bytes is refused, not crashed on
    signature = cbor2.loads(cose).value[3]
    assert len(signature) == size
    assert not verify_bytes(key.public_key(), Alg.ES256, b"data", signature[:64])
    # a flipped bit is a bad signature
    tampered = bytearray(cose)
    tampered[-1] ^= 1
    assert open_seal(seal_text(bytes(tampered), URL), trust, NOW).reason is SealReason.BAD_SIGNATURE


@pytest.mark.parametrize("curve, alg, digest", [(ec.SECP384R1(), -35, hashes.SHA384()), (ec.SECP521R1(), -36, hashes.SHA512()),
                                                (ec.SECP256R1(), -35, hashes.SHA384())])
def test_es384_and_es512_are_accepted_on_verification(curve, alg, digest):
    key = ec.generate_private_key(curve)
    cert = _certificate(key)
    cose = _sign1(key, key_id(cert), alg, digest)
    result = open_seal(seal_text(cose, URL), TrustList.from_certificates([cert]), NOW)
    assert result.ok, result.detail
    # the hash is bound by the algorithm: the same signature announced as ES256 fails
    relabelled = cbor2.loads(cose).value
    protected = cbor2.dumps({1: -7, 4: key_id(cert)})
    forged = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, relabelled[2], relabelled[3]]))
    assert open_seal(seal_text(forged, URL), TrustList.from_certificates([cert]), NOW).reason is SealReason.BAD_SIGNATURE


def test_a_curve_outside_the_nist_set_is_refused():
    key = ec.generate_private_key(ec.SECP256K1())
    assert not verify_bytes(key.public_key(), Alg.ES256, b"data", b"\x01" * 64)


def test_the_web_says_so_in_plain_words(fresh_keystore):
    from starlette.testclient import TestClient

    from verify.web.app import create_app
    from verify.web.config import WebConfig
    from verify.web.present import view

    fresh_keystore.signed_trust_list(PASSPHRASE, now=NOW, verify_urls=[URL])
    own = fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    phishing = seal_text(sign_seal(CLAIMS, own), "https://evil.example.com/phish/v/")
    config = WebConfig(trust_list=fresh_keystore.trustlist_path, root=fresh_keystore.root_cert_path, rate_limit_per_minute=0)
    with TestClient(create_app(config, now=lambda: NOW)) as client:
        api = client.post("/api/v1/seal", json={"text": phishing}).json()
        assert api["verdict"] == "INVALID" and api["checks"][0]["reason"] == "seal_host_not_official"
        genuine = client.post("/api/v1/seal", json={"text": seal_text(sign_seal(CLAIMS, own), URL).upper()}).json()
        assert genuine["checks"][0]["reason"] == "seal_valid"
        # an all-upper-case seal address opens /V/ on the phone
        assert client.get("/V/" + seal_text(sign_seal(CLAIMS, own), URL).rsplit("/v/", 1)[1]).status_code == 200
    report = Verifier(TrustList.load_signed(fresh_keystore.trustlist_path.read_bytes(), fresh_keystore.root_certificate()),
                      None, None, lambda: NOW).verify_seal(phishing)
    assert "bukan alamat verifikasi resmi" in view(report, "id")["warning"]
    assert "not the official verification address" in view(report, "en")["warning"]


def test_issue_refuses_an_address_outside_the_signed_trust_list(cli, settings, tmp_path):
    """A batch whose seals would all verify INVALID (seal_host_not_official) is refused before any
    number is taken or passphrase asked, naming both addresses."""
    from pathlib import Path

    from certgen.registry import Registry
    store = KeyStore(settings.keys_dir)
    store.signed_trust_list(PASSPHRASE, now=NOW, verify_urls=["https://cek.example.id/v/"])
    sample = Path(__file__).resolve().parent.parent / "samples" / "training.xlsx"
    result = cli(certgen, ["issue", "training", str(sample), "--output", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "https://cek.example.id/v/" in result.output
    assert f"CERTGEN_VERIFY_URL {settings.verify_url} is not among them" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    registry = Registry.open(settings.registry_url)
    try:
        assert registry.count() == 0
    finally:
        registry.close()
