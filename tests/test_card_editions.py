"""Card editions end to end (issue 12, section 3): signed cards, `certgen card reprint`, the
superseded verdict over the CLI and HTTP, hostile editions, a crash mid-reprint."""

import json
import shutil
from datetime import timedelta

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from certgen.cli import main as certgen
from certgen.config import sqlite_url
from certgen.model import EventType, Status
from certgen.registry import Registry
from certgen.seal import SealClaims, open_seal, seal_text, sign_seal
from tests.conftest import NOW
from tests.signatures import make_nss_db, pdfsig, pyhanko_status
from tests.softhsm import softhsm  # noqa: F401 - the fixture
from tests.test_batch import SAMPLES, person_rows
from verify.cli import main as certverify
from verify.web.app import create_app
from verify.web.config import WebConfig

AT = ["--at", (NOW + timedelta(hours=1)).isoformat()]


@pytest.fixture
def batch(cli, settings, tmp_path):
    """Three person certificates issued with `certgen issue` (default output under DATA/issued/)."""
    rows = person_rows(tmp_path / "in", 3)
    result = cli(certgen, ["issue", "person", str(rows), "--workers", "1"])
    assert result.exit_code == 0, result.output
    out = settings.data_dir / "issued" / "persons-person"
    manifest = json.loads((out / "manifest.json").read_text())
    registry = Registry.open(settings.registry_url)
    yield {"out": out, "numbers": [m["number"] for m in manifest], "registry": registry}
    registry.close()


def _certverify(settings, *args):
    keys = settings.keys_dir
    base = ["--trust-list", str(keys / "trustlist.json"), "--root", str(keys / "root.cert.pem"),
            "--registry", settings.registry_url, *AT]
    return CliRunner().invoke(certverify, [*base, *args], catch_exceptions=False)


def _pdf_reports(settings, *paths):
    result = _certverify(settings, "pdf", *map(str, paths), "--json", "--workers", "1")
    lines = [json.loads(line) for line in result.output.splitlines()]
    return result, lines[:-1], lines[-1]["summary"]


def _reasons(report):
    return [c["reason"] for c in report["checks"]]


def test_whole_output_folder_is_valid_and_cards_pass_pyhanko_and_pdfsig(batch, settings, fresh_keystore, tmp_path):
    out, numbers = batch["out"], batch["numbers"]
    result, reports, summary = _pdf_reports(settings, out)
    assert result.exit_code == 0, result.output
    # 3 certificates, 3 cards and the print sheet's 3 cards: every one VALID
    assert summary == {"files": 9, "verdicts": {"VALID": 9}}
    cards = [r for r in reports if "/cards/" in r["source"]]
    assert len(cards) == 3 and all("card_current" in _reasons(r) and "pdf_registered" in _reasons(r) for r in cards)
    sheet = [r for r in reports if "/sheets/" in r["source"]]
    assert sorted(r["claims"]["number"] for r in sheet) == sorted(numbers)
    assert all(r["source"].endswith("cards-0001.pdf page 2") and r["claims"]["card_edition"] == 1 for r in sheet)
    card = out / "cards" / f"{numbers[0]}.pdf"
    status = pyhanko_status(card.read_bytes(), fresh_keystore.root_certificate())
    assert status.bottom_line and status.intact and status.valid and status.trusted, status.summary()
    report = pdfsig(card, make_nss_db(tmp_path / "nss", fresh_keystore.root_cert_path))
    assert "Signature is Valid." in report and "Certificate is Trusted." in report


