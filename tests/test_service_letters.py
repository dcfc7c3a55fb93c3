"""Apology letters: issued for a late result, sealed and signed, verifiable; redeemed once."""

from __future__ import annotations

from datetime import date

import pytest

from certgen.batch import IssueEnvironment
from certgen.cli import main
from certgen.model import Status
from certgen.registry import verify_log
from certgen.service import letters
from certgen.service.applications import ApplicationError, NewApplication
from certgen.service.log import verify_service_log
from verify.service import Verifier
from verify.status import RegistryStatus

from .conftest import PASSPHRASE
from .service_helpers import at, closed_application, document, register


@pytest.fixture
def world(registry, fresh_keystore, tmp_path):
    apps = register(registry)
    now = {"t": at("2026-11-24", 9)}
    env = IssueEnvironment(registry=registry, signer=fresh_keystore.current_signer(PASSPHRASE, now=at("2026-11-24")),
                           chain=[fresh_keystore.root_certificate()], actor="ana", now=lambda: now["t"])
    return apps, env, now, tmp_path / "letters", fresh_keystore


def test_a_late_result_gets_a_verifiable_letter_redeemed_once(world, registry):
    apps, env, now, folder, keys = world
    # complete 2 Nov; 14 working days end 20 Nov; reported Mon 23 Nov: one day late
    late, _ = closed_application(apps, "PT Maju Jaya", "2026-11-02", "2026-11-23", client_id="NIB-123")
    assert late.clock.late and late.clock.days_late == 1 and late.clock.deadline == date(2026, 11, 20)
    on_time, _ = closed_application(apps, "PT Maju Jaya", "2026-11-02", "2026-11-20", client_id="NIB-123")
    assert letters.due(apps, now["t"]) == [late.number]
    with pytest.raises(ApplicationError, match="its result was not reported late; no apology letter is due"):
        letters.issue_apology_letter(apps, on_time.number, env, folder)

    issued = letters.issue_apology_letter(apps, late.number, env, folder)
    assert issued.number.startswith("SM-2026-") and issued.application.apology_letter == issued.number
    with pytest.raises(ApplicationError, match=f"apology letter {issued.number} was already issued"):
        letters.issue_apology_letter(apps, late.number, env, folder)
    pdf = issued.path.read_bytes()
    verifier = Verifier(keys.trust_list(), RegistryStatus(registry, lambda: now["t"]), keys.root_certificate(),
                        lambda: now["t"])
    report = verifier.verify_pdf(pdf)
    assert report.verdict.value == "VALID", report.checks
    assert {c.reason.value for c in report.checks} >= {"pdf_signature_valid", "seal_valid", "seal_matches_registry",
                                                      "status_active", "pdf_registered"}
    assert report.certificate.record["days_late"] == 1 and report.certificate.record["application"] == late.number

    # the client's next application: one working day less
    nxt, _ = apps.new(NewApplication("product-type1", "PT Maju Jaya", "office", client_id="nib-123"),
                      now=at("2026-11-25"), actor="ana")
    other_client, _ = apps.new(NewApplication("product-type1", "CV Lain", "office"), now=at("2026-11-25"), actor="ana")
    with pytest.raises(ApplicationError, match=f"apology letter {issued.number} was given to another client"):
        letters.redeem(apps, other_client.number, issued.number, trust=None, now=at("2026-11-25"), actor="ana")
    with pytest.raises(ApplicationError, match=r"the application is closed \(result reported\)"):
        letters.redeem(apps, late.number, issued.number, trust=None, now=at("2026-11-25"), actor="ana")
    # scanning the letter: the QR code's text, checked against the trust list
    seal = registry.get(issued.number).seal
    redeemed = letters.redeem(apps, nxt.number, seal, trust=keys.trust_list(), now=at("2026-11-25"), actor="ana")
    assert redeemed.credit_letter == issued.number and redeemed.clock.allowed == 13
    apps.attach(nxt.number, document("n.pdf"), now=at("2026-11-25"), actor="ana")
    started = apps.condition(nxt.number, "complete", now=at("2026-11-25"), actor="ana")
    assert started.clock.deadline == date(2026, 12, 14)  # 13 working days after 25 Nov (no holiday in between)
    letter = registry.get(issued.number)
    assert letter.status is Status.REDEEMED and nxt.number in letter.status_reason
    with pytest.raises(ApplicationError, match=f"apology letter {issued.number} was already redeemed .*{nxt.number}"):
        letters.redeem(apps, other_client.number, issued.number, trust=None, now=at("2026-11-26"), actor="ana")
    # the public check: genuine, and used
    after = verifier.verify_number(issued.number)
    assert after.verdict.value == "VALID" and any(c.reason.value == "status_redeemed" for c in after.checks)
    assert f"redeemed on application {nxt.number}" in after.summary
    assert verify_log(registry, keys.trust_list(), keys.root_certificate()).ok
    assert verify_service_log(registry) == []
    # the public page shows it
    from starlette.testclient import TestClient
    from verify.web.app import create_app
    from verify.web.config import WebConfig

    keys.signed_trust_list(PASSPHRASE, now=now["t"])
    config = WebConfig(trust_list=keys.trustlist_path, root=keys.root_cert_path,
                       registry_url=str(registry.engine.url), rate_limit_per_minute=0)
    with TestClient(create_app(config, now=lambda: at("2026-11-26"))) as client:
        page = client.get("/n", params={"number": issued.number}).text
        assert 'data-verdict="VALID"' in page and f"digunakan pada permohonan {nxt.number}" in page
        assert "PT Maju Jaya" in page and "Keterlambatan (hari kerja)" in page
        english = client.get(f"/v/{seal.rsplit('/v/', 1)[1]}?lang=en").text
        assert f"redeemed on application {nxt.number}" in english and "Days late (working days)" in english


def test_a_withdrawn_letter_and_a_certificate_are_refused(world, registry):
    apps, env, now, folder, keys = world
    late, _ = closed_application(apps, "PT A", "2026-11-02", "2026-11-24")
    issued = letters.issue_apology_letter(apps, late.number, env, folder)
    registry.withdraw(issued.number, reason="issued by mistake", now=at("2026-11-24", 12), actor="kepala")
    nxt, _ = apps.new(NewApplication("person", "PT A", "office"), now=at("2026-11-25"), actor="ana")
    with pytest.raises(ApplicationError, match=rf"apology letter {issued.number} was withdrawn \(issued by mistake\)"):
        letters.redeem(apps, nxt.number, issued.number, trust=None, now=at("2026-11-25"), actor="ana")
    with pytest.raises(ApplicationError, match="check character does not match"):
        letters.redeem(apps, nxt.number, issued.number[:-1] + ("0" if issued.number[-1] != "0" else "1"), trust=None,
                       now=at("2026-11-25"), actor="ana")
    with pytest.raises(ApplicationError, match="a scanned letter is checked against the trust list"):
        letters.redeem(apps, nxt.number, "https://verifikasi.example.id/v/ABCDEF", trust=None, now=at("2026-11-25"), actor="a")
    with pytest.raises(ApplicationError, match="the scanned code is not a valid seal"):
        letters.redeem(apps, nxt.number, "https://verifikasi.example.id/v/ABCDEFGH", trust=keys.trust_list(),
                       now=at("2026-11-25"), actor="a")
    assert apps.get(nxt.number, at("2026-11-25")).credit_letter is None


def test_letter_and_redeem_commands(cli, settings):
    from certgen.registry import Registry

    registry = Registry.open(settings.registry_url)
    apps = register(registry)
    late, _ = closed_application(apps, "PT Cli", "2026-11-02", "2026-11-25")
    r = cli(main, ["app", "letter", "--due"], now=at("2026-11-25", 15))
    assert r.exit_code == 0, r.output
    assert f"{late.number}: apology letter SM-2026-000001-" in r.output and "(3 working day(s) late)" in r.output
    pdfs = list((settings.data_dir / "letters").glob("SM-2026-*.pdf"))
    assert len(pdfs) == 1
    assert "no apology letter is due" in cli(main, ["app", "letter", "--due"], now=at("2026-11-25", 16)).output
    letter = pdfs[0].stem
    nxt, _ = apps.new(NewApplication("product-type5", "PT Cli", "office"), now=at("2026-11-26"), actor="ana")
    r = cli(main, ["app", "redeem", nxt.number, letter], now=at("2026-11-26"))
    assert r.exit_code == 0 and f"apology letter {letter} redeemed; 40 working days allowed" in r.output
    again = cli(main, ["app", "redeem", nxt.number, letter], now=at("2026-11-26"))
    assert again.exit_code == 1 and "was already redeemed" in again.output
    # certverify reads the letter PDF like a certificate
    from verify.cli import main as certverify
    from click.testing import CliRunner
    keys = settings.keys_dir
    out = CliRunner().invoke(certverify, ["--trust-list", str(keys / "trustlist.json"), "--root", str(keys / "root.cert.pem"),
                                          "--registry", settings.registry_url, "pdf", str(pdfs[0])])
    assert "VALID" in out.output, out.output


def test_only_apology_letters_are_redeemed(registry):
    from certgen.errors import TransitionError
    from certgen.model import EventType
    from .registry_helpers import issue_one

    cert = issue_one(registry, "Siti", at("2026-11-02"))
    with pytest.raises(TransitionError, match="is not an apology letter; only those are redeemed"):
        registry.change_status(cert.number, EventType.REDEEM, reason="x", now=at("2026-11-03"), actor="a")
    assert registry.get(cert.number).status is Status.ACTIVE
