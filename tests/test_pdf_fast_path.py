"""The PDF fast path (verify.pdf_fast) against pyHanko's full validation, file by file: the
same report (verdict, every check's reason and detail, signing time) from both paths on issued
documents of every kind, on every hostile file of the suite, and on forgeries aimed at the fast
path itself; the fast path taken for issued documents and never for anything it must not judge.

Every comparison first verifies a genuine document, so the fast path is armed (its signer
cache holds the genuine signer) when the hostile file arrives."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certgen.adapters import TESTED
from certgen.batch import BatchOptions, IssueEnvironment, run_batch
from certgen.config import sqlite_url
from certgen.keys import KeyStore
from certgen.model import DocumentKind
from certgen.registry import Registry
from tests import hostile_pdfs as hostile
from tests.conftest import NOW, PASSPHRASE
from tests.test_hostile_pdf import unsigned  # noqa: F401 - the module fixture
from tests.test_signing_time import LATER, _verifier, world  # noqa: F401 - the module fixture
from tests.test_verify import issued, verifier  # noqa: F401 - the module fixture
from verify import pdf as pdf_module
from verify import pdf_fast, pyhanko_internals
from verify.cli import main as certverify
from verify.formats import report_json
from verify.report import Reason, Verdict
from verify.service import Verifier

SAMPLES = Path(__file__).parent.parent / "samples"


@pytest.fixture
def taken(monkeypatch):
    """The files the fast path answered, in order (None: it left the file to the full path)."""
    answers: list[object] = []
    original = pdf_module._fast

    def spy(*args, **kwargs):
        answer = original(*args, **kwargs)
        answers.append(answer)
        return answer

    monkeypatch.setattr(pdf_module, "_fast", spy)
    return answers


def _slow(v: Verifier) -> Verifier:
    return replace(v, pdf_fast_path=False)


def _same(v: Verifier, data: bytes) -> dict:
    """The report of both paths on `data`, asserted equal; returns the JSON form."""
    fast = report_json(v.verify_pdf(data, "file.pdf"))
    slow = report_json(_slow(v).verify_pdf(data, "file.pdf"))
    assert fast == slow
    return fast


def _arm(v: Verifier, genuine: bytes) -> None:
    """Verify a genuine document twice: the signer is then in the cache and the fast path answers."""
    pdf_fast.SIGNERS.clear()
    pdf_fast.CONTAINERS.clear()
    v.verify_pdf(genuine)
    assert v.verify_pdf(genuine).checks[0].reason is Reason.PDF_SIGNATURE_VALID
    assert pdf_fast.SIGNERS._known, "the fast path is not armed"


# -- issued documents ------------------------------------------------------------------------------

@pytest.mark.parametrize("with_registry", [False, True], ids=["offline", "registry"])
def test_issued_certificates_take_the_fast_path_with_the_full_paths_reports(issued, taken, with_registry):  # noqa: F811
    v = verifier(issued, registry=with_registry)
    pdf_fast.SIGNERS.clear()
    for pdf in issued["pdfs"]:
        report = _same(v, pdf)
        assert report["checks"][0]["reason"] == "pdf_signature_valid"
        assert report["verdict"] == ("VALID" if with_registry else "INDETERMINATE")
    assert taken[0] is None  # the first document of a signer: the full path, which fills the cache
    assert all(answer is not None for answer in taken[1:]) and len(taken) == len(issued["pdfs"])


@pytest.fixture(scope="module")
def kinds(tmp_path_factory):
    """A product certificate (type 1) issued by the pipeline, with its registry."""
    folder = tmp_path_factory.mktemp("kinds")
    keys = KeyStore(folder / "keys", kdf_iterations=1000)
    keys.init(PASSPHRASE, now=datetime(2026, 10, 24, tzinfo=timezone.utc))
    registry = Registry.open(sqlite_url(folder / "registry.sqlite3"))
    env = IssueEnvironment(registry=registry, signer=keys.current_signer(PASSPHRASE, now=NOW),
                           chain=[keys.root_certificate()], now=lambda: NOW, actor="tester")
    shutil.copy(SAMPLES / "product-type1.csv", folder / "products.csv")
    run_batch(BatchOptions(DocumentKind.PRODUCT, folder / "products.csv", folder / "out", workers=1), env)
    files = sorted((folder / "out").rglob("*.pdf"))
    yield {"keys": keys, "registry": registry, "files": files}
    registry.close()


def test_product_certificates_take_the_fast_path_with_the_same_reports(kinds, taken):
    from verify.status import RegistryStatus

    v = Verifier(kinds["keys"].trust_list(), RegistryStatus(kinds["registry"], lambda: NOW),
                 kinds["keys"].root_certificate(), lambda: NOW)
    certificates = [p for p in kinds["files"] if "certificates" in p.parts]
    assert len(certificates) >= 2
    pdf_fast.SIGNERS.clear()
    for path in certificates:
        assert _same(v, path.read_bytes())["verdict"] == "VALID"
    assert taken[0] is None and all(answer is not None for answer in taken[1:])


def test_cards_and_print_files_get_the_same_report(issued, taken):  # noqa: F811
    """A card signed in place with an invisible PAdES field takes the fast path like a
    certificate (a card signed by pyHanko's incremental update, the full path); an unsigned
    print file is pdf_not_signed on both."""
    v = verifier(issued, registry=True)
    _arm(v, issued["pdfs"][0])
    taken.clear()
    cards = sorted((issued["folder"] / "out").rglob("cards/*.pdf"))
    assert cards
    for card in cards:
        report = _same(v, card.read_bytes())
        assert report["checks"][0]["reason"] in ("pdf_not_signed", "pdf_signature_valid")
        if report["checks"][0]["reason"] == "pdf_not_signed":
            assert taken[-1:] in ([], [None])  # no signature: never answered by the fast path
        else:  # a card signed in place with an invisible field, by the signer already known
            assert taken and taken[-1] is not None


def test_the_training_certificate_across_twenty_years(world, taken):  # noqa: F811
    """The signing-time cases: the fast path only answers where the signer's chain is good
    at the trusted time; expired, revoked or unknown signers get the full path's verdict."""
    pdf = world["pdf"]
    first = world["keys"].signers()[0]
    cut = world["keys"].trust_list().revoke(first.kid, NOW - timedelta(minutes=30), "key compromise")
    from certgen.trust import TrustList

    cases = {
        "clock, signer valid": _verifier(world, NOW + timedelta(days=30)),
        "registry, twenty years on": _verifier(world, LATER, registry=world["registry"]),
        "clock, twenty years on": _verifier(world, LATER),
        "revoked before signing": _verifier(world, NOW + timedelta(days=30), trust=cut),
        "revoked, registry": _verifier(world, LATER, registry=world["registry"], trust=cut),
        "not in the trust list": _verifier(world, NOW + timedelta(days=30), trust=TrustList.from_signers([])),
    }
    _arm(cases["clock, signer valid"], pdf)
    reasons = {}
    for name, v in cases.items():
        taken.clear()
        reasons[name] = _same(v, pdf)["checks"][0]["reason"]
        assert (taken[0] is not None) == (reasons[name] == "pdf_signature_valid"), name
    assert reasons == {"clock, signer valid": "pdf_signature_valid", "registry, twenty years on": "pdf_signature_valid",
                       "clock, twenty years on": "pdf_signing_time_unproven", "revoked before signing": "pdf_signer_revoked",
                       "revoked, registry": "pdf_signer_revoked", "not in the trust list": "pdf_signer_not_in_trust_list"}


def test_b_t_and_b_lta_documents_take_the_full_path_with_the_same_reports(tmp_path, taken):
    """A signature timestamp (unsigned attribute) or later revisions (DSS, document timestamp):
    the fast path leaves them to pyHanko, and the reports are the full path's."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko_certvalidator import ValidationContext

    from tests.signatures import asn1
    from tests.test_signing_time import _issue_training
    from tests.tsa import local_tsa

    keys = KeyStore(tmp_path / "keys")
    keys.init(PASSPHRASE, now=datetime(2026, 10, 24, tzinfo=timezone.utc), dsc_years=1)
    registry = Registry.open(sqlite_url(tmp_path / "registry.sqlite3"))
    _, plain = _issue_training(registry, keys, NOW)
    with local_tsa(fixed_at=NOW) as tsa:
        _, stamped = _issue_training(registry, keys, NOW, timestamp_url=tsa.url)
        context = ValidationContext(trust_roots=[asn1(keys.root_certificate()), asn1(tsa.certificate)], allow_fetching=False)
        out = io.BytesIO()
        PdfTimeStamper(HTTPTimeStamper(tsa.url)).timestamp_pdf(IncrementalPdfFileWriter(io.BytesIO(stamped)), "sha256",
                                                               context, output=out)
    archived = out.getvalue()
    for at in (NOW + timedelta(days=1), LATER):
        v = _verifier({"keys": keys}, at, timestamp_roots=[tsa.certificate])
        _arm(_verifier({"keys": keys}, NOW + timedelta(days=1)), plain)
        taken.clear()
        for pdf in (stamped, archived):
            assert _same(v, pdf)["checks"][0]["reason"] == "pdf_signature_valid"
        assert all(answer is None for answer in taken)
    registry.close()


# -- the hostile-PDF suite ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def attacks(issued):  # noqa: F811
    return hostile.build_all(issued["pdfs"][0])


@pytest.mark.parametrize("with_registry", [False, True], ids=["offline", "registry"])
@pytest.mark.parametrize("attack", list(hostile.UPDATE_ATTACKS))
def test_every_hostile_file_gets_the_full_paths_report(issued, attacks, taken, attack, with_registry):  # noqa: F811
    v = verifier(issued, registry=with_registry)
    _arm(v, issued["pdfs"][0])
    taken.clear()
    report = _same(v, attacks[attack])
    assert report["verdict"] == "INVALID" and report["checks"][0]["outcome"] == "failed"
    assert all(answer is None for answer in taken), attack


@pytest.mark.parametrize("kind", ["rsa", "ed25519", "p384"])
def test_resigned_look_alikes_get_the_full_paths_report(issued, unsigned, taken, kind):  # noqa: F811
    pdf, seal = unsigned
    forged = hostile.resigned_look_alike(kind, pdf, issued["keys"].root_certificate(), issued["signer"].certificate, seal)
    v = verifier(issued, registry=False)
    _arm(v, issued["pdfs"][0])
    taken.clear()
    assert _same(v, forged)["checks"][0]["reason"] == "pdf_signer_untrusted"
    assert all(answer is None for answer in taken)


# -- forgeries in the issued layout (one revision, the gap filled anew) -------------------------------

def _gap(pdf: bytes) -> tuple[int, int]:
    match = re.search(rb"/ByteRange \[0 (\d+) (\d+) (\d+)\]", pdf)
    return int(match.group(1)), int(match.group(2))


def _with_cms(pdf: bytes, container: bytes) -> bytes:
    """`pdf` with `container` written into its /Contents gap, padded with zeros, in place."""
    first, second = _gap(pdf)
    digits = container.hex().encode()
    assert len(digits) <= second - first - 2
    return pdf[:first + 1] + digits.ljust(second - first - 2, b"0") + pdf[second - 1:]


def _signed_by(pdf: bytes, certificate: x509.Certificate, key, extra: list[x509.Certificate]) -> bytes:
    """`pdf` signed in place again: a PAdES container by `key` naming `certificate`, the
    certificates `extra` added to the container."""
    from asn1crypto import keys as asn1_keys
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from certgen.adapters.pyhanko import CmsTemplate
    from tests.signatures import asn1

    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    signer = signers.SimpleSigner(signing_cert=asn1(certificate), signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
                                  cert_registry=SimpleCertificateStore.from_certs([asn1(c) for c in extra]))
    first, second = _gap(pdf)
    digest = hashlib.sha256(pdf[:first] + pdf[second:]).digest()
    return _with_cms(pdf, CmsTemplate(signer, key).sign_digest(digest))


def _p256_look_alike(issued):  # noqa: F811
    """A DSC with the genuine signer's subject, issuer and serial number on another P-256 key,
    under a 'root' with the genuine root's name and key identifier."""
    root, genuine = issued["keys"].root_certificate(), issued["signer"].certificate
    now = datetime.now(timezone.utc)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    fake = (x509.CertificateBuilder().subject_name(genuine.subject).issuer_name(genuine.issuer).public_key(key.public_key())
            .serial_number(genuine.serial_number).not_valid_before(now - timedelta(days=30))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier(ski.digest, None, None), critical=False)
            .sign(root_key, hashes_sha256()))
    return fake, key


