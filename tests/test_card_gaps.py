"""Gaps of card editions (issue 12 §3): cards printed before editions, the edition bound, a
finished reprint read from the log, card editions in the status list."""

import json
import shutil
from datetime import timedelta

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from certgen.cli import main as certgen
from certgen.model import EventType
from certgen.registry import Registry
from certgen.seal import MAX_EDITION
from tests.conftest import NOW
from tests.test_batch import person_rows
from tests.test_card_editions import batch  # noqa: F401 - the fixture
from verify.cli import main as certverify
from verify.web.app import create_app
from verify.web.config import WebConfig

AT = ["--at", (NOW + timedelta(hours=1)).isoformat()]


def _certverify(settings, *args):
    keys = settings.keys_dir
    base = ["--trust-list", str(keys / "trustlist.json"), "--root", str(keys / "root.cert.pem"),
            "--registry", settings.registry_url, *AT]
    return CliRunner().invoke(certverify, [*base, *args], catch_exceptions=False)


def _json_lines(result):
    return [json.loads(line) for line in result.output.splitlines()]


def _reasons(report):
    return [c["reason"] for c in report["checks"]]


def _app(settings):
    keys = settings.keys_dir
    return create_app(WebConfig(trust_list=keys / "trustlist.json", root=keys / "root.cert.pem",
                                registry_url=settings.registry_url, rate_limit_per_minute=0),
                      now=lambda: NOW + timedelta(hours=1))


@pytest.fixture
def legacy_batch(cli, settings, tmp_path, monkeypatch):
    """Two person certificates issued as before card editions: the card unsigned, printed with
    the certificate's own seal, and no card seal or edition recorded (what the issuing worker did
    before commit b9fb297: `render_card` of the certificate's matrix, `Issued` without card seal)."""
    from certgen import issue_worker
    from certgen.render.card import render_card

    real_seal_text, last = issue_worker.seal_text, []

    def remembered_seal_text(cose, verify_url):  # the certificate's seal, as the worker makes it
        last.append(real_seal_text(cose, verify_url))
        return last[-1]

    def certificate_seal(signer, verify_url, number, record, issuer, signed_at, edition):
        return last[-1]  # the card printed the certificate's own seal

    def unsigned_card(templates, fonts, sealer, card, seal, signed_at):
        return render_card(templates, fonts, card)

    real_issued = issue_worker.Issued
    monkeypatch.setattr(issue_worker, "seal_text", remembered_seal_text)
    monkeypatch.setattr(issue_worker, "card_seal", certificate_seal)
    monkeypatch.setattr(issue_worker, "signed_card", unsigned_card)
    monkeypatch.setattr(issue_worker, "Issued", lambda n, pdf, card, text, card_text: real_issued(n, pdf, card, text, None))
    result = cli(certgen, ["issue", "person", str(person_rows(tmp_path / "in", 2)), "--workers", "1"])
    assert result.exit_code == 0, result.output
    monkeypatch.undo()
    out = settings.data_dir / "issued" / "persons-person"
    numbers = [m["number"] for m in json.loads((out / "manifest.json").read_text())]
    registry = Registry.open(settings.registry_url)
    for number in numbers:
        cert = registry.get(number)
        assert cert.card_edition is None and cert.card_seal is None and cert.card_sha256 and cert.seal in last
    yield {"out": out, "numbers": numbers, "registry": registry}
    registry.close()