def test_reprint_supersedes_the_old_edition_cli_and_http(batch, cli, settings, tmp_path):
    out, number = batch["out"], batch["numbers"][1]
    old_card = tmp_path / "old-card.pdf"
    shutil.copy(out / "cards" / f"{number}.pdf", old_card)
    old_seal = batch["registry"].get(number).card_seal
    result = cli(certgen, ["card", "reprint", number, "--reason", "lost"])
    assert result.exit_code == 0, result.output
    assert f"{number}: card edition 2 printed" in result.output
    sheet = out / "sheets" / f"reprint-{number}-e2.pdf"
    assert sheet.is_file() and f"print sheet: {sheet}" in result.output
    cert = batch["registry"].get(number)
    assert cert.card_edition == 2 and cert.card_seal != old_seal and cert.status is Status.ACTIVE
    opened = open_seal(cert.card_seal, KeyTrust.of(settings), NOW + timedelta(hours=1))
    assert opened.ok and opened.claims.edition == 2 and opened.claims.number == number
    events = batch["registry"].events(number)
    assert [e.type for e in events] == [EventType.ISSUE, EventType.REPRINT, EventType.CARD_WRITTEN]
    shown = cli(certgen, ["show", number]).output
    assert "card edition    2" in shown and "reprint   by tester: lost" in shown
    assert events[1].reason == "lost" and events[1].data["edition"] == 2
    assert events[2].data["edition"] == 2 and events[2].data["card_sha256"] == cert.card_sha256

    # by file: the new card VALID, the old one superseded (REPLACED, never VALID), the folder all VALID
    _, (new_report,), _ = _pdf_reports(settings, out / "cards" / f"{number}.pdf")
    assert new_report["verdict"] == "VALID" and "card_current" in _reasons(new_report)
    result, (old_report,), _ = _pdf_reports(settings, old_card)
    assert result.exit_code == 1 and old_report["verdict"] == "REPLACED"
    assert "card_superseded" in _reasons(old_report) and old_report["claims"]["card_edition"] == 1
    assert "replaced by a newer card (edition 2)" in old_report["summary"]
    # the folder: everything VALID but the old edition on the batch's print sheet, which says so
    result, reports, summary = _pdf_reports(settings, out)
    assert summary == {"files": 10, "verdicts": {"VALID": 9, "REPLACED": 1}}
    (stale,) = [r for r in reports if r["verdict"] != "VALID"]
    assert stale["source"].endswith("sheets/cards-0001.pdf page 2") and stale["claims"]["number"] == number
    assert "card_superseded" in _reasons(stale)
    (reprint_sheet,) = [r for r in reports if "reprint-" in r["source"]]
    assert reprint_sheet["verdict"] == "VALID" and reprint_sheet["claims"]["card_edition"] == 2
    # by seal: the old card's seal superseded, the new one valid, the certificate's own seal untouched
    old = json.loads(_certverify(settings, "seal", old_seal, "--json").output)
    assert old["verdict"] == "REPLACED" and "card_superseded" in _reasons(old)
    assert json.loads(_certverify(settings, "seal", cert.card_seal, "--json").output)["verdict"] == "VALID"
    assert json.loads(_certverify(settings, "seal", cert.seal, "--json").output)["verdict"] == "VALID"
    text = _certverify(settings, "seal", old_seal).output
    assert text.startswith("REPLACED — this card of") and "card edition 1" in text
    # the printed old card, read from its rendered back page as a phone would
    scanned = json.loads(_certverify(settings, "scan", str(old_card), "--json").output)
    assert scanned["verdict"] == "REPLACED" and scanned["barcodes"] == [old_seal]

    # over HTTP: the page and the API, by seal and by uploaded PDF
    keys = settings.keys_dir
    app = create_app(WebConfig(trust_list=keys / "trustlist.json", root=keys / "root.cert.pem",
                               registry_url=settings.registry_url, rate_limit_per_minute=0),
                     now=lambda: NOW + timedelta(hours=1))
    with TestClient(app, base_url="http://testserver") as client:
        page = client.get(f"/v/{old_seal.rsplit('/v/', 1)[1]}?lang=en")
        assert 'data-verdict="REPLACED"' in page.text and "This card was replaced by a newer one" in page.text
        page_id = client.get(f"/v/{old_seal.rsplit('/v/', 1)[1]}?lang=id")
        assert "Kartu ini telah diganti dengan kartu yang lebih baru" in page_id.text
        api = client.get(f"/api/v1/seal/{old_seal.rsplit('/v/', 1)[1]}").json()
        assert api["verdict"] == "REPLACED" and "card_superseded" in _reasons(api)
        assert api["certificate"]["card_edition"] == 2 and api["claims"]["card_edition"] == 1
        uploaded = client.post("/api/v1/upload", files={"file": ("card.pdf", old_card.read_bytes(), "application/pdf")})
        body = uploaded.json()
        reports = body if isinstance(body, list) else body.get("reports", [body])
        assert reports[0]["verdict"] == "REPLACED" and "card_superseded" in _reasons(reports[0])
        current = client.post("/api/v1/upload", files={"file": ("card.pdf", (out / "cards" / f"{number}.pdf").read_bytes(),
                                                                "application/pdf")}).json()
        current = current if isinstance(current, list) else current.get("reports", [current])
        assert current[0]["verdict"] == "VALID"

    # the log covers the edition: the whole registry verifies, and a rerun of the batch leaves the card alone
    assert cli(certgen, ["log", "--verify"]).exit_code == 0


