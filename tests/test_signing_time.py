"""Signatures that outlive their signer: a PDF's signer is judged at a trusted signing time
(an RFC 3161 timestamp, else the registry's issue record of the file), never at the verifier's
clock alone and never at the time the PDF claims for itself (docs/verification.md)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import update

from certgen.barcode import qr_matrix
from certgen.config import sqlite_url
from certgen.keys import KeyStore
from certgen.model import DocumentKind, Series, record_to_json
from certgen.registry import NewCertificate, Registry
from certgen.registry.audit import verify_log
from certgen.registry.tables import CertificateRow
from certgen.render.document import SIGNATURE_BOX, render_certificate
from certgen.seal import SealClaims, seal_text, sign_seal
from certgen.sign import PdfSealer
from certgen.trust import TrustList
from tests.conftest import NOW, PASSPHRASE
from tests.documents import templates_and_fonts, training
from tests.signatures import asn1
from tests.tsa import local_tsa
from verify.cli import main as certverify
from verify.report import Outcome, Reason, SigningTime, TimeSource, Verdict
from verify.service import Verifier
from verify.status import RegistryStatus

URL = "https://verifikasi.example.id/v/"
#: Twenty years on: the first signer expired in 2027, the root in 2046.
LATER = datetime(2046, 11, 24, 3, 0, tzinfo=timezone.utc)
FIRST_ROTATION = datetime(2027, 10, 1, tzinfo=timezone.utc)
SECOND_ROTATION = datetime(2028, 9, 1, tzinfo=timezone.utc)


def _issue_training(registry: Registry, keys: KeyStore, now: datetime, *, timestamp_url: str | None = None) -> tuple[str, bytes]:
    """A training certificate (no expiry) sealed, signed and recorded as the pipeline does it."""
    signer = keys.current_signer(PASSPHRASE, now=now)
    record = training()
    number = registry.reserve([NewCertificate(Series.TRAINING, record.name, record.course_code, now.date(), None,
                                              record_to_json(record))], now=now)[0].number
    text = seal_text(sign_seal(SealClaims(number, DocumentKind.TRAINING, record.name, record.course_code, now.date(), None,
                                          "ID-BSKP", now), signer), URL)
    templates, fonts = templates_and_fonts()
    sealer = PdfSealer(signer, [keys.root_certificate()], timestamp_url=timestamp_url)
    if sealer.signs_in_place:
        field = sealer.field(SIGNATURE_BOX, now, reason=f"Certificate {number}", seal=text)
        pdf = sealer.complete(render_certificate(templates, fonts, record, number, qr_matrix(text), now.date(), signature=field))
    else:
        pdf = sealer.sign(render_certificate(templates, fonts, record, number, qr_matrix(text), now.date()), SIGNATURE_BOX,
                          reason=f"Certificate {number}", seal=text)
    registry.mark_issued(number, pdf_sha256=hashlib.sha256(pdf).hexdigest(), dsc_kid=signer.kid.hex(), now=now,
                         actor="tester", seal=text)
    return number, pdf


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Keys whose signers live one year, a training certificate issued on NOW, then two rotations."""
    folder = tmp_path_factory.mktemp("signing-time")
    keys = KeyStore(folder / "keys")
    keys.init(PASSPHRASE, now=datetime(2026, 10, 24, tzinfo=timezone.utc), dsc_years=1)
    registry = Registry.open(sqlite_url(folder / "registry.sqlite3"))
    first_kid = keys.current_signer(PASSPHRASE, now=NOW).kid
    number, pdf = _issue_training(registry, keys, NOW)
    keys.rotate(PASSPHRASE, now=FIRST_ROTATION, dsc_years=1)
    keys.rotate(PASSPHRASE, now=SECOND_ROTATION, dsc_years=1)
    (folder / "training.pdf").write_bytes(pdf)
    yield {"folder": folder, "keys": keys, "registry": registry, "number": number, "pdf": pdf, "first_kid": first_kid}
    registry.close()


def _verifier(world, at: datetime, *, registry: Registry | None = None, trust=None, timestamp_roots=()) -> Verifier:
    status = RegistryStatus(registry, lambda: at) if registry is not None else None
    return Verifier(trust or world["keys"].trust_list(), status, world["keys"].root_certificate(), lambda: at,
                    timestamp_roots=timestamp_roots)


def _reasons(report):
    return [c.reason for c in report.checks]


