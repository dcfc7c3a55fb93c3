import base64
import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import cbor2
import pytest
import qrcode
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certgen.crypto import DocumentSigner, key_id
from certgen.errors import SealFormatError
from certgen.model import DocumentKind
from certgen.seal import SealClaims, SealReason, open_seal, parse_seal_text, seal_text, sign_seal, verify_sign1
from certgen.trust import TrustList
from tests.conftest import DATA, NOW

URL = "https://verifikasi.example.id/v/"
VECTORS = json.loads((DATA / "seal_vectors.json").read_text(encoding="utf-8"))


def person_claims(holder: str = "Ni Luh Putu Ayu Kusumawardhani Setiawati", signed_at: datetime = NOW) -> SealClaims:
    return SealClaims("SK-2026-000123-6", DocumentKind.PERSON, holder, "SKM-PTK-03/2024",
                      date(2026, 11, 24), date(2029, 11, 23), "ID-BSKP", signed_at)


# -- golden vectors ---------------------------------------------------------------------------

@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_golden_vector(vector):
    cert = x509.load_der_x509_certificate(base64.b64decode(vector["certificate"]))
    c = vector["claims"]
    claims = SealClaims(c["number"], DocumentKind(c["kind"]), c["holder"], c["scheme"], date.fromisoformat(c["granted"]),
                        date.fromisoformat(c["expires"]) if c["expires"] else None, c["issuer"],
                        datetime.fromisoformat(c["signed_at"]), c["subject"])
    # the claims encode to exactly the recorded bytes ...
    assert cbor2.dumps(claims.to_cwt()).hex() == vector["cwt_hex"]
    cose = bytes.fromhex(vector["cose_hex"])
    # ... the text form is address + base32 of the COSE ...
    assert vector["text"] == seal_text(cose, vector["verify_url"])
    assert parse_seal_text(vector["text"]) == cose
    # ... and it verifies to those claims with the recorded algorithm
    result = open_seal(vector["text"], TrustList.from_certificates([cert]), datetime.fromisoformat(vector["verify_at"]))
    assert result.ok, result.detail
    assert result.claims == claims
    assert verify_sign1(cose, TrustList.from_certificates([cert]), datetime.fromisoformat(vector["verify_at"])).alg.jose_name == vector["alg"]


def test_golden_vector_with_one_bit_flipped_fails():
    vector = VECTORS[0]
    cert = x509.load_der_x509_certificate(base64.b64decode(vector["certificate"]))
    cose = bytearray(bytes.fromhex(vector["cose_hex"]))
    cose[-10] ^= 0x01  # inside the signature
    result = verify_sign1(bytes(cose), TrustList.from_certificates([cert]), datetime.fromisoformat(vector["verify_at"]))
    assert result.reason is SealReason.BAD_SIGNATURE


# -- round trips and sizes --------------------------------------------------------------------

def test_sign_and_open(signer, keystore):
    claims = person_claims()
    text = seal_text(sign_seal(claims, signer), URL)
    assert text.startswith(URL) and text[len(URL):].isupper()
    result = open_seal(text, keystore.trust_list(), NOW)
    assert result.ok and result.reason is SealReason.OK
    assert result.claims == replace(claims, signed_at=NOW.replace(microsecond=0))
    assert result.kid == key_id(signer.certificate)


def test_typical_person_seal_fits_qr_version_13_at_ecc_m(signer):
    text = seal_text(sign_seal(person_claims("A" * 20 + "Ñ" + "b" * 19), signer), URL)
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text, optimize=3)
    qr.make(fit=True)
    assert qr.version <= 13
    from certgen.barcode import qr_matrix
    assert qr_matrix(text).version <= 13  # the encoder the documents are printed with


def test_protected_header_names_alg_and_kid(signer):
    cose = sign_seal(person_claims(), signer)
    tag = cbor2.loads(cose)
    assert tag.tag == 18
    assert cbor2.loads(tag.value[0]) == {1: -7, 4: key_id(signer.certificate)}


# -- negative paths ---------------------------------------------------------------------------

def _other_signer() -> DocumentSigner:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intruder")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(5).not_valid_before(NOW - timedelta(days=30)).not_valid_after(NOW + timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return DocumentSigner(key, cert)


def test_unknown_signer(keystore):
    text = seal_text(sign_seal(person_claims(), _other_signer()), URL)
    result = open_seal(text, keystore.trust_list(), NOW)
    assert not result.ok and result.reason is SealReason.UNKNOWN_KID


def test_kid_of_trusted_signer_but_key_of_another(keystore, signer):
    intruder = _other_signer()
    claims = cbor2.dumps(person_claims().to_cwt())
    protected = cbor2.dumps({1: -7, 4: signer.kid})
    from certgen.seal import _sig_structure
    sig = intruder.sign(_sig_structure(protected, claims))
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, claims, sig]))
    assert verify_sign1(cose, keystore.trust_list(), NOW).reason is SealReason.BAD_SIGNATURE