class KeyTrust:
    @staticmethod
    def of(settings):
        from certgen.keys import KeyStore
        return KeyStore(settings.keys_dir).trust_list()


def test_hostile_editions(batch, cli, settings, fresh_keystore):
    number = batch["numbers"][0]
    cert = batch["registry"].get(number)
    trust = fresh_keystore.trust_list()
    claims = open_seal(cert.card_seal, trust, NOW + timedelta(hours=1)).claims
    # a forged edition number: the seal's bytes edited -> the signature fails
    from certgen.seal import parse_seal_text
    import base64
    import cbor2
    sign1 = cbor2.loads(parse_seal_text(cert.card_seal))
    fields = list(sign1.value)
    payload = cbor2.loads(fields[2])
    payload[-65537][8] = 7
    fields[2] = cbor2.dumps(payload)
    forged_bytes = cbor2.dumps(cbor2.CBORTag(18, fields))
    forged = "https://verifikasi.example.id/v/" + base64.b32encode(forged_bytes).decode().rstrip("=")
    report = json.loads(_certverify(settings, "seal", forged, "--json").output)
    assert report["verdict"] == "INVALID" and report["checks"][0]["reason"] == "seal_bad_signature"
    # an edition above the registry's, even signed by the real signer: no such card was recorded
    from tests.conftest import PASSPHRASE
    signer = fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    from dataclasses import replace
    ahead = seal_text(sign_seal(replace(claims, edition=5), signer), "https://verifikasi.example.id/v/")
    report = json.loads(_certverify(settings, "seal", ahead, "--json").output)
    assert report["verdict"] == "INVALID" and "card_edition_unknown" in _reasons(report)
    # the current edition re-signed (not the recorded seal): a mismatch, not VALID
    again = seal_text(sign_seal(claims, signer), "https://verifikasi.example.id/v/")
    report = json.loads(_certverify(settings, "seal", again, "--json").output)
    assert report["verdict"] == "INVALID" and "seal_mismatch" in _reasons(report)
    # an edition claim on a non-person seal is not a certgen seal body
    from certgen.model import DocumentKind
    product = SealClaims(number=number, kind=DocumentKind.PRODUCT, holder="x", scheme="y", granted=claims.granted,
                         expires=None, issuer=claims.issuer, signed_at=claims.signed_at, edition=2)
    odd = seal_text(sign_seal(product, signer), "https://verifikasi.example.id/v/")
    report = json.loads(_certverify(settings, "seal", odd, "--json").output)
    assert report["verdict"] == "INVALID" and report["checks"][0]["reason"] == "seal_bad_claims"

    # reprint, then roll the edition back behind the log's back: the old card would pass again...
    old_seal = cert.card_seal
    assert cli(certgen, ["card", "reprint", number, "--reason", "damaged"]).exit_code == 0
    import sqlite3
    db = sqlite3.connect(str(settings.data_dir / "registry.sqlite3"))
    db.execute("UPDATE certificates SET card_edition = 1, card_seal = ? WHERE number = ?", (old_seal, number))
    db.commit()
    db.close()
    assert json.loads(_certverify(settings, "seal", old_seal, "--json").output)["verdict"] == "VALID"
    # ...but `certgen log --verify` names the edited columns
    checked = cli(certgen, ["log", "--verify"])
    assert checked.exit_code == 1
    assert f"certificate {number}: column card_edition is '1' in the table, but its history says '2'" in checked.output
    assert "column card_seal differs from its history" in checked.output