def test_the_setting_is_what_it_claims(world):
    """Three signers, the first long expired by LATER, and the root too: nothing here is valid now."""
    signers = world["keys"].signers()
    assert len(signers) == 3 and signers[0].kid == world["first_kid"]
    assert all(s.certificate.not_valid_after_utc < LATER for s in signers)
    assert world["keys"].root_certificate().not_valid_after_utc < LATER


def test_training_certificate_is_valid_twenty_years_on_with_the_registry(world):
    report = _verifier(world, LATER, registry=world["registry"]).verify_pdf(world["pdf"], "training.pdf")
    assert report.verdict is Verdict.VALID, report.summary
    assert _reasons(report) == [Reason.PDF_SIGNATURE_VALID, Reason.SEAL_VALID, Reason.SEAL_MATCHES_REGISTRY,
                                Reason.STATUS_ACTIVE, Reason.PDF_REGISTERED]
    assert "2026-11-24 03:00Z" in report.checks[0].detail and "registry's issue record" in report.checks[0].detail
    assert report.certificate.issued_at == NOW


def test_the_same_pdf_offline_twenty_years_on_does_not_pretend(world):
    """No registry, no timestamp: the signer expired and nothing proves when the PDF was signed."""
    report = _verifier(world, LATER).verify_pdf(world["pdf"])
    assert report.verdict is Verdict.INDETERMINATE
    assert [(c.outcome, c.reason) for c in report.checks] == [(Outcome.INDETERMINATE, Reason.PDF_SIGNING_TIME_UNPROVEN)]
    assert "expired on 2027-" in report.summary and "registry" in report.summary and "timestamp" in report.summary
    # an expired signer the trust list does not name is still refused outright
    stranger = _verifier(world, LATER, trust=TrustList.from_signers([])).verify_pdf(world["pdf"])
    assert stranger.verdict is Verdict.INVALID and _reasons(stranger) == [Reason.PDF_SIGNER_UNKNOWN]


def test_offline_while_the_signer_is_valid_the_clock_is_enough(world):
    report = _verifier(world, NOW + timedelta(days=30)).verify_pdf(world["pdf"])
    assert _reasons(report) == [Reason.PDF_SIGNATURE_VALID, Reason.SEAL_VALID, Reason.STATUS_NOT_CHECKED]
    assert "verifier's clock" in report.checks[0].detail
    assert report.signing_time == SigningTime(NOW + timedelta(days=30), TimeSource.CLOCK)


def test_certverify_at_twenty_years_on(world):
    folder = world["folder"]
    base = ["--trust-list", str(folder / "keys" / "trustlist.json"), "--root", str(folder / "keys" / "root.cert.pem"),
            "--at", "2046-11-24T10:00:00+07:00"]
    online = CliRunner().invoke(certverify, [*base, "--registry", sqlite_url(folder / "registry.sqlite3"), "pdf",
                                             str(folder / "training.pdf"), "--json"], catch_exceptions=False)
    assert online.exit_code == 0, online.output
    line = json.loads(online.output.splitlines()[0])
    assert line["verdict"] == "VALID" and line["checked_at"].startswith("2046-11-24")
    assert line["certificate"]["issued_at"] == NOW.isoformat()
    assert line["signing_time"] == {"at": NOW.isoformat(), "source": "registry"}
    offline = CliRunner().invoke(certverify, [*base, "pdf", str(folder / "training.pdf"), "--json"], catch_exceptions=False)
    assert offline.exit_code == 1
    assert json.loads(offline.output.splitlines()[0])["checks"][0]["reason"] == "pdf_signing_time_unproven"
    # --at reaches the PDF check: judged in 2026, the signer is still valid offline
    then = CliRunner().invoke(certverify, [*base[:-1], "2026-12-01T10:00:00+07:00", "pdf", str(folder / "training.pdf"),
                                           "--json"], catch_exceptions=False)
    assert json.loads(then.output.splitlines()[0])["checks"][0]["reason"] == "pdf_signature_valid"