def hashes_sha256():
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def _der_length(der: bytes) -> int:
    """The length of the DER element at the start of `der`, header included (not the hex text
    with its trailing zeros stripped: a signature whose last byte ends in a 0 digit would put
    the "padding" inside the signature, about one run in sixteen)."""
    if der[1] < 0x80:
        return 2 + der[1]
    size = der[1] & 0x7F
    return 2 + size + int.from_bytes(der[2:2 + size], "big")


def _forgeries(issued) -> dict[str, tuple[bytes, str]]:  # noqa: F811
    """name -> (file, the full path's first reason offline)."""
    pdf = issued["pdfs"][0]
    root, genuine = issued["keys"].root_certificate(), issued["signer"].certificate
    fake, fake_key = _p256_look_alike(issued)
    stranger = ec.generate_private_key(ec.SECP256R1())
    first, second = _gap(pdf)
    hexed = pdf[first + 1:second - 1]
    padding_at = first + 1 + 2 * _der_length(bytes.fromhex(hexed.decode()))  # the zeros after the CMS container
    inside = pdf.index(b"stream", pdf.index(b"/Length")) + 16
    assert inside < first
    return {
        "look-alike signer, same subject and serial, another key": (_signed_by(pdf, fake, fake_key, [root]),
                                                                   "pdf_signer_untrusted"),
        # two certificates answer to the signer's issuer and serial: pyHanko names no signer
        "look-alike signer with the genuine certificate beside it": (_signed_by(pdf, fake, fake_key, [genuine, root]),
                                                                    "pdf_signature_malformed"),
        "genuine certificate, signed by another key": (_signed_by(pdf, genuine, stranger, [root]),
                                                       "pdf_signature_invalid"),
        # inside the first content stream's data: the file still parses, only the digest differs
        "a signed byte changed": (pdf[:inside] + bytes([pdf[inside] ^ 1]) + pdf[inside + 1:], "pdf_signature_invalid"),
        "bytes after %%EOF": (pdf + b"% appended\n", "pdf_modified_after_signing"),
        "a revision appended after %%EOF": (hostile.isa_trailer_without_xref(pdf), "pdf_modified_after_signing"),
        "byte range leaving a gap before /Contents": (
            hostile._set_byte_range_in_place(pdf, [0, first - 20, second, len(pdf) - second]), "pdf_signature_invalid"),
        "byte range ending early": (
            hostile._set_byte_range_in_place(pdf, [0, first, second, len(pdf) - second - 10]), "pdf_signature_invalid"),
        "padding after the container changed": (pdf[:padding_at] + b"ff" + pdf[padding_at + 2:], "pdf_signature_valid"),
        "/Contents in upper case": (pdf[:first + 1] + hexed.upper() + pdf[second - 1:], "pdf_signature_valid"),
    }