def test_revoked_key_judged_by_signing_time(keystore, signer):
    revoked_at = datetime(2026, 11, 20, tzinfo=timezone.utc)
    trust = keystore.trust_list().revoke(signer.kid, revoked_at, "key compromise")
    before = seal_text(sign_seal(person_claims(signed_at=revoked_at - timedelta(hours=1)), signer), URL)
    after = seal_text(sign_seal(person_claims(signed_at=revoked_at + timedelta(hours=1)), signer), URL)
    assert open_seal(before, trust, NOW).ok
    result = open_seal(after, trust, NOW)
    assert not result.ok and result.reason is SealReason.KEY_REVOKED
    assert "key compromise" in result.detail


def test_signed_in_the_future(keystore, signer):
    text = seal_text(sign_seal(person_claims(signed_at=NOW + timedelta(hours=1)), signer), URL)
    assert open_seal(text, keystore.trust_list(), NOW).reason is SealReason.SIGNED_IN_FUTURE


def test_signed_before_the_signer_existed(keystore, signer):
    text = seal_text(sign_seal(person_claims(signed_at=datetime(2020, 1, 1, tzinfo=timezone.utc)), signer), URL)
    assert open_seal(text, keystore.trust_list(), NOW).reason is SealReason.KEY_NOT_YET_VALID


def test_valid_signature_over_foreign_claims(keystore, signer):
    """A COSE signed by a trusted key whose payload is not a certgen body: BAD_CLAIMS."""
    payload = cbor2.dumps({1: "someone", 6: int(NOW.timestamp())})
    protected = cbor2.dumps({1: -7, 4: signer.kid})
    from certgen.seal import _sig_structure
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signer.sign(_sig_structure(protected, payload))]))
    result = open_seal(seal_text(cose, URL), keystore.trust_list(), NOW)
    assert result.reason is SealReason.BAD_CLAIMS and "document body" in result.detail


def test_unsupported_algorithm(keystore):
    for alg in (-257, -47):  # RS256 (PKCS#1 v1.5), ES256K: not accepted
        protected = cbor2.dumps({1: alg, 4: b"12345678"})
        cose = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, b"\xa0", b"x" * 96]))
        assert verify_sign1(cose, keystore.trust_list(), NOW).reason is SealReason.UNSUPPORTED_ALG


def test_missing_kid(keystore):
    cose = cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -7}), {}, b"\xa0", b"x" * 64]))
    assert verify_sign1(cose, keystore.trust_list(), NOW).reason is SealReason.NO_KID


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("ftp://x/v/AAAA", "scheme 'ftp'"),
    ("https://verifikasi.example.id/c/AAAAAAAA", "no /v/ part"),
    ("https://verifikasi.example.id/v/", "nothing after /v/"),
    ("https://verifikasi.example.id/v/ABC1DEFG", "'1', which is not a base32 character"),
    ("https://verifikasi.example.id/v/ABCDEFGHI", "impossible base32 length"),
    ("A" * 5000, "at most 4096"),
])
def test_malformed_text_is_named(text, message):
    with pytest.raises(SealFormatError, match=message):
        parse_seal_text(text)


@pytest.mark.parametrize("cose, message", [
    (b"\xff\xff", "not valid CBOR"),
    (cbor2.dumps(0), "not a COSE_Sign1"),
    (cbor2.dumps(cbor2.CBORTag(98, [])), "tag 98 is not COSE_Sign1"),
    (cbor2.dumps([b"", {}, b""]), "array of four"),
    (cbor2.dumps([1, {}, b"", b""]), "wrong types"),
    (cbor2.dumps([b"", [], b"", b""]), "unprotected header is not a map"),
    (cbor2.dumps([b"\x01", {}, b"", b""]), "protected header is not a map"),
    (b"\x81" * 3000, "at most 2048"),
])
def test_malformed_cose_is_reported_not_raised(keystore, cose, message):
    result = verify_sign1(cose, keystore.trust_list(), NOW)
    assert not result.ok and result.reason is SealReason.MALFORMED
    assert message in result.detail


def test_non_canonical_last_character_is_refused(signer):
    text = seal_text(sign_seal(person_claims(), signer), URL)
    # 197 bytes use 1 bit of the last base32 character; setting an unused bit keeps the bytes
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    last = alphabet.index(text[-1])
    altered = text[:-1] + alphabet[last ^ 0b00001]
    with pytest.raises(SealFormatError, match="canonical base32"):
        parse_seal_text(altered)


def test_trailing_bytes_after_the_cose_are_refused(keystore, signer):
    cose = sign_seal(person_claims(), signer) + b"\x00"
    result = verify_sign1(cose, keystore.trust_list(), NOW)
    assert result.reason is SealReason.MALFORMED and "trailing data" in result.detail