def test_signed_after_a_revocation_cut_off_is_invalid_then_too(world):
    kid = world["first_kid"]
    before = world["keys"].trust_list().revoke(kid, NOW - timedelta(hours=1), "key compromise")
    report = _verifier(world, LATER, registry=world["registry"], trust=before).verify_pdf(world["pdf"])
    assert report.verdict is Verdict.INVALID and _reasons(report) == [Reason.PDF_SIGNER_REVOKED]
    assert "2026-11-24 03:00Z (the registry's issue record of this file)" in report.summary
    assert report.signing_time == SigningTime(NOW, TimeSource.REGISTRY)
    # a cut-off after the issue record leaves the document valid
    after = world["keys"].trust_list().revoke(kid, NOW + timedelta(hours=1), "key compromise")
    assert _verifier(world, LATER, registry=world["registry"], trust=after).verify_pdf(world["pdf"]).verdict is Verdict.VALID
    # offline, a revoked signer's document is not taken on its own word
    offline = _verifier(world, NOW + timedelta(days=1), trust=after).verify_pdf(world["pdf"])
    assert offline.verdict is Verdict.INDETERMINATE and _reasons(offline) == [Reason.PDF_SIGNING_TIME_UNPROVEN]


def _set_issued_at(registry: Registry, number: str, moment: datetime) -> None:
    """What an attacker with write access to the database does, behind the log's back."""
    with registry.engine.begin() as conn:
        conn.execute(update(CertificateRow).where(CertificateRow.number == number).values(issued_at=moment))


def test_an_edited_issue_time_is_not_trusted_blindly(tmp_path):
    """The registry's time only bounds the signing time from above: moved earlier than the
    signature's own time it contradicts signed data; moved later it only makes verdicts stricter."""
    keys = KeyStore(tmp_path / "keys")
    keys.init(PASSPHRASE, now=datetime(2026, 10, 24, tzinfo=timezone.utc), dsc_years=1)
    registry = Registry.open(sqlite_url(tmp_path / "registry.sqlite3"))
    number, pdf = _issue_training(registry, keys, NOW)
    kid = keys.current_signer(PASSPHRASE, now=NOW).kid
    revoked = keys.trust_list().revoke(kid, NOW - timedelta(hours=1), "key compromise")
    world = {"keys": keys}
    assert _verifier(world, LATER, registry=registry, trust=revoked).verify_pdf(pdf).verdict is Verdict.INVALID
    # backdated before the cut-off to rescue the document: contradicts the signature's own time
    _set_issued_at(registry, number, NOW - timedelta(days=2))
    rescued = _verifier(world, LATER, registry=registry, trust=revoked).verify_pdf(pdf)
    assert rescued.verdict is Verdict.INDETERMINATE and _reasons(rescued) == [Reason.PDF_SIGNING_TIME_CONFLICT]
    assert "certgen log --verify" in rescued.summary
    # and the log names the edit (every column is under it: docs/registry.md)
    found = verify_log(registry, keys.trust_list(), keys.root_certificate()).problems
    assert [(p.where, p.code, p.column) for p in found] == [(f"certificate {number}", "column_differs", "issued_at")]
    # moved past the signer's expiry: the document is refused, nothing is gained
    _set_issued_at(registry, number, datetime(2030, 1, 1, tzinfo=timezone.utc))
    late = _verifier(world, LATER, registry=registry).verify_pdf(pdf)
    assert late.verdict is Verdict.INVALID and _reasons(late) == [Reason.PDF_SIGNER_UNTRUSTED]
    assert "not valid at the signing time 2030-01-01" in late.summary
    registry.close()


