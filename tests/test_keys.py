import json
import stat
from datetime import datetime, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from certgen.errors import KeyStoreError
from certgen.keys import OID_DOCUMENT_SIGNING, KeyAlgorithm, KeyStore
from tests.conftest import NOW, PASSPHRASE, TEST_KDF_ITERATIONS

CREATED = datetime(2026, 10, 24, tzinfo=timezone.utc)


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_init_writes_encrypted_keys_with_mode_0600(fresh_keystore):
    store = fresh_keystore
    signer = store.signers()[0]
    for path in (store.root_key_path, store.dsc_key_path(signer.kid)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_root_and_dsc_have_the_documented_extensions(fresh_keystore):
    root = fresh_keystore.root_certificate()
    dsc = fresh_keystore.signers()[0].certificate
    bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = root.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)

    assert dsc.issuer == root.subject
    dsc.verify_directly_issued_by(root)
    assert not dsc.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    dku = dsc.extensions.get_extension_for_class(x509.KeyUsage)
    assert dku.critical and dku.value.digital_signature and dku.value.content_commitment
    assert not dku.value.key_cert_sign
    eku = dsc.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert OID_DOCUMENT_SIGNING in eku and ExtendedKeyUsageOID.EMAIL_PROTECTION in eku


def test_rsa_3072_is_selectable(tmp_path):
    store = KeyStore(tmp_path / "k", kdf_iterations=TEST_KDF_ITERATIONS)
    store.init(PASSPHRASE, KeyAlgorithm.RSA_3072, now=CREATED)
    key = store.current_signer(PASSPHRASE, now=NOW).private_key
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 3072
    assert isinstance(store.root_certificate().public_key(), rsa.RSAPublicKey)


def test_init_refuses_to_overwrite_and_changes_nothing(fresh_keystore):
    before = _snapshot(fresh_keystore.folder)
    with pytest.raises(KeyStoreError, match="already exist; refusing to overwrite"):
        fresh_keystore.init(PASSPHRASE, now=NOW)
    assert _snapshot(fresh_keystore.folder) == before


def test_short_passphrase_is_refused(tmp_path):
    with pytest.raises(KeyStoreError, match="at least 8 characters"):
        KeyStore(tmp_path / "k", kdf_iterations=TEST_KDF_ITERATIONS).init(b"short", now=NOW)
    assert not (tmp_path / "k").exists()


def test_wrong_passphrase_is_named(fresh_keystore):
    with pytest.raises(KeyStoreError, match=r"dsc-[0-9a-f]{16}\.key\.pem: wrong passphrase"):
        fresh_keystore.current_signer(b"not-the-passphrase", now=NOW)
    with pytest.raises(KeyStoreError, match=r"root\.key\.pem: wrong passphrase"):
        fresh_keystore.rotate(b"not-the-passphrase", now=NOW)
    assert len(fresh_keystore.signers()) == 1  # nothing was created


def test_a_wrong_passphrase_that_decrypts_to_garbage_is_still_named(fresh_keystore):
    """One wrong passphrase in 256 passes the cipher's padding check and yields garbage instead
    of a decryption error: that is a wrong passphrase too, not a corrupted file (this made
    the test above fail now and then)."""
    from cryptography.hazmat.primitives import serialization

    path = fresh_keystore.dsc_key_path(fresh_keystore.signers()[0].kid)
    data = path.read_bytes()
    for attempt in range(5000):
        unlucky = b"wrong-%d" % attempt
        try:
            serialization.load_pem_private_key(data, password=unlucky)
        except ValueError as exc:
            if "password" not in str(exc).lower():
                break
    else:
        pytest.fail("no passphrase decrypting to garbage in 5000 attempts")
    with pytest.raises(KeyStoreError, match=r"dsc-[0-9a-f]{16}\.key\.pem: wrong passphrase, or the encrypted key"):
        fresh_keystore.current_signer(unlucky, now=NOW)


def test_missing_and_corrupted_key_files(fresh_keystore):
    kid = fresh_keystore.signers()[0].kid
    key_path = fresh_keystore.dsc_key_path(kid)
    data = key_path.read_bytes()
    key_path.write_bytes(data[:60] + b"garbage" + data[80:])
    with pytest.raises(KeyStoreError, match="corrupted key file"):
        fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    key_path.write_bytes(b"hello")
    with pytest.raises(KeyStoreError, match="not an encrypted PKCS#8 key file"):
        fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    key_path.unlink()
    with pytest.raises(KeyStoreError, match="key file is missing"):
        fresh_keystore.current_signer(PASSPHRASE, now=NOW)


def test_corrupted_certificate_and_state(fresh_keystore):
    kid = fresh_keystore.signers()[0].kid
    fresh_keystore.dsc_cert_path(kid).write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(KeyStoreError, match="corrupted certificate file"):
        fresh_keystore.signers()
    fresh_keystore.state_path.write_text("{not json")
    with pytest.raises(KeyStoreError, match=r"keystore\.json: corrupted"):
        fresh_keystore.signers()


def test_key_swapped_for_another_is_detected(fresh_keystore):
    first = fresh_keystore.signers()[0]
    second = fresh_keystore.rotate(PASSPHRASE, now=NOW)
    # put the first signer's key where the current one's should be
    fresh_keystore.dsc_key_path(second.kid).write_bytes(fresh_keystore.dsc_key_path(first.kid).read_bytes())
    with pytest.raises(KeyStoreError, match="does not match its certificate"):
        fresh_keystore.current_signer(PASSPHRASE, now=NOW)


def test_rotate_makes_a_new_current_signer_and_keeps_the_old(fresh_keystore):
    old = fresh_keystore.signers()[0]
    new = fresh_keystore.rotate(PASSPHRASE, now=NOW)
    signers = fresh_keystore.signers()
    assert [s.kid for s in signers] == [old.kid, new.kid]
    assert [s.current for s in signers] == [False, True]
    assert fresh_keystore.current_signer(PASSPHRASE, now=NOW).kid == new.kid
    assert set(fresh_keystore.trust_list().signers) == {old.kid, new.kid}


def test_revoke_records_time_and_reason_and_blocks_the_current_signer(fresh_keystore):
    kid = fresh_keystore.signers()[0].kid
    at = datetime(2026, 11, 20, tzinfo=timezone.utc)
    info = fresh_keystore.revoke(kid.hex()[:6], at=at, reason="laptop stolen")
    assert info.revoked_at == at and info.revocation_reason == "laptop stolen"
    state = json.loads(fresh_keystore.state_path.read_text())
    assert state["signers"][0]["revoked_at"].startswith("2026-11-20T00:00:00")
    with pytest.raises(KeyStoreError, match="is revoked; run `certgen keys rotate`"):
        fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    with pytest.raises(KeyStoreError, match="already revoked"):
        fresh_keystore.revoke(kid.hex(), at=at, reason="again")
    with pytest.raises(KeyStoreError, match="no single signer"):
        fresh_keystore.revoke("ffff", at=at, reason="x")
    fresh_keystore.rotate(PASSPHRASE, now=NOW)
    assert fresh_keystore.current_signer(PASSPHRASE, now=NOW).kid != kid


def test_no_keys_yet(tmp_path):
    with pytest.raises(KeyStoreError, match="run `certgen keys init` first"):
        KeyStore(tmp_path, kdf_iterations=TEST_KDF_ITERATIONS).signers()
