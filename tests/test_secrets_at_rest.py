"""Secrets at rest: the key-derivation cost of key files, re-encryption, and owner-only modes
for the key folder, the data folder and the registry file."""

import os
import stat
from datetime import datetime, timezone

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import serialization

from certgen.cli import main as certgen
from certgen.config import sqlite_url
from certgen.errors import KeyStoreError
from certgen.keys import KeyStore
from certgen.registry import Registry
from tests.conftest import NOW, PASSPHRASE, TEST_KDF_ITERATIONS

CREATED = datetime(2026, 10, 24, tzinfo=timezone.utc)


def _kdf(path):
    """(kdf, prf, iterations, cipher) read from the file with asn1crypto, independently of certgen."""
    kind, _, der = asn1_pem.unarmor(path.read_bytes())
    assert kind == "ENCRYPTED PRIVATE KEY"
    algorithm = asn1_keys.EncryptedPrivateKeyInfo.load(der)["encryption_algorithm"].native
    assert algorithm["algorithm"] == "pbes2"
    kdf = algorithm["parameters"]["key_derivation_func"]
    return (kdf["algorithm"], kdf["parameters"]["prf"]["algorithm"], kdf["parameters"]["iteration_count"],
            algorithm["parameters"]["encryption_scheme"]["algorithm"])


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_new_key_files_use_pbkdf2_sha256_at_600000_iterations_by_default(tmp_path, umask_022):
    store = KeyStore(tmp_path / "keys")  # the default cost, as in production
    store.init(PASSPHRASE, now=CREATED)
    files = store.key_files()
    assert [f.name for f in files] == ["root.key.pem", store.dsc_key_path(store.signers()[0].kid).name, "log.key.pem"]
    for path in files:
        assert _kdf(path) == ("pbkdf2", "sha256", 600_000, "aes256_cbc")
        assert _mode(path) == 0o600
    assert _mode(store.folder) == 0o700
    assert store.current_signer(PASSPHRASE, now=NOW).kid == store.signers()[0].kid


def test_the_cheap_test_cost_is_only_what_is_asked_for(fresh_keystore):
    assert {_kdf(p)[2] for p in fresh_keystore.key_files()} == {TEST_KDF_ITERATIONS}


def _downgrade_to_legacy(store):
    """Rewrite every key file as cryptography's BestAvailableEncryption does (2,048 iterations)."""
    for path in store.key_files():
        key = serialization.load_pem_private_key(path.read_bytes(), PASSPHRASE)
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(PASSPHRASE)))


def test_legacy_keys_load_and_are_reencrypted_in_place(fresh_keystore):
    store = KeyStore(fresh_keystore.folder)  # default cost
    _downgrade_to_legacy(store)
    assert {_kdf(p)[2] for p in store.key_files()} == {2048}
    before = store.current_signer(PASSPHRASE, now=NOW)  # still loads
    done = store.reencrypt(PASSPHRASE)
    assert done == store.key_files()
    for path in done:
        assert _kdf(path) == ("pbkdf2", "sha256", 600_000, "aes256_cbc") and _mode(path) == 0o600
    after = store.current_signer(PASSPHRASE, now=NOW)
    assert after.private_key.private_numbers() == before.private_key.private_numbers()
    assert not list(store.folder.glob(".*"))  # no temporary file left behind
    assert store.reencrypt(PASSPHRASE) == []  # already at the cost: nothing rewritten


def test_reencrypt_with_a_wrong_passphrase_changes_nothing(fresh_keystore):
    store = KeyStore(fresh_keystore.folder)
    snapshot = {p: p.read_bytes() for p in store.key_files()}
    with pytest.raises(KeyStoreError, match=r"root\.key\.pem: wrong passphrase"):
        store.reencrypt(b"not-the-passphrase")
    assert {p: p.read_bytes() for p in store.key_files()} == snapshot


def test_reencrypt_can_change_the_passphrase(fresh_keystore):
    fresh_keystore.reencrypt(PASSPHRASE, new_passphrase=b"another-passphrase")
    assert fresh_keystore.current_signer(b"another-passphrase", now=NOW)
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    with pytest.raises(KeyStoreError, match="at least 8 characters"):
        fresh_keystore.reencrypt(b"another-passphrase", new_passphrase=b"short")


def test_cli_keys_reencrypt(cli, settings):
    store = KeyStore(settings.keys_dir)
    _downgrade_to_legacy(store)
    result = cli(certgen, ["keys", "reencrypt"])
    assert result.exit_code == 0, result.output
    assert "root.key.pem: re-encrypted (PBKDF2-HMAC-SHA256, 2,048 iterations, aes256_cbc -> " \
           "PBKDF2-HMAC-SHA256, 600,000 iterations, aes256_cbc)" in result.output
    again = cli(certgen, ["keys", "reencrypt"])
    assert "root.key.pem: already PBKDF2-HMAC-SHA256, 600,000 iterations" in again.output
    wrong = cli(certgen, ["keys", "reencrypt"], passphrase=b"wrong-passphrase")
    assert wrong.exit_code == 1 and "wrong passphrase" in wrong.output


def test_data_folder_and_registry_file_are_private(tmp_path, umask_022):
    data = tmp_path / "data"
    registry = Registry.open(sqlite_url(data / "registry.sqlite3"))
    registry.add_report(message="contact details are in here", contact="0812-555", now=NOW)
    assert _mode(data) == 0o700
    files = sorted(p.name for p in data.iterdir())
    assert "registry.sqlite3" in files and "registry.sqlite3-wal" in files
    for path in data.iterdir():
        assert _mode(path) == 0o600, path.name
    registry.close()


def test_openssl_reads_the_key_files(fresh_keystore, tmp_path):
    """The files are standard PKCS#8: an operator's own tools open them (OpenSSL 3)."""
    import shutil
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    store = KeyStore(fresh_keystore.folder)
    store.reencrypt(PASSPHRASE, force=True)
    for path in store.key_files():
        done = subprocess.run(["openssl", "pkey", "-in", str(path), "-passin", f"pass:{PASSPHRASE.decode()}", "-noout"],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        wrong = subprocess.run(["openssl", "pkey", "-in", str(path), "-passin", "pass:wrong-passphrase", "-noout"],
                               capture_output=True, text=True)
        assert wrong.returncode != 0
