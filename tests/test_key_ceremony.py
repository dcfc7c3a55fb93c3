"""The key ceremony end to end (docs/keys.md): the root made on an "offline" folder certifies
a request for a signer key generated in a token on the issuing folder; the issuing folder
never holds the root key, issues with the token, and `certverify pdf` calls every PDF VALID.
The same with a key file, and every way a request, certificate or trust list can be wrong."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certgen.ceremony import CeremonyError, build_request, certify_request, init_root, install_certificate, \
    load_request, request_signer
from certgen.config import sqlite_url
from certgen.dsc_profile import OID_DOCUMENT_SIGNING, Organisation
from certgen.keys import KeyStore
from tests.conftest import NOW, PASSPHRASE, TEST_KDF_ITERATIONS
from tests.softhsm import softhsm  # noqa: F401,F811 - the fixture
from tests.test_batch import person_rows

ROOT = Path(__file__).parent.parent


def _run(args: list[str], env: dict[str, str], tool: str = "certgen.cli") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", tool, *args], env=env, capture_output=True, text=True, timeout=300)


def test_ceremony_request_certify_install_issue_verify(tmp_path, softhsm):  # noqa: F811
    offline, online, data = tmp_path / "offline", tmp_path / "online", tmp_path / "data"
    base = {**os.environ, "PYTHONPATH": str(ROOT), "CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode(),
            "CERTGEN_DATA": str(data)}
    at_root = {**base, "CERTGEN_KEYS": str(offline)}
    at_issuer = {**base, "CERTGEN_KEYS": str(online), "CERTGEN_PKCS11_PIN": softhsm.pin}

    made = _run(["keys", "init", "--root-only"], at_root)
    assert made.returncode == 0, made.stderr
    requested = _run(["keys", "request", "--root-cert", str(offline / "root.cert.pem"), "--pkcs11-module",
                      softhsm.module, "--token", softhsm.token, "-o", str(tmp_path / "signer.csr")], at_issuer)
    assert requested.returncode == 0, requested.stderr
    request = load_request((tmp_path / "signer.csr").read_bytes())
    certified = _run(["keys", "certify", str(tmp_path / "signer.csr"), "-o", str(tmp_path / "signer.cert.pem")], at_root)
    assert certified.returncode == 0, certified.stderr
    cert = x509.load_pem_x509_certificate((tmp_path / "signer.cert.pem").read_bytes())
    assert cert.public_key() == request.public_key()
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate((offline / "root.cert.pem").read_bytes()))
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert OID_DOCUMENT_SIGNING in eku and not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    installed = _run(["keys", "install", str(tmp_path / "signer.cert.pem"), "--trust-list",
                      str(offline / "trustlist.json")], at_issuer)
    assert installed.returncode == 0, installed.stderr
    assert "is now current (token 'certgen-test'" in installed.stdout
    assert not (online / "root.key.pem").exists() and sorted(p.name for p in online.glob("*.key.pem")) == []

    out = tmp_path / "out"
    issued = _run(["issue", "person", str(person_rows(tmp_path / "in", 3)), "-o", str(out), "--workers", "2",
                   "--json"], at_issuer)
    assert issued.returncode == 0, issued.stderr
    assert json.loads(issued.stdout)["issued"] == 3
    verified = _run(["--trust-list", str(online / "trustlist.json"), "--root", str(online / "root.cert.pem"),
                     "--registry", sqlite_url(data / "registry.sqlite3"), "pdf", str(out / "certificates"), "--json",
                     "--workers", "1"], base, tool="verify.cli")
    lines = [json.loads(line) for line in verified.stdout.splitlines()]
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert lines[-1] == {"summary": {"files": 3, "verdicts": {"VALID": 3}}}


@pytest.fixture
def folders(tmp_path):
    offline = KeyStore(tmp_path / "offline", kdf_iterations=TEST_KDF_ITERATIONS)
    init_root(offline, PASSPHRASE, now=NOW, verify_urls=["https://verifikasi.example.id/v/"])
    online = KeyStore(tmp_path / "online", kdf_iterations=TEST_KDF_ITERATIONS)
    return offline, online


def test_ceremony_with_a_key_file(folders):
    offline, online = folders
    csr = request_signer(online, PASSPHRASE, now=NOW, root_cert=offline.root_certificate())
    assert request_signer(online, PASSPHRASE, now=NOW) != b"" and \
        load_request(request_signer(online, PASSPHRASE, now=NOW)).public_key() == load_request(csr).public_key()
    info = certify_request(offline, csr, PASSPHRASE, now=NOW)
    assert info.key_location == "elsewhere" and offline.trust_list().get(info.kid) is not None
    with pytest.raises(Exception, match="its key is on the issuing machine"):
        offline.current_signer(PASSPHRASE, now=NOW)
    cert = info.certificate.public_bytes(serialization.Encoding.PEM)
    installed = install_certificate(online, cert, offline.trustlist_path.read_bytes())
    assert installed.current and installed.key_location is None
    signer = online.current_signer(PASSPHRASE, now=NOW)
    assert signer.kid == info.kid and online.dsc_key_path(info.kid).exists()
    assert list(online.folder.glob("request-*")) == []
    assert online.verify_urls() == ["https://verifikasi.example.id/v/"]


def test_a_tampered_request_is_refused(folders):
    offline, online = folders
    csr = request_signer(online, PASSPHRASE, now=NOW, root_cert=offline.root_certificate())
    der = bytearray(load_request(csr).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature
    with pytest.raises(CeremonyError, match="not a certificate signing request|does not verify|unreadable"):
        certify_request(offline, bytes(der), PASSPHRASE, now=NOW)
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(CeremonyError, match="a secp384r1 key; document signers use P-256"):
        certify_request(offline, build_request_p384(other), PASSPHRASE, now=NOW)
    with pytest.raises(CeremonyError, match="not a certificate signing request"):
        certify_request(offline, b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
                        PASSPHRASE, now=NOW)


def build_request_p384(key) -> bytes:
    from cryptography.hazmat.primitives import hashes

    return (x509.CertificateSigningRequestBuilder().subject_name(Organisation().subject("x"))
            .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


def test_install_checks_certificate_key_and_trust_list(folders, tmp_path):
    offline, online = folders
    with pytest.raises(CeremonyError, match="give the root's certificate"):
        request_signer(online, PASSPHRASE, now=NOW)
    csr = request_signer(online, PASSPHRASE, now=NOW, root_cert=offline.root_certificate())
    # a certificate for another key (someone else's request) is refused
    stranger = build_request(ec.generate_private_key(ec.SECP256R1()), Organisation().subject("x"))
    foreign = certify_request(offline, stranger, PASSPHRASE, now=NOW)
    with pytest.raises(CeremonyError, match="for another key than the pending request's"):
        install_certificate(online, foreign.certificate.public_bytes(serialization.Encoding.PEM),
                            offline.trustlist_path.read_bytes())
    # a certificate from another root is refused
    elsewhere = KeyStore(tmp_path / "other-root", kdf_iterations=TEST_KDF_ITERATIONS)
    init_root(elsewhere, PASSPHRASE, now=NOW)
    by_other = certify_request(elsewhere, csr, PASSPHRASE, now=NOW)
    with pytest.raises(CeremonyError, match="not issued by this folder's root"):
        install_certificate(online, by_other.certificate.public_bytes(serialization.Encoding.PEM),
                            elsewhere.trustlist_path.read_bytes())
    # the right certificate with a trust list that does not name it, or is altered, is refused
    stale = offline.trustlist_path.read_bytes()
    mine = certify_request(offline, csr, PASSPHRASE, now=NOW)
    pem = mine.certificate.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CeremonyError, match="does not name signer"):
        install_certificate(online, pem, stale)  # signed before the new signer was certified
    altered = json.loads(offline.trustlist_path.read_bytes())
    altered["payload"] = base64.urlsafe_b64encode(b'{"signers": []}').decode().rstrip("=")
    with pytest.raises(CeremonyError, match="the trust list: "):
        install_certificate(online, pem, json.dumps(altered).encode())
    with pytest.raises(CeremonyError, match="the certificate: not an X.509 certificate"):
        install_certificate(online, b"garbage", offline.trustlist_path.read_bytes())
    assert install_certificate(online, pem, offline.trustlist_path.read_bytes()).kid == mine.kid
    with pytest.raises(CeremonyError, match="no request is pending"):
        install_certificate(online, pem, offline.trustlist_path.read_bytes())


def test_certify_refuses_a_key_certified_before(folders):
    offline, online = folders
    csr = request_signer(online, PASSPHRASE, now=NOW, root_cert=offline.root_certificate())
    certify_request(offline, csr, PASSPHRASE, now=NOW)
    with pytest.raises(CeremonyError, match="already certified as signer"):
        certify_request(offline, csr, PASSPHRASE, now=NOW)


def test_a_pending_request_is_not_silently_replaced(folders, softhsm):  # noqa: F811
    from certgen.token import TokenRef

    offline, online = folders
    online.token_pin = lambda: softhsm.pin
    request_signer(online, PASSPHRASE, now=NOW, root_cert=offline.root_certificate())
    with pytest.raises(CeremonyError, match="a request for a key in a key file is pending since"):
        request_signer(online, b"", now=NOW, token=TokenRef(softhsm.module, softhsm.token))


def test_an_install_interrupted_after_moving_the_key_finishes_on_a_rerun(folders, monkeypatch):
    """A crash after the key file moved to its signer's name and before keystore.json names
    it: the rerun of `keys install` finishes (it was refused for good: "already exists")."""
    offline, online = folders
    csr = request_signer(online, PASSPHRASE, now=NOW, root_cert=offline.root_certificate())
    info = certify_request(offline, csr, PASSPHRASE, now=NOW)
    pem, trust = info.certificate.public_bytes(serialization.Encoding.PEM), offline.trustlist_path.read_bytes()

    def power_cut(state):
        raise OSError("power cut")

    monkeypatch.setattr(online, "_write_state", power_cut)
    with pytest.raises(OSError, match="power cut"):
        install_certificate(online, pem, trust)
    monkeypatch.undo()
    assert online.dsc_key_path(info.kid).exists() and list(online.folder.glob("request-*")) == []
    installed = install_certificate(online, pem, trust)
    assert installed.current and installed.kid == info.kid
    assert online.current_signer(PASSPHRASE, now=NOW).kid == info.kid


def test_an_output_in_a_missing_folder_is_refused_before_anything_is_recorded(folders, tmp_path):
    """`keys request -o` and `keys certify -o` into a folder that does not exist: one clear line,
    and nothing recorded (a traceback came after `certify` had recorded the signer, so the
    rerun was refused as "already certified")."""
    from click.testing import CliRunner

    from certgen.cli import main
    from certgen.cli_support import AppContext
    from certgen.config import Settings

    offline, online = folders

    def run(store, args):
        settings = Settings(data_dir=tmp_path / "data", keys_dir=store.folder,
                            registry_url=sqlite_url(tmp_path / "data" / "registry.sqlite3"))
        app = AppContext(settings=settings, now=lambda: NOW, environ={"CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode()})
        return CliRunner().invoke(main, args, obj=app)

    missing = tmp_path / "no-such-folder"
    result = run(online, ["keys", "request", "--root-cert", str(offline.root_cert_path), "-o", str(missing / "r.pem")])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "no-such-folder" in result.output
    assert not online.state_path.exists()
    request = tmp_path / "request.pem"
    request.write_bytes(request_signer(online, PASSPHRASE, now=NOW, root_cert=offline.root_certificate()))
    before = offline.signers()
    result = run(offline, ["keys", "certify", str(request), "-o", str(missing / "signer.cert.pem")])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "no-such-folder" in result.output
    assert offline.signers() == before
    result = run(offline, ["keys", "certify", str(request), "-o", str(tmp_path / "signer.cert.pem")])
    assert result.exit_code == 0, result.output
