"""The root's CRL (certgen/revocation.py, `certgen keys crl`): what PAdES B-LTA embeds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509

from certgen.cli import main as certgen
from certgen.keys import KeyStore
from certgen.revocation import CRL_FILE, RevocationListError, Revoked, build_crl, load_crl
from tests.conftest import NOW, PASSPHRASE


def test_keys_crl_lists_revoked_signers_signed_by_the_root(cli, settings):
    store = KeyStore(settings.keys_dir)
    first = store.signers()[0]
    assert cli(certgen, ["keys", "rotate"]).exit_code == 0
    result = cli(certgen, ["keys", "crl"])
    assert result.exit_code == 0, result.output
    assert "CRL with 0 revoked signer(s), valid 31 day(s)" in result.output
    assert cli(certgen, ["keys", "revoke", first.kid.hex(), "--at", "2026-11-20T09:00:00+07:00",
                         "--reason", "laptop stolen"]).exit_code == 0
    result = cli(certgen, ["keys", "crl", "--days", "7"])
    assert "CRL with 1 revoked signer(s), valid 7 day(s)" in result.output
    crl = load_crl(settings.keys_dir, store.root_certificate(), now=NOW)
    assert crl.is_signature_valid(store.root_certificate().public_key())
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=7)
    entry = crl.get_revoked_certificate_by_serial_number(first.certificate.serial_number)
    revoked_at = next(s for s in store.signers() if s.kid == first.kid).revoked_at
    assert entry is not None and entry.revocation_date_utc == revoked_at
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    current = next(s for s in store.signers() if s.current)
    assert crl.get_revoked_certificate_by_serial_number(current.certificate.serial_number) is None


def test_keys_crl_with_a_wrong_passphrase_writes_nothing(cli, settings):
    result = cli(certgen, ["keys", "crl"], passphrase=b"not the passphrase")
    assert result.exit_code == 1
    assert not (settings.keys_dir / CRL_FILE).exists()


def test_load_crl_names_each_problem(settings, tmp_path):
    store = KeyStore(settings.keys_dir)
    with pytest.raises(RevocationListError, match=rf"{CRL_FILE}: missing; run `certgen keys crl`"):
        load_crl(settings.keys_dir, store.root_certificate(), now=NOW)
    (settings.keys_dir / CRL_FILE).write_text("not a CRL")
    with pytest.raises(RevocationListError, match="not a PEM CRL"):
        load_crl(settings.keys_dir, store.root_certificate(), now=NOW)
    root = store.root_signer(PASSPHRASE)
    from certgen.revocation import write_crl
    write_crl(settings.keys_dir, build_crl(root.private_key, root.certificate, [], now=NOW, days=2))
    with pytest.raises(RevocationListError, match=r"expired on .*run `certgen keys crl`"):
        load_crl(settings.keys_dir, store.root_certificate(), now=NOW + timedelta(days=3))
    other = KeyStore(tmp_path / "other")
    other.init(PASSPHRASE, now=NOW)
    with pytest.raises(RevocationListError, match="not signed by the root certificate"):
        load_crl(settings.keys_dir, other.root_certificate(), now=NOW)
    with pytest.raises(ValueError, match="at least one day"):
        build_crl(root.private_key, root.certificate, [Revoked(root.certificate, NOW)], now=NOW, days=0)


def test_issue_with_a_timestamp_authority_needs_its_root_and_the_crl(cli, settings, tmp_path):
    """`certgen issue --timestamp-url` without the TSA's root, or without a current CRL, stops
    with a message naming what is missing, before anything is issued."""
    from tests.documents import SAMPLES

    args = ["issue", "training", str(SAMPLES / "training.xlsx"), "-o", str(tmp_path / "out"),
            "--timestamp-url", "http://127.0.0.1:9/tsa"]
    result = cli(certgen, args)
    assert result.exit_code == 1 and "--timestamp-url needs --timestamp-root" in result.output
    store = KeyStore(settings.keys_dir)
    (tmp_path / "tsa.pem").write_bytes(store.root_cert_path.read_bytes())
    result = cli(certgen, [*args, "--timestamp-root", str(tmp_path / "tsa.pem")])
    assert result.exit_code == 1 and f"{CRL_FILE}: missing; run `certgen keys crl`" in result.output
    assert not (tmp_path / "out" / "certificates").exists() or not any((tmp_path / "out" / "certificates").iterdir())