def test_a_card_printed_before_editions_is_superseded_by_its_first_reprint(legacy_batch, cli, settings, tmp_path):
    """The old card carried the certificate's seal: once reprinted (edition 2), the old card file
    and the batch's old print sheet read REPLACED (card_superseded) by `certverify pdf` and `scan`;
    the certificate itself (same seal, A4, signed) stays VALID; a bare seal stays VALID but says a
    card showing it was replaced (the documented limit). Before: every one of them read VALID."""
    out, (number, other) = legacy_batch["out"], legacy_batch["numbers"]
    old_card = tmp_path / "old-card.pdf"
    shutil.copy(out / "cards" / f"{number}.pdf", old_card)
    cert_seal = legacy_batch["registry"].get(number).seal

    # before the reprint: the old card is the current card, VALID everywhere
    (before,) = _json_lines(_certverify(settings, "pdf", str(old_card), "--json", "--workers", "1"))[:-1]
    assert before["verdict"] == "VALID" and "card_current" in _reasons(before)

    result = cli(certgen, ["card", "reprint", number, "--reason", "lost", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["edition"] == 2

    superseded = f"this card of {number} is edition 1; it was replaced by a newer card (edition 2)"
    # the old card file: certverify pdf and certverify scan
    result = _certverify(settings, "pdf", str(old_card), "--json", "--workers", "1")
    (report,) = _json_lines(result)[:-1]
    assert result.exit_code == 1 and report["verdict"] == "REPLACED" and "card_superseded" in _reasons(report)
    assert report["summary"].startswith(superseded)
    scanned = json.loads(_certverify(settings, "scan", str(old_card), "--json").output)
    assert scanned["verdict"] == "REPLACED" and scanned["summary"].startswith(superseded)
    assert scanned["barcodes"] == [cert_seal]
    # the whole folder: the old sheet's card of `number` superseded; everything else VALID
    reports = _json_lines(_certverify(settings, "pdf", str(out), "--json", "--workers", "1"))[:-1]
    verdicts = {r["source"].rsplit("/", 1)[1] + ":" + (r.get("claims") or {}).get("number", ""): r["verdict"]
                for r in reports}
    assert verdicts[f"cards-0001.pdf page 2:{number}"] == "REPLACED"
    assert verdicts[f"cards-0001.pdf page 2:{other}"] == "VALID"
    assert verdicts[f"{number}.pdf:{number}"] == "VALID" and verdicts[f"{other}.pdf:{other}"] == "VALID"
    certificates = [r for r in reports if "/certificates/" in r["source"]]
    assert len(certificates) == 2 and all(r["verdict"] == "VALID" for r in certificates)
    # the certificate's own seal, typed or scanned: VALID (it is the certificate's), with the notice
    bare = json.loads(_certverify(settings, "seal", cert_seal, "--json").output)
    assert bare["verdict"] == "VALID" and "card_seal_elsewhere" in _reasons(bare)
    assert "a card showing this code was replaced by a newer card" in _certverify(settings, "seal", cert_seal).output
    # the untouched certificate's seal carries no notice
    other_seal = legacy_batch["registry"].get(other).seal
    assert "card_seal_elsewhere" not in _reasons(json.loads(_certverify(settings, "seal", other_seal, "--json").output))

    with TestClient(_app(settings), base_url="http://testserver") as client:
        code = cert_seal.rsplit("/v/", 1)[1]
        page = client.get(f"/v/{code}?lang=en")
        assert 'data-verdict="VALID"' in page.text
        assert "This code is the certificate&#39;s: a card showing it was replaced by a newer one" in page.text \
            or "This code is the certificate's: a card showing it was replaced by a newer one" in page.text
        assert "kartu yang memuat kode ini telah diganti" in client.get(f"/v/{code}?lang=id").text
        api = client.get(f"/api/v1/seal/{code}").json()
        assert api["verdict"] == "VALID" and "card_seal_elsewhere" in _reasons(api)
        # the old card PDF uploaded: the service renders no PDF, an unsigned file is not VALID
        uploaded = client.post("/api/v1/upload", files={"file": ("card.pdf", old_card.read_bytes(), "application/pdf")})
        (up,) = uploaded.json()
        assert up["verdict"] == "INVALID" and "pdf_not_signed" in _reasons(up)
    assert cli(certgen, ["log", "--verify"]).exit_code == 0
    # a database writer who sets the edition back (the old card would read current again) is named
    from sqlalchemy import text

    with legacy_batch["registry"].engine.begin() as connection:
        connection.execute(text("UPDATE certificates SET card_edition = NULL, card_seal = NULL WHERE number = :n"),
                           {"n": number})
    audit = cli(certgen, ["log", "--verify"])
    assert audit.exit_code == 1 and "card_edition" in audit.output, audit.output


def test_a_certificate_seal_printed_on_a_card_layout_is_not_a_card(batch, settings, tmp_path):
    """Since editions, a card has a seal of its own: a card-sized print file showing the
    certificate's own seal (a seal pasted from the A4 certificate) is no card the registry
    recorded: INVALID, seal_mismatch. The certificate's own PDF stays VALID."""
    from certgen.barcode import qr_matrix
    from certgen.model import record_from_json
    from certgen.render.card import CardData, render_card
    from tests.documents import templates_and_fonts

    number = batch["numbers"][0]
    cert = batch["registry"].get(number)
    templates, fonts = templates_and_fonts()
    record = record_from_json(cert.kind, dict(cert.record))
    pasted = tmp_path / "pasted.pdf"
    pasted.write_bytes(render_card(templates, fonts, CardData(number, record, qr_matrix(cert.seal), record.photo,
                                                              NOW.date())))
    result = _certverify(settings, "pdf", str(pasted), "--json", "--workers", "1")
    (report,) = _json_lines(result)[:-1]
    assert report["verdict"] == "INVALID" and "seal_mismatch" in _reasons(report)
    assert "shows the certificate's own seal, but the card the registry recorded" in report["summary"]
    certificate = batch["out"] / "certificates" / f"{number}.pdf"
    (own,) = _json_lines(_certverify(settings, "pdf", str(certificate), "--json", "--workers", "1"))[:-1]
    assert own["verdict"] == "VALID" and "card_seal_elsewhere" not in _reasons(own)


def test_a_reprint_past_the_last_edition_is_refused(legacy_batch, cli, settings):
    """The card seal's edition claim goes from 1 to 999 (certgen.seal.MAX_EDITION): a reprint of
    a card at 999 is refused naming the certificate and the limit, recording nothing (it
    recorded edition 1000, whose seal no verifier can read)."""
    from certgen.registry.cards import record_card_written, record_reprint

    registry, number = legacy_batch["registry"], legacy_batch["numbers"][0]
    for edition in range(2, MAX_EDITION + 1):  # a finished reprint each (the files are not the point here)
        record_reprint(registry, number, edition=edition, seal=f"seal {edition}", card_sha256=f"{edition:064d}",
                       reason="damaged", now=NOW, actor="tester")
        assert record_card_written(registry, number, edition=edition, card_sha256=f"{edition:064d}", now=NOW,
                                   actor="tester")
    events = len(registry.events(number))
    result = cli(certgen, ["card", "reprint", number, "--reason", "lost"])
    assert result.exit_code == 1, result.output
    assert (f"Error: {number}: its card is at edition {MAX_EDITION}, the last one a card seal can name "
            f"(1 to {MAX_EDITION}") in result.output
    assert registry.get(number).card_edition == MAX_EDITION and len(registry.events(number)) == events
    with pytest.raises(Exception, match=f"edition {MAX_EDITION}, the last one"):
        record_reprint(registry, number, edition=MAX_EDITION + 1, seal="x", card_sha256="0" * 64, reason="lost",
                       now=NOW, actor="tester")


def test_a_card_file_deleted_after_a_finished_reprint_does_not_reuse_its_edition(batch, cli, settings):
    """Whether a reprint finished is read from the log (`card_written`), not from the folder:
    with cards/N.pdf deleted after reprint 2 finished, the next reprint prints edition 3 and the
    (lost) edition 2 verifies as superseded. Before, the next reprint 'resumed' edition 2: the
    lost card stayed VALID."""
    out, number = batch["out"], batch["numbers"][0]
    assert json.loads(cli(certgen, ["card", "reprint", number, "--reason", "damaged", "--json"]).output)["edition"] == 2
    lost = batch["registry"].get(number).card_seal
    (out / "cards" / f"{number}.pdf").unlink()
    again = json.loads(cli(certgen, ["card", "reprint", number, "--reason", "lost", "-o", str(out), "--json"]).output)
    assert again["edition"] == 3 and again["resumed"] is False
    assert [e.type for e in batch["registry"].events(number)] == [
        EventType.ISSUE, EventType.REPRINT, EventType.CARD_WRITTEN, EventType.REPRINT, EventType.CARD_WRITTEN]
    report = json.loads(_certverify(settings, "seal", lost, "--json").output)
    assert report["verdict"] == "REPLACED" and "card_superseded" in _reasons(report)
    assert cli(certgen, ["log", "--verify"]).exit_code == 0


def test_a_crash_after_the_card_file_before_it_is_logged_is_finished_without_a_new_edition(batch, cli, monkeypatch):
    """Files written, `card_written` not yet appended: the rerun finds the recorded file on disk,
    logs it written and prints nothing more (also for a token signer, which cannot redraw it)."""
    from certgen import card_reprint

    out, number = batch["out"], batch["numbers"][1]

    class PowerCut(BaseException):
        pass

    def crash(*args, **kwargs):
        raise PowerCut("power cut")

    monkeypatch.setattr(card_reprint, "record_card_written", crash)
    with pytest.raises(PowerCut):
        cli(certgen, ["card", "reprint", number, "--reason", "lost"])
    monkeypatch.undo()
    cert = batch["registry"].get(number)
    assert cert.card_edition == 2 and [e.type for e in batch["registry"].events(number)][-1] is EventType.REPRINT
    # nothing is drawn or signed to finish it (a token's card could not be drawn again)
    monkeypatch.setattr(card_reprint, "signed_card", crash)
    done = json.loads(cli(certgen, ["card", "reprint", number, "--reason", "lost", "--json"]).output)
    monkeypatch.undo()
    assert done["edition"] == 2 and done["resumed"] is True and done["card_sha256"] == cert.card_sha256
    assert done["sheet_file"] == str(out / "sheets" / f"reprint-{number}-e2.pdf")
    assert [e.type for e in batch["registry"].events(number)][-2:] == [EventType.REPRINT, EventType.CARD_WRITTEN]
    assert cli(certgen, ["log", "--verify"]).exit_code == 0


def test_the_replayer_names_a_forged_card_written_event():
    from datetime import datetime, timezone

    from certgen.registry.replay import RawEvent, replay_certificate
    from certgen.registry.state import state_digest

    from tests.test_card_editions import REPLAY_NUMBER, REPLAY_STATE

    number = REPLAY_NUMBER
    base = dict(REPLAY_STATE)
    at = datetime(2026, 11, 25, tzinfo=timezone.utc)

    def event(seq, type_, data):
        return RawEvent(seq, at, type_, number, "t", None, data, "0" * 64, "1" * 64)

    issue = event(1, "issue", {"state": base, "state_sha256": state_digest(base)})
    good = replay_certificate(number, [issue, event(2, "card_written", {"edition": 1, "card_sha256": "c" * 64,
                                                                        "state_sha256": state_digest(base)})])
    assert good.problems == [] and good.state == base
    wrong = replay_certificate(number, [issue, event(2, "card_written", {"edition": 2, "card_sha256": "c" * 64,
                                                                         "state_sha256": state_digest(base)})])
    assert [(p.code, p.column) for p in wrong.problems] == [("out_of_order", "card_edition")]
    stale = replay_certificate(number, [issue, event(2, "card_written", {"edition": 1, "card_sha256": "c" * 64,
                                                                         "state_sha256": "0" * 64})])
    assert [p.code for p in stale.problems] == ["event_state_mismatch"]
    early = replay_certificate(number, [event(1, "card_written", {"edition": 1})])
    assert [p.code for p in early.problems] == ["out_of_order"]


def test_the_status_list_carries_card_editions(batch, cli, settings):
    """`/api/v1/status-list` lists every card reprinted at least once: its current edition and the
    SHA-256 of its card seal, the very values the certificate's latest event commits to; the
    `certificates` list old clients read is unchanged (an active certificate is not in it)."""
    import hashlib

    from certgen.registry.state import state_digest

    number = batch["numbers"][2]
    with TestClient(_app(settings), base_url="http://testserver") as client:
        first = client.get("/api/v1/status-list")
        assert first.json()["cards"] == [] and first.json()["format"] == "certverify-status-list/1"
        assert cli(certgen, ["card", "reprint", number, "--reason", "lost"]).exit_code == 0
        changed = client.get("/api/v1/status-list", headers={"If-None-Match": first.headers["etag"]})
        assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]
        body = changed.json()
    cert = batch["registry"].get(number)
    assert body["certificates"] == []
    assert body["cards"] == [{"number": number, "card_edition": 2,
                              "card_seal_sha256": hashlib.sha256(cert.card_seal.encode()).hexdigest()}]
    latest = batch["registry"].events(number)[-1]
    reprint = batch["registry"].events(number)[-2]
    assert reprint.data["state"]["card_edition"] == "2"
    assert reprint.data["state"]["card_seal_sha256"] == body["cards"][0]["card_seal_sha256"]
    assert latest.data["state_sha256"] == state_digest(reprint.data["state"])
    assert body["log"]["events"] == latest.seq


def test_two_reprint_processes_at_once_print_two_editions_each_finished(batch, settings):
    """Two real `certgen card reprint` processes on one card: the locks make them take turns;
    editions 2 and 3, each followed by its `card_written` event, and the log intact."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import PASSPHRASE

    number = batch["numbers"][1]
    environ = {**os.environ, "CERTGEN_DATA": str(settings.data_dir), "CERTGEN_KEYS": str(settings.keys_dir),
               "CERTGEN_REGISTRY_URL": settings.registry_url, "CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode(),
               "PYTHONPATH": str(Path(__file__).parent.parent), "CERTGEN_ACTOR": "tester"}
    procs = [subprocess.Popen([sys.executable, "-m", "certgen.cli", "card", "reprint", number, "--reason", "lost",
                               "--json"], env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0, 0], results
    editions = sorted(json.loads(out)["edition"] for _, out, _ in results)
    assert editions == [2, 3]
    types = [e.type for e in batch["registry"].events(number)]
    assert types == [EventType.ISSUE, EventType.REPRINT, EventType.CARD_WRITTEN, EventType.REPRINT,
                     EventType.CARD_WRITTEN]
    verified = subprocess.run([sys.executable, "-m", "certgen.cli", "log", "--verify"], env=environ, capture_output=True,
                              text=True, timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr
