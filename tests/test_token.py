"""Document signer keys in a real PKCS#11 token (SoftHSM2, tests/softhsm.py): generated inside
it, never extractable, signing seals, PDFs (pyHanko's PKCS#11 signer and the in-place CMS
template) and checkpoints exactly as a key file does, in forked workers with their own
sessions; clear errors for every way the token can be wrong."""

from __future__ import annotations

import json
import multiprocessing
import os
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certgen import token as token_mod
from certgen.batch import IssueEnvironment, run_batch
from certgen.batch_plan import BatchOptions
from certgen.config import sqlite_url
from certgen.crypto import Alg, verify_bytes
from certgen.errors import KeyStoreError
from certgen.keys import KeyStore
from certgen.model import DocumentKind, Status
from certgen.registry import Registry, verify_log
from certgen.render.document import SIGNATURE_BOX, render_certificate
from certgen.barcode import qr_matrix
from certgen.seal import open_seal
from certgen.sign import PdfSealer
from certgen.token import TokenError, TokenRef
from tests.conftest import NOW, PASSPHRASE, TEST_KDF_ITERATIONS
from tests.documents import person, templates_and_fonts
from tests.signatures import make_nss_db, pdfsig, pyhanko_status
from tests.softhsm import softhsm  # noqa: F401,F811 - the fixture
from tests.test_batch import person_rows

URL = "https://verifikasi.example.id/v/"
CREATED = datetime(2026, 10, 24, tzinfo=timezone.utc)


def _store(folder, hsm, *, token: bool) -> KeyStore:
    store = KeyStore(folder, kdf_iterations=TEST_KDF_ITERATIONS, token_pin=lambda: hsm.pin)
    store.init(PASSPHRASE, now=CREATED, token=TokenRef(hsm.module, hsm.token) if token else None)
    return store


@pytest.fixture
def token_store(tmp_path, softhsm):  # noqa: F811
    return _store(tmp_path / "keys", softhsm, token=True)


@pytest.mark.parametrize("where", ["file", "token"])
def test_a_batch_signed_in_the_token_validates_like_one_signed_with_a_key_file(tmp_path, softhsm, where):  # noqa: F811
    store = _store(tmp_path / "keys", softhsm, token=where == "token")
    signer = store.current_signer(PASSPHRASE, now=NOW)
    assert signer.in_token is (where == "token") and signer.alg is Alg.ES256
    registry = Registry.open(sqlite_url(tmp_path / "registry.sqlite3"))
    env = IssueEnvironment(registry=registry, signer=signer, chain=[store.root_certificate()], verify_url=URL,
                           now=lambda: NOW, actor="tester")
    out = tmp_path / "out"
    summary = run_batch(BatchOptions(DocumentKind.PERSON, person_rows(tmp_path / "in", 4), out, workers=2), env)
    assert (summary.issued, summary.problems, summary.signature) == (4, [], "PAdES-B-B")
    manifest = json.loads((out / "manifest.json").read_text())
    trust = store.trust_list()
    nss = make_nss_db(tmp_path / "nss", store.root_cert_path)
    for entry in manifest:
        cert = registry.get(entry["number"])
        assert cert.status is Status.ACTIVE and cert.dsc_kid == signer.kid.hex()
        assert open_seal(cert.seal, trust, NOW).ok
        status = pyhanko_status((out / entry["file"]).read_bytes(), store.root_certificate())
        assert status.bottom_line, status.summary()
        report = pdfsig(out / entry["file"], nss)
        assert "Signature is Valid." in report and "Certificate is Trusted." in report
    log = verify_log(registry, trust, store.root_certificate())  # the checkpoint is the DSC's too
    assert log.ok and log.checkpoints == 1
    registry.close()


def test_the_key_is_generated_in_the_token_and_cannot_leave_it(token_store, softhsm):  # noqa: F811
    import pkcs11

    signer = token_store.current_signer(PASSPHRASE, now=NOW)
    assert signer.private_key.protection() == {"sensitive": True, "extractable": False, "always_sensitive": True,
                                               "never_extractable": True}
    with pytest.raises(pkcs11.AttributeSensitive):
        signer.private_key.handle()[pkcs11.Attribute.VALUE]
    assert not token_store.dsc_key_path(signer.kid).exists()
    assert [p.name for p in token_store.key_files()] == ["root.key.pem", "log.key.pem"]
    entry = json.loads(token_store.state_path.read_text())["signers"][0]
    assert entry["token"]["token"] == softhsm.token and entry["token"]["module"] == softhsm.module
    assert "pin" not in json.dumps(entry).lower()


def test_an_extractable_key_is_refused(token_store, softhsm):  # noqa: F811
    import pkcs11
    from pkcs11.util.ec import encode_named_curve_parameters

    ref = TokenRef(softhsm.module, softhsm.token)
    session = token_mod.session(ref, softhsm.pin, rw=True)
    params = session.create_domain_parameters(
        pkcs11.KeyType.EC, {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
    params.generate_keypair(store=True, id=b"leaky-key", label="leaky",
                            private_template={pkcs11.Attribute.SENSITIVE: False, pkcs11.Attribute.EXTRACTABLE: True})
    with pytest.raises(TokenError, match="can leave the token .*extractable=True"):
        token_mod.find_key(ref, softhsm.pin, b"leaky-key")


_forked_signer = None  # set before the fork, inherited by the children (nothing secret is pickled)


def _sign_in_child(data):
    signer = _forked_signer
    ref = signer.private_key.ref
    signature = signer.sign(data)
    return os.getpid(), token_mod._sessions[ref].pid, token_mod._library_pids[ref.module], signature


def test_each_forked_worker_opens_its_own_session(token_store):
    global _forked_signer
    signer = _forked_signer = token_store.current_signer(PASSPHRASE, now=NOW)
    signer.sign(b"parent signs first")  # the parent has a session before the fork
    parent_session = token_mod._sessions[signer.private_key.ref].session
    for _ in range(3):  # new workers each time: SoftHSM2 races when two initialise at once (certgen/token.py)
        with multiprocessing.get_context("fork").Pool(2) as pool:
            results = pool.map(_sign_in_child, [b"data %d" % i for i in range(4)], chunksize=1)
        for i, (pid, session_pid, library_pid, signature) in enumerate(results):
            assert pid != os.getpid() and session_pid == pid and library_pid == pid
            assert verify_bytes(signer.certificate.public_key(), Alg.ES256, b"data %d" % i, signature)
    assert token_mod._sessions[signer.private_key.ref].session is parent_session  # the parent's is untouched
    assert verify_bytes(signer.certificate.public_key(), Alg.ES256, b"x", signer.sign(b"x"))


def test_pyhankos_pkcs11_signer_signs_the_stock_path(token_store, tmp_path):
    """`sign` (pyHanko's PdfSigner with its PKCS11Signer: B-T, B-LTA, adapters off) gives a PDF
    pyHanko and pdfsig accept, as the in-place template does."""
    signer = token_store.current_signer(PASSPHRASE, now=NOW)
    templates, fonts = templates_and_fonts()
    record = person()
    pdf = render_certificate(templates, fonts, record, "SK-2026-000123-6", qr_matrix(URL + "AAAA"), NOW.date(),
                             record.photo)
    sealer = PdfSealer(signer, [token_store.root_certificate()])
    signed = sealer.sign(pdf, SIGNATURE_BOX, reason="test", seal=URL + "AAAA")
    assert pyhanko_status(signed, token_store.root_certificate()).bottom_line
    path = tmp_path / "stock.pdf"
    path.write_bytes(signed)
    report = pdfsig(path, make_nss_db(tmp_path / "nss", token_store.root_cert_path))
    assert "Signature is Valid." in report and "Certificate is Trusted." in report


def test_a_key_file_and_a_token_sign_the_same_way(token_store):
    signer = token_store.current_signer(PASSPHRASE, now=NOW)
    signature = signer.sign(b"checkpoint")
    der = signer.private_key.public_key()
    assert len(signature) == 64
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    der.verify(encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")),
               b"checkpoint", ec.ECDSA(hashes.SHA256()))


# -- the command line: errors and rotation ------------------------------------------------------

@pytest.fixture
def token_cli(settings):
    """The `cli` runner with a token PIN in the environment (or none)."""
    from click.testing import CliRunner

    from certgen.cli_support import AppContext

    runner = CliRunner()

    def invoke(args, *, pin: str | None, extra: dict | None = None):
        from certgen.cli import main

        environ = {"CERTGEN_ACTOR": "tester", "CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode(), **(extra or {})}
        if pin is not None:
            environ["CERTGEN_PKCS11_PIN"] = pin
        app = AppContext(settings=settings, now=lambda: NOW, environ=environ)
        return runner.invoke(main, args, obj=app, catch_exceptions=False)

    return invoke


@pytest.mark.parametrize("case", ["wrong_pin", "no_pin", "missing_token", "missing_module", "not_pkcs11",
                                  "half_options"])
def test_token_errors_are_one_clear_line(token_cli, softhsm, settings, tmp_path, case):  # noqa: F811
    module, label, pin = softhsm.module, softhsm.token, softhsm.pin
    not_pkcs11 = tmp_path / "libnot.so"
    not_pkcs11.write_bytes(open("/lib/x86_64-linux-gnu/libz.so.1", "rb").read()
                           if os.path.exists("/lib/x86_64-linux-gnu/libz.so.1") else b"\x7fELF not a library")
    args, expected = {
        "wrong_pin": ((module, label, "0000-0000"), f"token '{label}' of PKCS#11 module {module}: wrong PIN"),
        "no_pin": ((module, label, None), "no token PIN: set CERTGEN_PKCS11_PIN"),
        "missing_token": ((module, "no-such-token", pin), "token 'no-such-token' of PKCS#11 module "
                                                          f"{module}: no such token (tokens there: '{label}'"),
        "missing_module": (("/nonexistent/libp11.so", label, pin), "PKCS#11 module /nonexistent/libp11.so: no such file"),
        "not_pkcs11": ((str(not_pkcs11), label, pin), f"{not_pkcs11}: not a PKCS#11 module"),
        "half_options": ((module, "", pin), "a token needs both --pkcs11-module PATH and --token LABEL"),
    }[case]
    before = KeyStore(settings.keys_dir).signers()
    result = token_cli(["keys", "rotate", "--pkcs11-module", args[0], "--token", args[1]], pin=args[2])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and expected in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert KeyStore(settings.keys_dir).signers() == before  # nothing recorded, nothing rotated


def test_rotation_to_a_token_and_back(token_cli, softhsm, settings):  # noqa: F811
    from certgen.seal import seal_text, sign_seal
    from tests.test_seal import person_claims

    rotated = token_cli(["keys", "rotate", "--pkcs11-module", softhsm.module, "--token", softhsm.token], pin=softhsm.pin)
    assert rotated.exit_code == 0, rotated.output
    assert "key in token 'certgen-test'" in rotated.output
    store = KeyStore(settings.keys_dir, token_pin=lambda: softhsm.pin)
    in_token = store.current_signer(PASSPHRASE, now=NOW)
    assert in_token.in_token
    listed = token_cli(["keys", "list"], pin=None)
    lines = listed.output.splitlines()
    assert listed.exit_code == 0 and "current" in lines[1] and "key in token 'certgen-test'" in lines[1]
    assert "key in" not in lines[0]
    # without the PIN, a token signer cannot be loaded: a clear error
    with pytest.raises(KeyStoreError, match="no PIN given"):
        KeyStore(settings.keys_dir).current_signer(PASSPHRASE, now=NOW)
    back = token_cli(["keys", "rotate"], pin=None)
    assert back.exit_code == 0 and "key in" not in back.output
    in_file = KeyStore(settings.keys_dir).current_signer(PASSPHRASE, now=NOW)
    assert not in_file.in_token and in_file.kid != in_token.kid
    trust = KeyStore(settings.keys_dir).trust_list()
    for signer in (in_token, in_file):
        assert open_seal(seal_text(sign_seal(person_claims(), signer), URL), trust, NOW).ok


def test_a_lost_pdf_signed_in_the_token_is_named_not_redrawn(tmp_path, token_store):
    """A token signs ECDSA with a random nonce (a key file: RFC 6979), so a lost file cannot be
    drawn again byte for byte: the rerun names it and writes nothing in its place."""
    registry = Registry.open(sqlite_url(tmp_path / "registry.sqlite3"))
    env = IssueEnvironment(registry=registry, signer=token_store.current_signer(PASSPHRASE, now=NOW),
                           chain=[token_store.root_certificate()], verify_url=URL, now=lambda: NOW, actor="tester")
    data, out = person_rows(tmp_path / "in", 2), tmp_path / "out"
    run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    victim = sorted((out / "certificates").glob("*.pdf"))[0]
    victim.unlink()
    again = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    assert again.repaired == [] and len(again.problems) == 1
    assert again.problems[0].startswith(f"{victim.stem}: its certificate PDF is missing in {out}, and drawing it again "
                                        "does not give the registry's bytes (signed with a timestamp, RSA-PSS or a key "
                                        "in a hardware token")
    assert not victim.exists()
    registry.close()


def test_init_with_a_bad_token_writes_nothing_and_a_token_key_is_p256(tmp_path, softhsm):  # noqa: F811
    from certgen.keys import KeyAlgorithm

    store = KeyStore(tmp_path / "keys", kdf_iterations=TEST_KDF_ITERATIONS, token_pin=lambda: "wrong-pin-0")
    with pytest.raises(TokenError, match="wrong PIN"):
        store.init(PASSPHRASE, now=CREATED, token=TokenRef(softhsm.module, softhsm.token))
    assert not store.exists()
    with pytest.raises(KeyStoreError, match="a document signer in a token is a P-256 key .*not rsa-3072"):
        store.init(PASSPHRASE, KeyAlgorithm.RSA_3072, now=CREATED, token=TokenRef(softhsm.module, softhsm.token))
    assert not store.exists()


def test_the_template_container_with_a_token_is_pyhanko_pkcs11_signers_own(token_store):
    """The in-place fast path with a token key: the container built per document has exactly
    what pyHanko's PKCS11Signer writes for the same digest (the signature value aside, random
    in a token), and its signature over the signed attributes verifies."""
    from asn1crypto import cms

    from certgen.adapters import pyhanko as pyhanko_adapter
    from certgen.token import pdf_signer
    from tests.signatures import asn1

    signer = token_store.current_signer(PASSPHRASE, now=NOW)
    stock_signer = pdf_signer(signer.private_key, asn1(signer.certificate), [asn1(token_store.root_certificate())])
    template = pyhanko_adapter.CmsTemplate(stock_signer, signer.private_key)
    digest = bytes(range(32))
    ours = cms.ContentInfo.load(template.sign_digest(digest))["content"]
    theirs = template.stock(digest)["content"]
    for name in ("version", "digest_algorithms", "encap_content_info", "certificates"):
        assert ours[name].dump() == theirs[name].dump(), name
    mine, pyhankos = ours["signer_infos"][0], theirs["signer_infos"][0]
    for name in ("version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm"):
        assert mine[name].dump() == pyhankos[name].dump(), name
    signed = b"\x31" + mine["signed_attrs"].dump()[1:]
    for info in (mine, pyhankos):
        signer.certificate.public_key().verify(info["signature"].native, signed, ec.ECDSA(hashes.SHA256()))


def test_keys_init_on_the_command_line_puts_the_signer_in_the_token(tmp_path, softhsm):  # noqa: F811
    from click.testing import CliRunner

    from certgen.cli import main
    from certgen.cli_support import AppContext
    from certgen.config import Settings

    settings = Settings(data_dir=tmp_path / "data", keys_dir=tmp_path / "keys",
                        registry_url=sqlite_url(tmp_path / "data" / "registry.sqlite3"))
    environ = {"CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode(), "CERTGEN_PKCS11_PIN": softhsm.pin}
    result = CliRunner().invoke(main, ["keys", "init", "--pkcs11-module", softhsm.module, "--token", softhsm.token],
                                obj=AppContext(settings=settings, now=lambda: NOW, environ=environ))
    assert result.exit_code == 0, result.output
    assert f"(current, in token '{softhsm.token}' of PKCS#11 module {softhsm.module})" in result.output
    signer = KeyStore(settings.keys_dir, token_pin=lambda: softhsm.pin).current_signer(PASSPHRASE, now=NOW)
    assert signer.in_token and signer.private_key.protection()["extractable"] is False


def test_the_stock_path_in_forked_workers_signs_in_the_token(tmp_path, token_store, softhsm):  # noqa: F811
    """`CERTGEN_ADAPTERS=off`: every PDF through pyHanko's PdfSigner and its PKCS11Signer,
    which each forked worker makes again on its own session; `certgen issue` as a process."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "CERTGEN_KEYS": str(token_store.folder),
           "CERTGEN_DATA": str(tmp_path / "data"), "CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode(),
           "CERTGEN_PKCS11_PIN": softhsm.pin, "CERTGEN_ADAPTERS": "off"}
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "certgen.cli", "issue", "person", str(person_rows(tmp_path / "in", 4)),
                          "-o", str(out), "--workers", "2", "--json"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["issued"] == 4
    for pdf in sorted((out / "certificates").glob("*.pdf")):
        assert pdf.read_bytes().count(b"%%EOF") == 2  # signed by an incremental update: pyHanko's PdfSigner
        status = pyhanko_status(pdf.read_bytes(), token_store.root_certificate())
        assert status.bottom_line, status.summary()


def _read_until(fd: int, marker: bytes, seconds: float) -> bytes:
    """What the terminal shows until `marker` (or EOF), waiting at most `seconds`."""
    import select
    import time

    seen = b""
    deadline = time.monotonic() + seconds
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


def _reap(pid: int, seconds: float) -> int:
    """The child's wait status; killed if it has not ended within `seconds` (bounded wait)."""
    import signal
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def test_the_pin_is_asked_on_a_terminal_and_not_echoed(fresh_keystore, softhsm):  # noqa: F811
    """Without CERTGEN_PKCS11_PIN, `certgen keys rotate --pkcs11-module ...` on a real
    terminal (a pseudo-terminal) asks for the PIN, hides it, and puts the key in the token."""
    import pty
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent), "CERTGEN_KEYS": str(fresh_keystore.folder),
           "CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode()}
    env.pop("CERTGEN_PKCS11_PIN", None)
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes certgen
        os.execve(sys.executable, [sys.executable, "-m", "certgen.cli", "keys", "rotate", "--pkcs11-module",
                                   softhsm.module, "--token", softhsm.token], env)
    try:
        prompt = _read_until(fd, b"Token PIN:", 120)
        assert b"Token PIN:" in prompt, prompt
        os.write(fd, softhsm.pin.encode() + b"\n")
        rest = _read_until(fd, b"trust list updated", 120)
    finally:
        status = _reap(pid, 60)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, rest
    assert b"is now current (key in token 'certgen-test'" in rest and softhsm.pin.encode() not in prompt + rest
    signer = KeyStore(fresh_keystore.folder, token_pin=lambda: softhsm.pin).current_signer(PASSPHRASE, now=NOW)
    assert signer.in_token


def test_issuing_with_a_wrong_pin_issues_nothing(token_cli, softhsm, settings, tmp_path):  # noqa: F811
    assert token_cli(["keys", "rotate", "--pkcs11-module", softhsm.module, "--token", softhsm.token],
                     pin=softhsm.pin).exit_code == 0
    rows = person_rows(tmp_path / "in", 2)
    result = token_cli(["issue", "person", str(rows), "-o", str(tmp_path / "out"), "--workers", "1"], pin="9999-9999")
    assert result.exit_code == 1
    assert f"Error: token '{softhsm.token}' of PKCS#11 module {softhsm.module}: wrong PIN" in result.output
    assert "Traceback" not in result.output
    registry = Registry.open(settings.registry_url)
    assert registry.count(Status.ACTIVE) == 0 and not list((tmp_path / "out" / "certificates").glob("*.pdf"))
    registry.close()