@pytest.mark.parametrize("with_registry", [False, True], ids=["offline", "registry"])
def test_forgeries_in_the_issued_layout_get_the_full_paths_report(issued, taken, with_registry):  # noqa: F811
    v = verifier(issued, registry=with_registry)
    for name, (data, reason) in _forgeries(issued).items():
        _arm(v, issued["pdfs"][0])
        taken.clear()
        report = _same(v, data)
        if not with_registry:
            assert report["checks"][0]["reason"] == reason, name
        if report["checks"][0]["reason"] != "pdf_signature_valid":
            assert all(answer is None for answer in taken), name
        else:  # the same signed bytes, another spelling of the container: still the fast path's
            assert taken and taken[-1] is not None, name
        if with_registry:
            assert report["verdict"] == "INVALID", name  # never the registered file


def test_a_look_alike_never_enters_the_signer_cache(issued):  # noqa: F811
    v = verifier(issued, registry=False)
    _arm(v, issued["pdfs"][0])
    known = dict(pdf_fast.SIGNERS._known)
    for data, _ in _forgeries(issued).values():
        v.verify_pdf(data)
    assert pdf_fast.SIGNERS._known == known
    genuine = issued["signer"].certificate.public_bytes(serialization.Encoding.DER)
    learned = {layout.container.signer_der for layouts in pdf_fast.CONTAINERS._known.values() for layout in layouts}
    assert learned <= {genuine}