def test_reprint_of_the_wrong_kinds_is_a_clear_error(batch, cli, settings):
    registry = batch["registry"]
    first, second, third = batch["numbers"]
    registry.withdraw(first, reason="fraud", now=NOW, actor="t")
    result = cli(certgen, ["card", "reprint", first, "--reason", "lost"])
    assert result.exit_code == 1 and f"{first} is withdrawn (fraud): its card cannot be reprinted" in result.output
    registry.replace(second, third, reason="name corrected", now=NOW, actor="t")
    result = cli(certgen, ["card", "reprint", second, "--reason", "lost"])
    assert result.exit_code == 1 and f"{second} was replaced by {third}: print the successor's card" in result.output
    registry.suspend(third, reason="audit", now=NOW, actor="t")
    result = cli(certgen, ["card", "reprint", third, "--reason", "lost"])
    assert result.exit_code == 1 and f"{third} is suspended (audit)" in result.output
    products = cli(certgen, ["issue", "product", str(SAMPLES / "product-type1.csv"), "--workers", "1"])
    assert products.exit_code == 0, products.output
    product = next(c for c in registry.iter_certificates() if c.kind.value == "product")
    result = cli(certgen, ["card", "reprint", product.number, "--reason", "lost", "--output", str(batch["out"])])
    assert result.exit_code == 1
    assert f"{product.number} is a product certificate: only person certificates have a card" in result.output
    result = cli(certgen, ["card", "reprint", product.number, "--reason", "lost"])  # no folder given: still the kind
    assert result.exit_code == 1
    assert f"{product.number} is a product certificate: only person certificates have a card" in result.output
    registry.reinstate(third, reason="cleared", now=NOW, actor="t")
    registry.suspend(third, reason="fraud \u202eduarf\x1b]52;c;AAAA\x07", now=NOW, actor="t")
    result = cli(certgen, ["card", "reprint", third, "--reason", "lost"])  # a stored reason, quoted: never acted on
    assert result.exit_code == 1 and "\u202e" not in result.output and "\x1b" not in result.output
    assert f"{third} is suspended (fraud \\u202eduarf" in result.output
    result = cli(certgen, ["card", "reprint", "SK-2026-000999-X", "--reason", "lost"])
    assert result.exit_code == 1 and "SK-2026-000999-X" in result.output
    result = cli(certgen, ["card", "reprint", first, "--reason", "stolen"])
    assert result.exit_code == 2 and "'stolen' is not one of 'lost', 'damaged', 'correction'" in result.output
    # nothing was recorded for any of them
    assert all(registry.get(n).card_edition == 1 for n in batch["numbers"])


def test_a_crash_mid_reprint_then_a_rerun_prints_no_second_edition(batch, cli, settings, monkeypatch):
    from certgen import card_reprint

    out, number = batch["out"], batch["numbers"][2]
    before = (out / "cards" / f"{number}.pdf").read_bytes()

    class PowerCut(BaseException):
        """Nothing catches it: the process ends here."""

    def crash(path, data):
        raise PowerCut("power cut")  # after the registry recorded edition 2, before any file

    monkeypatch.setattr(card_reprint, "write_atomic", crash)
    with pytest.raises(PowerCut):
        cli(certgen, ["card", "reprint", number, "--reason", "lost"])
    monkeypatch.undo()
    cert = batch["registry"].get(number)
    assert cert.card_edition == 2 and (out / "cards" / f"{number}.pdf").read_bytes() == before
    result = cli(certgen, ["card", "reprint", number, "--reason", "lost", "--json"])
    assert result.exit_code == 0, result.output
    done = json.loads(result.output)
    assert done["edition"] == 2 and done["resumed"] is True
    cert = batch["registry"].get(number)
    assert cert.card_edition == 2 and done["card_sha256"] == cert.card_sha256
    assert [e.type for e in batch["registry"].events(number)] == [EventType.ISSUE, EventType.REPRINT,
                                                                   EventType.CARD_WRITTEN]
    assert (out / "sheets" / f"reprint-{number}-e2.pdf").is_file()
    # a further run is a new reprint: edition 3
    again = json.loads(cli(certgen, ["card", "reprint", number, "--reason", "damaged", "--json"]).output)
    assert again["edition"] == 3 and again["resumed"] is False
    assert cli(certgen, ["log", "--verify"]).exit_code == 0
    _, reports, summary = _pdf_reports(settings, out)
    by_source = {r["source"].rsplit("/", 1)[1]: r["verdict"] for r in reports if number in r["source"]}
    assert by_source == {f"{number}.pdf": "VALID", f"reprint-{number}-e2.pdf page 2": "REPLACED",
                         f"reprint-{number}-e3.pdf page 2": "VALID"}


#: A person certificate's full state after issue, for the replayer's forged-event tests.
REPLAY_NUMBER = "SK-2026-000001-E"
REPLAY_STATE = {"number": REPLAY_NUMBER, "series": "SK", "kind": "person", "holder": "Siti", "scheme": "S",
                "granted": "2026-11-24", "expires": "2029-11-23", "record_sha256": "r" * 64, "status": "active",
                "status_reason": None, "status_changed_at": "2026-11-24T03:00:00.000000Z", "replaced_by": None,
                "dsc_kid": "k" * 16, "pdf_sha256": "p" * 64, "card_sha256": "c" * 64, "seal_sha256": "s" * 64,
                "issued_at": "2026-11-24T03:00:00.000000Z", "batch_key": None, "card_edition": "1",
                "card_seal_sha256": "e" * 64}