def test_a_timestamp_is_the_time_source_offline(tmp_path):
    """PAdES B-T: the timestamp authority vouches for the signing time; no registry needed."""
    keys = KeyStore(tmp_path / "keys")
    keys.init(PASSPHRASE, now=datetime(2026, 10, 24, tzinfo=timezone.utc), dsc_years=1)
    registry = Registry.open(sqlite_url(tmp_path / "registry.sqlite3"))
    with local_tsa(fixed_at=NOW) as tsa:
        number, pdf = _issue_training(registry, keys, NOW, timestamp_url=tsa.url)
    assert tsa.requests == ["application/timestamp-query"]
    keys.rotate(PASSPHRASE, now=FIRST_ROTATION, dsc_years=1)
    keys.rotate(PASSPHRASE, now=SECOND_ROTATION, dsc_years=1)
    world = {"keys": keys}
    offline = _verifier(world, LATER, timestamp_roots=[tsa.certificate]).verify_pdf(pdf)
    assert _reasons(offline) == [Reason.PDF_SIGNATURE_VALID, Reason.SEAL_VALID, Reason.STATUS_NOT_CHECKED]
    assert "2026-11-24 03:00Z" in offline.checks[0].detail and "RFC 3161 timestamp" in offline.checks[0].detail
    assert offline.signing_time == SigningTime(NOW, TimeSource.TIMESTAMP)
    online = _verifier(world, LATER, registry=registry, timestamp_roots=[tsa.certificate]).verify_pdf(pdf)
    assert online.verdict is Verdict.VALID and "RFC 3161 timestamp" in online.checks[0].detail
    # the same from the command line: --tsa-root names the authority
    (tmp_path / "tsa.pem").write_bytes(tsa.certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "bt.pdf").write_bytes(pdf)
    base = ["--trust-list", str(keys.trustlist_path), "--root", str(keys.root_cert_path), "--at", "2046-11-24T10:00:00+07:00"]
    for tsa_option, reason in ((["--tsa-root", str(tmp_path / "tsa.pem")], "pdf_signature_valid"), ([], "pdf_signing_time_unproven")):
        result = CliRunner().invoke(certverify, [*base, *tsa_option, "pdf", str(tmp_path / "bt.pdf"), "--json"],
                                    catch_exceptions=False)
        assert json.loads(result.output.splitlines()[0])["checks"][0]["reason"] == reason
    missing = CliRunner().invoke(certverify, [*base, "--tsa-root", str(tmp_path / "none.pem"), "pdf", str(tmp_path / "bt.pdf")])
    assert missing.exit_code == 1 and "none.pem: cannot read the timestamp authority's root certificate" in missing.output
    # a timestamp from an authority the verifier does not trust dates nothing
    untrusted = _verifier(world, LATER).verify_pdf(pdf)
    assert _reasons(untrusted) == [Reason.PDF_SIGNING_TIME_UNPROVEN]
    # a revocation cut-off before the timestamp invalidates the document
    cut = keys.trust_list().revoke(keys.signers()[0].kid, NOW - timedelta(minutes=30), "key compromise")
    revoked = _verifier(world, LATER, trust=cut, timestamp_roots=[tsa.certificate]).verify_pdf(pdf)
    assert revoked.verdict is Verdict.INVALID and _reasons(revoked) == [Reason.PDF_SIGNER_REVOKED]
    registry.close()


def test_document_timestamps_and_validation_material_after_the_signature_are_accepted(tmp_path):
    """PAdES B-LTA adds a document security store and a document timestamp after the signature:
    not a change of the document, and not a second signature of it."""
    keys = KeyStore(tmp_path / "keys")
    keys.init(PASSPHRASE, now=datetime(2026, 10, 24, tzinfo=timezone.utc), dsc_years=1)
    registry = Registry.open(sqlite_url(tmp_path / "registry.sqlite3"))
    with local_tsa(fixed_at=NOW) as tsa:
        _, pdf = _issue_training(registry, keys, NOW, timestamp_url=tsa.url)
        context = ValidationContext(trust_roots=[asn1(keys.root_certificate()), asn1(tsa.certificate)], allow_fetching=False)
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        out = io.BytesIO()
        PdfTimeStamper(HTTPTimeStamper(tsa.url)).timestamp_pdf(writer, "sha256", context, output=out)
    archived = out.getvalue()
    reader = PdfFileReader(io.BytesIO(archived))
    assert len(reader.embedded_timestamp_signatures) == 1 and "/DSS" in reader.root
    report = _verifier({"keys": keys}, LATER, timestamp_roots=[tsa.certificate]).verify_pdf(archived)
    assert _reasons(report) == [Reason.PDF_SIGNATURE_VALID, Reason.SEAL_VALID, Reason.STATUS_NOT_CHECKED]
    assert "RFC 3161 timestamp" in report.checks[0].detail
    registry.close()


@pytest.mark.parametrize("seal", ["", "not a seal", URL + "AAAA", URL + "2A", URL + "7777777777777777",
                                  URL + base64.b32encode(b"\x81" * 1000 + b"\x00").decode().rstrip("=")])
def test_a_garbage_seal_in_a_pdf_asks_the_registry_nothing(seal):
    """The number a PDF's seal names is only a key to ask the registry by; hostile bytes give none."""
    from verify.service import _number_in

    assert _number_in(seal) is None


def test_the_number_of_an_expired_signers_seal_is_still_read(world):
    from verify.service import _number_in

    seal = world["registry"].get(world["number"]).seal
    assert _number_in(seal) == world["number"]