def _container_bytes(pdf: bytes) -> bytes:
    first, second = _gap(pdf)
    return bytes.fromhex(pdf[first + 1:second - 1].decode())


def test_a_container_is_matched_only_when_equal_but_for_digest_and_signature(issued):  # noqa: F811
    """The layout cache: a container equal to a checked one but for the message digest and
    the signature value is matched (values taken from it); one byte changed anywhere else is not."""
    v = verifier(issued, registry=False)
    _arm(v, issued["pdfs"][0])
    root_der = issued["keys"].root_certificate().public_bytes(serialization.Encoding.DER)
    for pdf in issued["pdfs"]:
        v.verify_pdf(pdf)
    raw = _container_bytes(issued["pdfs"][1])
    matched = pdf_fast.CONTAINERS.match(raw, root_der)
    assert matched is not None and matched.signer_der == issued["signer"].certificate.public_bytes(serialization.Encoding.DER)
    layout = next(layout for layouts in pdf_fast.CONTAINERS._known.values() for layout in layouts
                  if raw[layout.signature_at:layout.signature_at + layout.signature_size] == matched.signature)
    assert matched.message_digest == raw[layout.digest_at:layout.digest_at + 32]
    size = pdf_fast._der_length(raw)
    values = set(range(layout.digest_at, layout.digest_at + 32)) | set(
        range(layout.signature_at, layout.signature_at + layout.signature_size))
    for at in range(0, size):
        changed = raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]
        found = pdf_fast.CONTAINERS.match(changed, root_der)
        if at in values:
            assert found is not None, at
        else:
            assert found is None, at