def test_the_replayer_names_a_forged_reprint_event():
    """A reprint event that skips an edition, changes more than the card, or reprints a
    withdrawn certificate's card is named by `certgen log --verify` (replay.py)."""
    from datetime import datetime, timezone

    from certgen.registry.replay import RawEvent, replay_certificate
    from certgen.registry.state import state_digest

    number = REPLAY_NUMBER
    base = dict(REPLAY_STATE)
    at = datetime(2026, 11, 25, tzinfo=timezone.utc)

    def event(seq, type_, data, reason=None):
        return RawEvent(seq, at, type_, number, "t", reason, data, "0" * 64, "1" * 64)

    def reprint(seq, edition, **changes):
        state = dict(base, card_edition=str(edition), card_sha256="d" * 64, card_seal_sha256="f" * 64, **changes)
        return event(seq, "reprint", {"edition": edition, "from": edition - 1, "state": state,
                                      "state_sha256": state_digest(state)}, "lost")

    issue = event(1, "issue", {"state": base, "state_sha256": state_digest(base)})
    good = replay_certificate(number, [issue, reprint(2, 2)])
    assert good.problems == [] and good.state["card_edition"] == "2"
    skipped = replay_certificate(number, [issue, reprint(2, 3)])
    assert [(p.code, p.column) for p in skipped.problems] == [("out_of_order", "card_edition")]
    renamed = replay_certificate(number, [issue, reprint(2, 2, holder="Budi")])
    assert [(p.code, p.column) for p in renamed.problems] == [("event_state_mismatch", "holder")]
    assert "a reprint changes the card only" in renamed.problems[0].what
    withdrawn_state = dict(base, status="withdrawn", status_reason="fraud")
    withdraw = event(2, "withdraw", {"from": "active", "to": "withdrawn", "state_sha256": state_digest(withdrawn_state)},
                     "fraud")
    late = replay_certificate(number, [issue, withdraw, reprint(3, 2, status="withdrawn", status_reason="fraud")])
    assert [p.what for p in late.problems if p.code == "bad_transition"] == [
        f"reprint of the card of {number}, a 'person' certificate that is 'withdrawn': only an active person "
        "certificate's card is reprinted"]


def test_a_status_service_answer_carries_the_card_edition():
    """`certverify --registry https://...` reads the edition from the service's JSON, and refuses
    one that is not an edition number by name."""
    from verify.status import _status_info

    cert = {"number": "SK-2026-000001-E", "kind": "person", "holder": "Siti", "scheme": "S", "granted": "2026-11-24",
            "expires": None, "status": "valid", "card_edition": 3, "card_sha256": "c" * 64}
    info = _status_info(cert)
    assert info.card_edition == 3 and info.card_sha256 == "c" * 64
    assert _status_info({**cert, "card_edition": None}).card_edition is None
    for bad in (0, "2", True, 1.5):
        with pytest.raises(ValueError, match="card_edition .* is not an edition number"):
            _status_info({**cert, "card_edition": bad})


@pytest.mark.parametrize("in_place", [True, False], ids=["signed-in-place", "pyhanko-incremental"])
def test_a_card_signs_on_both_signing_paths(fresh_keystore, in_place):
    """With the adapters (field drawn, signed in place) and without (pyHanko's incremental
    update, docs/adapters.md): an invisible field, the seal in the catalog, pyHanko trusts it."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    from certgen.barcode import qr_matrix
    from certgen.card_files import card_seal, signed_card
    from certgen.render.card import CardData
    from certgen.sign import PdfSealer
    from tests.conftest import PASSPHRASE
    from tests.documents import person, templates_and_fonts

    templates, fonts = templates_and_fonts()
    signer = fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    sealer = PdfSealer(signer, [fresh_keystore.root_certificate()])
    if not in_place:
        sealer._template = None  # as with an untested pyHanko: the stock signing path
    assert sealer.signs_in_place is in_place
    record = person()
    text = card_seal(signer, "https://verifikasi.example.id/v/", "SK-2026-000001-E", record, "BSN", NOW, 2)
    card = CardData("SK-2026-000001-E", record, qr_matrix(text), record.photo, NOW.date(), 2)
    pdf = signed_card(templates, fonts, sealer, card, text, NOW)
    status = pyhanko_status(pdf, fresh_keystore.root_certificate())
    assert status.bottom_line, status.summary()
    reader = PdfFileReader(io.BytesIO(pdf))
    assert str(reader.root["/CertgenSeal"]) == text
    (field,) = reader.root["/AcroForm"]["/Fields"]
    assert [float(v) for v in field.get_object()["/Rect"]] == [0, 0, 0, 0]  # invisible
    # signed in place, the card comes with its SHA-256 (certgen.output.HashedBytes): hashlib's
    import hashlib

    from certgen.output import sha256_hex
    assert sha256_hex(pdf) == hashlib.sha256(bytes(pdf)).hexdigest()
    assert hasattr(pdf, "sha256") is in_place


def test_a_card_seal_for_a_certificate_without_card_editions_is_unknown():
    """A certificate issued before card editions has no card seal in the registry: a card seal
    naming it (minted with a signer's key) is not a card the registry knows."""
    from datetime import date, datetime, timezone

    from certgen.model import DocumentKind
    from certgen.registry.lifecycle import EffectiveStatus
    from verify.report import Outcome, Reason, StatusInfo
    from verify.service import _card_check

    claims = SealClaims(number="SK-2026-000001-E", kind=DocumentKind.PERSON, holder="Siti", scheme="S",
                        granted=date(2026, 11, 24), expires=None, issuer="BSN",
                        signed_at=datetime(2026, 11, 24, tzinfo=timezone.utc), edition=1)
    legacy = StatusInfo(number=claims.number, kind=DocumentKind.PERSON, holder="Siti", scheme="S",
                        granted=claims.granted, expires=None, status=EffectiveStatus.VALID)
    check = _card_check(claims, legacy, None)
    assert (check.outcome, check.reason) == (Outcome.FAILED, Reason.CARD_EDITION_UNKNOWN)
    assert "recorded no card with a seal of its own" in check.detail
    current = _card_check(claims, StatusInfo(**{**legacy.__dict__, "card_edition": 1}), None)
    assert (current.outcome, current.reason) == (Outcome.PASSED, Reason.CARD_CURRENT)


def test_card_edition_claim_golden_vector():
    """docs/seal.md, claim 8: the CWT of a card of edition 2 is its certificate's CWT with `08 02`
    added to the body (a map of 8 entries instead of 7); without an edition, nothing changes."""
    import cbor2
    from dataclasses import replace
    from datetime import date, datetime, timezone

    from certgen.errors import SealFormatError
    from certgen.model import DocumentKind

    card = SealClaims(number="SK-2026-000001-E", kind=DocumentKind.PERSON, holder="Siti Aminah", scheme="SKM-PTK-03",
                      granted=date(2026, 11, 24), expires=date(2029, 11, 23), issuer="BSN",
                      signed_at=datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc), edition=2)
    common = "00010170534b2d323032362d3030303030312d450202036b5369746920416d696e6168046a534b4d2d50544b2d30330519512d06195574"
    assert cbor2.dumps(card.to_cwt()).hex() == "a3016342534e061a6b04fdb03a00010000a8" + common + "0802"
    assert cbor2.dumps(replace(card, edition=None).to_cwt()).hex() == "a3016342534e061a6b04fdb03a00010000a7" + common
    assert SealClaims.from_cwt(card.to_cwt()) == card
    for bad in (0, 1000, "2", True, -1):
        cwt = card.to_cwt()
        cwt[-65537][8] = bad
        with pytest.raises(SealFormatError, match="card edition .* is not a number from 1 to 999"):
            SealClaims.from_cwt(cwt)


def test_two_reprints_racing_cannot_both_record_an_edition(batch):
    """The edition is checked under the writers' lock: a second writer that drew edition 2 too
    is refused, and nothing of it is recorded."""
    from certgen.errors import TransitionError
    from certgen.registry.cards import record_reprint

    registry, number = batch["registry"], batch["numbers"][0]
    record_reprint(registry, number, edition=2, seal="https://verifikasi.example.id/v/AAAA", card_sha256="a" * 64,
                   reason="lost", now=NOW, actor="first")
    with pytest.raises(TransitionError, match=r"its card is at edition 2 in the registry, so edition 2 cannot be recorded"):
        record_reprint(registry, number, edition=2, seal="https://verifikasi.example.id/v/BBBB", card_sha256="b" * 64,
                       reason="lost", now=NOW, actor="second")
    with pytest.raises(TransitionError, match="reprint reason 'stolen' is not one of lost, damaged, correction"):
        record_reprint(registry, number, edition=3, seal="x", card_sha256="c" * 64, reason="stolen", now=NOW, actor="t")
    cert = registry.get(number)
    assert cert.card_edition == 2 and cert.card_sha256 == "a" * 64
    assert [e.actor for e in registry.events(number)] == ["tester", "first"]