def test_the_cache_answers_only_inside_the_validity_of_signer_and_root(issued):  # noqa: F811
    v = verifier(issued, registry=False)
    _arm(v, issued["pdfs"][0])
    root = issued["keys"].root_certificate()
    root_der = root.public_bytes(serialization.Encoding.DER)
    pdf = issued["pdfs"][1]
    found = pdf_fast.issued_layout(pdf, root_der, 20)
    signer = issued["signer"].certificate
    assert found is not None and found.signer_der == signer.public_bytes(serialization.Encoding.DER)
    assert pdf_fast.SIGNERS.signer_at(root_der, found, NOW) is not None
    assert pdf_fast.SIGNERS.signer_at(root_der, found, signer.not_valid_after_utc + timedelta(seconds=1)) is None
    assert pdf_fast.SIGNERS.signer_at(root_der, found, signer.not_valid_before_utc - timedelta(seconds=1)) is None
    assert pdf_fast.SIGNERS.signer_at(b"another root", found, NOW) is None


# -- the switch and the fence ------------------------------------------------------------------------

def test_untested_pyhanko_means_the_full_path_for_every_file(issued, taken, monkeypatch):  # noqa: F811
    monkeypatch.setattr(pyhanko_internals, "usable", lambda: False)
    v = verifier(issued, registry=True)
    for pdf in issued["pdfs"]:
        assert _same(v, pdf)["verdict"] == "VALID"
    assert taken == []


def test_the_fence_was_tested_with_the_versions_certgens_adapter_names():
    assert pyhanko_internals.TESTED_VERSIONS == TESTED["pyhanko"]
    assert pyhanko_internals.usable()


@pytest.mark.parametrize("switch", [["--full-validation"], "env"], ids=["option", "environment"])
def test_certverify_full_validation_gives_the_same_lines(issued, attacks, tmp_path, switch):  # noqa: F811
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for i, pdf in enumerate(issued["pdfs"]):
        (folder / f"issued-{i}.pdf").write_bytes(pdf)
    for name in ("shadow_xref_only", "usf_byte_range_overlapping", "isa_no_xref_no_trailer"):
        (folder / f"{name}.pdf").write_bytes(attacks[name])
    keys = issued["keys"]
    base = ["--trust-list", str(keys.trustlist_path), "--root", str(keys.root_cert_path),
            "--registry", sqlite_url(issued["folder"] / "registry.sqlite3"), "--at", NOW.isoformat()]
    runner = CliRunner()
    fast = runner.invoke(certverify, [*base, "pdf", str(folder), "--json", "--workers", "1"], catch_exceptions=False)
    if switch == "env":
        slow = runner.invoke(certverify, [*base, "pdf", str(folder), "--json", "--workers", "1"],
                             env={"CERTVERIFY_PDF_FULL_VALIDATION": "1"}, catch_exceptions=False)
    else:
        slow = runner.invoke(certverify, [*base, "pdf", str(folder), "--json", "--workers", "1", *switch],
                             catch_exceptions=False)
    assert fast.exit_code == slow.exit_code == 1
    assert fast.output == slow.output
    summary = json.loads(fast.output.splitlines()[-1])["summary"]
    assert summary == {"files": 6, "verdicts": {"VALID": 3, "INVALID": 3}}


def test_full_validation_is_documented():
    text = (Path(__file__).parent.parent / "docs" / "verification.md").read_text(encoding="utf-8")
    assert "--full-validation" in text and "CERTVERIFY_PDF_FULL_VALIDATION" in text


def test_a_fresh_verifier_is_not_fooled_by_a_cache_of_another_root(issued, keystore):  # noqa: F811
    """The cache is keyed by the root too: the same signer under another root is the full path's."""
    v = verifier(issued, registry=False)
    _arm(v, issued["pdfs"][0])
    other = Verifier(issued["keys"].trust_list(), None, keystore.root_certificate(), lambda: NOW)
    report = _same(other, issued["pdfs"][1])
    assert report["verdict"] == "INVALID" and report["checks"][0]["reason"] == "pdf_signer_untrusted"
    assert Verdict.INVALID.value == "INVALID"