def test_a_card_is_reprinted_when_the_signer_is_in_a_token(settings, softhsm, tmp_path):  # noqa: F811
    """`certgen card reprint` loads the current signer like `certgen issue` does: a key in a
    PKCS#11 token with the PIN from CERTGEN_PKCS11_PIN (it was asked of a key folder without one)."""
    from certgen.cli_support import AppContext
    from tests.conftest import PASSPHRASE

    runner = CliRunner()
    environ = {"CERTGEN_ACTOR": "tester", "CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode(),
               "CERTGEN_PKCS11_PIN": softhsm.pin}

    def run(args):
        return runner.invoke(certgen, args, obj=AppContext(settings=settings, now=lambda: NOW, environ=environ),
                             catch_exceptions=False)

    rotated = run(["keys", "rotate", "--pkcs11-module", softhsm.module, "--token", softhsm.token])
    assert rotated.exit_code == 0, rotated.output
    issued = run(["issue", "person", str(person_rows(tmp_path / "in", 1)), "--workers", "1"])
    assert issued.exit_code == 0, issued.output
    out = settings.data_dir / "issued" / "persons-person"
    (number,) = [m["number"] for m in json.loads((out / "manifest.json").read_text())]
    result = run(["card", "reprint", number, "--reason", "damaged"])
    assert result.exit_code == 0, result.output
    assert f"{number}: card edition 2 printed" in result.output
    _, (report,), _ = _pdf_reports(settings, out / "cards" / f"{number}.pdf")
    assert report["verdict"] == "VALID" and "card_current" in _reasons(report) and report["claims"]["card_edition"] == 2


def test_a_reprinted_card_outlives_its_signers_later_revocation_like_its_certificate(batch, cli, settings):
    """A signer revoked after a reprint: the registry recorded the reprinted card (its digest
    and its seal, under the log) at the reprint, so the card is judged at that time, as the
    certificate and the first edition are judged at the issue: all VALID, none 'unproven'."""
    from certgen.keys import KeyStore
    from tests.conftest import PASSPHRASE

    out, (first, second, _) = batch["out"], batch["numbers"]
    assert cli(certgen, ["card", "reprint", second, "--reason", "damaged"], now=NOW + timedelta(minutes=5)).exit_code == 0
    store = KeyStore(settings.keys_dir)
    kid = next(s for s in store.signers() if s.current).kid.hex()
    store.revoke(kid, at=NOW + timedelta(minutes=30), reason="key compromise")
    store.signed_trust_list(PASSPHRASE, now=NOW + timedelta(minutes=31))
    files = [out / "certificates" / f"{second}.pdf", out / "cards" / f"{first}.pdf", out / "cards" / f"{second}.pdf"]
    _, reports, summary = _pdf_reports(settings, *files)
    assert summary == {"files": 3, "verdicts": {"VALID": 3}}, [(r["source"], r["summary"]) for r in reports]
    reprinted = next(r for r in reports if r["source"].endswith(f"cards/{second}.pdf"))
    assert reprinted["claims"]["card_edition"] == 2 and reprinted["signing_time"]["source"] == "registry"


def test_a_printed_reprint_sheet_cleared_away_does_not_stop_the_next_edition(batch, cli, settings):
    """Staff print `sheets/reprint-N-e2.pdf` and clear it away; the holder then loses edition 2.
    The next reprint prints edition 3, so the lost card verifies as superseded (it 'resumed'
    edition 2 instead, as if a crash had cut the first reprint short: the lost card stayed VALID)."""
    out, number = batch["out"], batch["numbers"][0]
    assert json.loads(cli(certgen, ["card", "reprint", number, "--reason", "damaged", "--json"]).output)["edition"] == 2
    lost = batch["registry"].get(number).card_seal
    (out / "sheets" / f"reprint-{number}-e2.pdf").unlink()
    again = json.loads(cli(certgen, ["card", "reprint", number, "--reason", "lost", "--json"]).output)
    assert again["edition"] == 3 and again["resumed"] is False
    assert (out / "sheets" / f"reprint-{number}-e3.pdf").is_file()
    report = json.loads(_certverify(settings, "seal", lost, "--json").output)
    assert report["verdict"] == "REPLACED" and "card_superseded" in _reasons(report)


def test_a_crash_between_the_reprint_sheet_and_the_card_file_is_resumed(batch, cli, monkeypatch):
    """The sheet is written before the card file: a card file with the registry's digest means
    the reprint finished; a crash between the two is resumed (edition 2 again, no edition 3)."""
    from certgen import card_reprint

    out, number = batch["out"], batch["numbers"][1]
    real = card_reprint.write_atomic

    class PowerCut(BaseException):
        pass

    def crash_at_the_card(path, data):
        if path.parent.name == "cards":
            raise PowerCut("power cut")
        return real(path, data)

    monkeypatch.setattr(card_reprint, "write_atomic", crash_at_the_card)
    with pytest.raises(PowerCut):
        cli(certgen, ["card", "reprint", number, "--reason", "lost"])
    monkeypatch.undo()
    assert (out / "sheets" / f"reprint-{number}-e2.pdf").is_file()
    done = json.loads(cli(certgen, ["card", "reprint", number, "--reason", "lost", "--json"]).output)
    assert done["edition"] == 2 and done["resumed"] is True
    assert batch["registry"].get(number).card_sha256 == done["card_sha256"]


def test_a_reprint_into_a_folder_that_is_not_the_batchs_records_nothing(batch, cli, settings, tmp_path):
    """`--output` naming a folder without the batch's cards/: refused before the registry records
    an edition (it recorded edition 2, superseding the holder's card, then failed with a traceback
    writing the file, leaving no card of the current edition anywhere)."""
    number = batch["numbers"][0]
    for folder in (tmp_path / "nowhere", tmp_path):
        result = cli(certgen, ["card", "reprint", number, "--reason", "lost", "-o", str(folder)])
        assert result.exit_code == 1 and result.output.startswith("Error: "), result.output
        assert f"{folder}: not a batch output folder (no cards/ in it)" in result.output
    cert = batch["registry"].get(number)
    assert cert.card_edition == 1 and [e.type for e in batch["registry"].events(number)] == [EventType.ISSUE]


def test_a_crashed_reprint_signed_in_a_token_is_followed_by_the_next_edition(settings, softhsm, tmp_path, monkeypatch):  # noqa: F811
    """A token signs with a random nonce, so the edition a crash left without a file cannot be
    drawn again; the rerun prints the next edition, which supersedes the one nobody holds (it
    refused every rerun for good: 'restore it from a backup', of a file that never existed)."""
    from certgen import card_reprint
    from certgen.cli_support import AppContext
    from tests.conftest import PASSPHRASE

    runner = CliRunner()
    environ = {"CERTGEN_ACTOR": "tester", "CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode(),
               "CERTGEN_PKCS11_PIN": softhsm.pin}

    def run(args):
        return runner.invoke(certgen, args, obj=AppContext(settings=settings, now=lambda: NOW, environ=environ),
                             catch_exceptions=False)

    assert run(["keys", "rotate", "--pkcs11-module", softhsm.module, "--token", softhsm.token]).exit_code == 0
    assert run(["issue", "person", str(person_rows(tmp_path / "in", 1)), "--workers", "1"]).exit_code == 0
    out = settings.data_dir / "issued" / "persons-person"
    (number,) = [m["number"] for m in json.loads((out / "manifest.json").read_text())]

    class PowerCut(BaseException):
        pass

    def crash(path, data):
        raise PowerCut("power cut")

    monkeypatch.setattr(card_reprint, "write_atomic", crash)
    with pytest.raises(PowerCut):
        run(["card", "reprint", number, "--reason", "lost"])
    monkeypatch.undo()
    registry = Registry.open(settings.registry_url)
    unwritten = registry.get(number).card_seal
    result = run(["card", "reprint", number, "--reason", "lost", "--json"])
    assert result.exit_code == 0, result.output
    done = json.loads(result.output)
    assert done["edition"] == 3 and done["resumed"] is False
    cert = registry.get(number)
    assert cert.card_edition == 3 and cert.card_sha256 == done["card_sha256"]
    registry.close()
    report = json.loads(_certverify(settings, "seal", unwritten, "--json").output)
    assert report["verdict"] == "REPLACED" and "card_superseded" in _reasons(report)
    _, (card,), _ = _pdf_reports(settings, out / "cards" / f"{number}.pdf")
    assert card["verdict"] == "VALID" and card["claims"]["card_edition"] == 3
