"""Renewal and correction (issue 12, section 1): `certgen correct|renew` and `certgen issue
--replaces-column` through the real pipeline, verified with `certverify` and over HTTP; hostile
cases, a crash mid-way, two processes at once, and `certgen log --verify` after each."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import urllib.request
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from certgen.cli import main as certgen
from certgen.errors import ConfigError
from certgen.model import DocumentKind, Series, Status
from certgen.numbers import CertificateNumber
from certgen.registry import NewCertificate, Registry
from certgen.registry import repository
from certgen.replacing import ValidityRules
from certgen.registry.succession import replace_reason, replacement_of
from tests.conftest import NOW, PASSPHRASE
from tests.live_server import live_server
from verify.cli import main as certverify
from verify.status import _status_info
from verify.web.app import create_app
from verify.web.config import WebConfig

ROOT = Path(__file__).parent.parent
SAMPLES = ROOT / "samples"
AT = "2026-11-24T10:00:00+07:00"


def _rows(path: Path, sample: str, count: int, **change: str) -> Path:
    with open(SAMPLES / sample, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:count]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, **change})
    return path


@pytest.fixture
def products(cli, settings, tmp_path):
    """Four type 1 product certificates issued by the real pipeline."""
    out = tmp_path / "first"
    result = cli(certgen, ["issue", "product", str(_rows(tmp_path / "products.csv", "product-type1.csv", 4)), "-o",
                           str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    return {"out": out, "numbers": [m["number"] for m in manifest], "files": [out / m["file"] for m in manifest]}


def _registry(settings) -> Registry:
    return Registry.open(settings.registry_url)


def _verify(keys, settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(certverify, ["--trust-list", str(keys.trustlist_path), "--root", str(keys.root_cert_path),
                                             "--registry", settings.registry_url, "--at", AT, *args])
    return result.exit_code, result.output


def _log_intact(cli) -> None:
    result = cli(certgen, ["log", "--verify"])
    assert result.exit_code == 0 and "log intact" in result.output, result.output


def _successor_files(settings, old: str) -> tuple[dict, Path]:
    folders = sorted((settings.data_dir / "issued").glob(f"{old}-*"))
    assert len(folders) == 1, folders
    manifest = json.loads((folders[0] / "manifest.json").read_text())
    assert len(manifest) == 1
    return manifest[0], folders[0]


# -- correction, end to end ---------------------------------------------------------------------

def test_correct_issues_a_successor_and_every_report_links_the_two(cli, settings, fresh_keystore, products):
    old = products["numbers"][0]
    result = cli(certgen, ["correct", old, "--set", "client_name=PT Krakatau Baja Utama Tbk", "--reason", "misspelt name"])
    assert result.exit_code == 0, result.output
    registry = _registry(settings)
    before = registry.get(old)
    new = before.replaced_by
    assert new is not None and f"correction: {old} is replaced by {new}" in result.output
    succ = registry.get(new)
    # a new number in the same series; the correction keeps the validity
    assert succ.series is Series.PRODUCT_TYPE1 and new != old
    assert (succ.granted, succ.expires) == (before.granted, before.expires)
    assert succ.holder == "PT Krakatau Baja Utama Tbk" and succ.status is Status.ACTIVE
    assert succ.replaces == old and replacement_of(succ.record).change == "correction"
    assert before.status is Status.REPLACED
    assert before.status_reason == "correction of client_name: misspelt name"
    replace = [e for e in registry.events(old) if e.type.value == "replace"]
    assert len(replace) == 1 and replace[0].reason == "correction of client_name: misspelt name"
    assert replace[0].data["successor"] == new
    # the issue of the successor and the replace of the old one: adjacent events, one transaction
    assert registry.events(new)[0].seq + 1 == replace[0].seq

    # certverify: number, seal and PDF, text and JSON
    code, text = _verify(fresh_keystore, settings, "number", old)
    assert code == 1 and f"REPLACED — {old} was replaced by {new} since 2026-11-24: correction of client_name" in text
    assert f"replaced by {new}: check that one instead" in text
    code, text = _verify(fresh_keystore, settings, "number", old, "--json")
    data = json.loads(text)
    assert data["verdict"] == "REPLACED" and data["certificate"]["replaced_by"] == new
    assert data["certificate"]["replaces"] is None
    code, text = _verify(fresh_keystore, settings, "pdf", str(products["files"][0]), "--json")
    data = json.loads(text.splitlines()[0])
    assert code == 1 and data["verdict"] == "REPLACED" and data["certificate"]["replaced_by"] == new
    entry, folder = _successor_files(settings, old)
    assert entry["number"] == new
    code, text = _verify(fresh_keystore, settings, "pdf", str(folder / entry["file"]))
    assert code == 0 and f"VALID — {new} is valid until {before.expires:%Y-%m-%d}; it replaces {old}" in text
    code, text = _verify(fresh_keystore, settings, "number", new)
    assert code == 0 and f"replaces {old} (renewal or correction)" in text
    code, text = _verify(fresh_keystore, settings, "seal", succ.seal, "--json")
    data = json.loads(text)
    assert code == 0 and data["verdict"] == "VALID" and data["certificate"]["replaces"] == old
    code, text = _verify(fresh_keystore, settings, "seal", before.seal, "--json")
    assert code == 1 and json.loads(text)["verdict"] == "REPLACED"

    shown = cli(certgen, ["show", new])
    assert f"replaces        {old}" in shown.output
    _log_intact(cli)

    # the same command again finishes nothing twice: no second successor
    count = registry.count()
    again = cli(certgen, ["correct", old, "--set", "client_name=PT Krakatau Baja Utama Tbk", "--reason", "misspelt name"])
    assert again.exit_code == 0 and "0 issued, 1 already issued earlier" in again.output, again.output
    assert registry.count() == count
    # another correction of the replaced certificate is refused, naming its successor
    other = cli(certgen, ["correct", old, "--set", "client_name=PT Lain"])
    assert other.exit_code == 1
    assert f"{old} is already replaced by {new}: renew or correct {new} instead" in other.output
    # the successor can be corrected in turn: a chain
    chained = cli(certgen, ["correct", new, "--set", "brand=Kencana Jaya"])
    assert chained.exit_code == 0, chained.output
    third = registry.get(new).replaced_by
    assert registry.get(third).replaces == new and registry.get(third).holder == "PT Krakatau Baja Utama Tbk"
    _log_intact(cli)


def test_web_page_and_api_name_successor_and_predecessor(cli, settings, fresh_keystore, products):
    old = products["numbers"][1]
    assert cli(certgen, ["correct", old, "--set", "brand=Garuda Baru", "--reason", "brand misprinted"]).exit_code == 0
    registry = _registry(settings)
    new = registry.get(old).replaced_by
    config = WebConfig(trust_list=fresh_keystore.trustlist_path, root=fresh_keystore.root_cert_path,
                       registry_url=settings.registry_url, rate_limit_per_minute=0)
    with TestClient(create_app(config, now=lambda: NOW), base_url="http://testserver") as client:
        page = client.get("/n", params={"number": old})
        assert 'data-verdict="REPLACED"' in page.text
        assert f'Diganti oleh: <a href="/n?number={new}">{new}</a>' in page.text
        assert "correction of brand: brand misprinted" in page.text
        seal_code = registry.get(old).seal.rsplit("/v/", 1)[1]
        english = client.get(f"/v/{seal_code}?lang=en")
        assert 'data-verdict="REPLACED"' in english.text and f"Replaced by: <a href=\"/n?number={new}\">" in english.text
        succ = client.get("/n", params={"number": new, "lang": "en"})
        assert 'data-verdict="VALID"' in succ.text
        assert f'Replaces certificate: <a href="/n?number={old}">{old}</a>' in succ.text
        api_old = client.get(f"/api/v1/number/{old}").json()
        api_new = client.get(f"/api/v1/number/{new}").json()
    assert api_old["verdict"] == "REPLACED" and api_old["certificate"]["replaced_by"] == new
    assert api_new["verdict"] == "VALID" and api_new["certificate"]["replaces"] == old
    # a verifier without database access reads the link from the service's answer
    assert _status_info(api_new["certificate"]).replaces == old
    assert _status_info(api_old["certificate"]).replaced_by == new


def test_certverify_over_http_against_a_live_server(cli, settings, fresh_keystore, products):
    old = products["numbers"][2]
    assert cli(certgen, ["renew", old, "--reason", "recertified"]).exit_code == 0
    new = _registry(settings).get(old).replaced_by
    with live_server(fresh_keystore.trustlist_path, fresh_keystore.root_cert_path, settings.registry_url) as (base, _):
        for number, verdict, link in ((old, "REPLACED", ("replaced_by", new)), (new, "VALID", ("replaces", old))):
            result = CliRunner().invoke(certverify, ["--trust-list", str(fresh_keystore.trustlist_path), "--root",
                                                     str(fresh_keystore.root_cert_path), "--registry", base,
                                                     "number", number, "--json"])
            data = json.loads(result.output)
            assert data["verdict"] == verdict and data["certificate"][link[0]] == link[1], result.output
        with urllib.request.urlopen(f"{base}/n?number={old}&lang=en") as response:
            page = response.read().decode()
    assert f'Replaced by: <a href="/n?number={new}">{new}</a>' in page


# -- renewal ------------------------------------------------------------------------------------

def test_renew_person_gets_new_validity_and_its_own_card(cli, settings, fresh_keystore, tmp_path):
    rows = _rows(tmp_path / "persons.csv", "person.csv", 2)
    out = tmp_path / "persons"
    assert cli(certgen, ["issue", "person", str(rows), "-o", str(out), "--workers", "1", "--photos",
                         str(SAMPLES)]).exit_code == 0
    first, second = [m["number"] for m in json.loads((out / "manifest.json").read_text())]
    result = cli(certgen, ["renew", first, "--reason", "recertification exam passed"])
    assert result.exit_code == 0, result.output
    registry = _registry(settings)
    new = registry.get(first).replaced_by
    succ = registry.get(new)
    # templates/validity.yaml: person 3 years, granted today in Jakarta
    assert succ.series is Series.PERSON and succ.granted == date(2026, 11, 24) and succ.expires == date(2029, 11, 23)
    assert registry.get(first).status_reason == "renewal (grant_date, expiry_date): recertification exam passed"
    assert succ.record["photo_sha256"] == registry.get(first).record["photo_sha256"]
    entry, folder = _successor_files(settings, first)
    card = folder / entry["card_file"]
    assert card.is_file() and entry["card_sha256"] == succ.card_sha256 and (folder / entry["sheet_file"]).is_file()
    # --expires overrides the rule
    assert cli(certgen, ["renew", second, "--expires", "2028-01-31"]).exit_code == 0
    renewed = registry.get(registry.get(second).replaced_by)
    assert (renewed.granted, renewed.expires) == (date(2026, 11, 24), date(2028, 1, 31))
    code, text = _verify(fresh_keystore, settings, "pdf", str(folder / entry["file"]), "--json")
    assert code == 0 and json.loads(text.splitlines()[0])["certificate"]["replaces"] == first
    _log_intact(cli)


def test_renewal_of_an_expired_certificate_but_not_its_correction(cli, settings, tmp_path):
    rows = _rows(tmp_path / "old.csv", "product-type1.csv", 1, grant_date="2022-01-10", expiry_date="2025-01-09")
    assert cli(certgen, ["issue", "product", str(rows), "-o", str(tmp_path / "o"), "--workers", "1"]).exit_code == 0
    old = json.loads((tmp_path / "o" / "manifest.json").read_text())[0]["number"]
    refused = cli(certgen, ["correct", old, "--set", "brand=X"])
    assert refused.exit_code == 1
    assert f"{old} expired on 2025-01-09; a correction keeps its validity: renew it instead" in refused.output
    renewed = cli(certgen, ["renew", old])
    assert renewed.exit_code == 0, renewed.output
    succ = _registry(settings).get(_registry(settings).get(old).replaced_by)
    assert (succ.granted, succ.expires) == (date(2026, 11, 24), date(2030, 11, 23))  # product: 4 years
    _log_intact(cli)


def test_validity_rules_are_template_data():
    rules = ValidityRules.from_config({"product": {"years": 4}, "person": {"years": 3}})
    assert rules.expiry(DocumentKind.PRODUCT, date(2028, 2, 29)) == date(2032, 2, 28)
    assert rules.expiry(DocumentKind.PERSON, date(2028, 2, 29)) == date(2031, 2, 27)  # 28 Feb 2031, the day before
    assert rules.expiry(DocumentKind.PERSON, date(2026, 3, 1)) == date(2029, 2, 28)
    for bad, message in (({"training": {"years": 1}}, "training certificates do not expire"),
                         ({"product": {"years": 0}}, "product.years: expected a whole number from 1 to 20"),
                         ({"product": {"months": 4}}, "product: expected {years: N}"),
                         ({"vehicle": {"years": 1}}, "unknown kind 'vehicle'"), ([], "expected a mapping")):
        with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
            ValidityRules.from_config(bad)
    with pytest.raises(ConfigError, match="no rule for person certificates: give --expires"):
        ValidityRules.from_config({"product": {"years": 4}}).expiry(DocumentKind.PERSON, date(2026, 1, 1))
    assert replace_reason("correction", ["holder"], None) == "correction of holder"
    assert replace_reason("renewal", ["grant_date"], " yearly ") == "renewal (grant_date): yearly"


# -- hostile cases: the CLI ---------------------------------------------------------------------

def test_refusals_name_the_number_and_the_field(cli, settings, products):
    registry = _registry(settings)
    withdrawn, suspended, active, _ = products["numbers"]
    registry.withdraw(withdrawn, reason="fraud", now=NOW, actor="tester")
    registry.suspend(suspended, reason="complaint under review \u202eweiver\x1b[2J", now=NOW, actor="tester")
    pending = registry.reserve([NewCertificate(Series.PRODUCT_TYPE1, "PT Pending", "SNI 1", date(2026, 11, 1),
                                               date(2029, 10, 31), {"client_name": "PT Pending"})], now=NOW)[0].number
    unknown = str(CertificateNumber.build(Series.PRODUCT_TYPE1, 2026, 999))
    count = registry.count()
    cases = [
        (["correct", withdrawn, "--set", "brand=X"], f"{withdrawn} is withdrawn (fraud); a withdrawn certificate cannot be renewed or corrected"),
        # a stored reason is quoted escaped: the terminal shows it and never acts on it
        (["renew", suspended], f"{suspended} is suspended (complaint under review \\u202eweiver\\x1b[2J); reinstate it first"),
        (["correct", pending, "--set", "brand=X"], f"{pending} is not issued yet (pending)"),
        (["correct", unknown, "--set", "brand=X"], f"{unknown} is not in the registry"),
        (["correct", active[:-1] + ("X" if active[-1] != "X" else "Y"), "--set", "brand=X"], "the check character does not match"),
        (["correct", active, "--set", "colour=red"], "--set colour: not a field of a product certificate (fields: client_name"),
        (["correct", active, "--set", "brand"], "'brand': expected FIELD=VALUE"),
        (["correct", active, "--set", "scheme_type=5"], "--set scheme_type: the scheme cannot change by renewal or correction"),
        (["correct", active, "--set", "grant_date=2026-01-01"], "--set grant_date: a correction keeps the validity; use `certgen renew"),
        (["correct", active, "--set", "brand=A", "--set", "brand=B"], "brand is given twice"),
        (["renew", active, "--expires", "31/12/2030"], "'31/12/2030' is not a date (YYYY-MM-DD)"),
        (["renew", active, "--expires", "2026-01-01"], "column expiry_date: expiry date 2026-01-01 is not after the grant date 2026-11-24"),
        (["correct", active, "--set", "brand="], "column brand: missing value"),
        (["correct", active, "--set", "brand=" + "B" * 61], "column brand: too long: 61 characters, at most 60"),
        (["correct", active, "--set", "brand=" + registry.get(active).record["brand"]], f"the row is identical to {active}: nothing to correct or renew"),
    ]
    for args, message in cases:
        result = cli(certgen, args)
        assert result.exit_code in (1, 2) and message in result.output, (args, result.output)
    assert registry.count() == count  # nothing numbered by any refusal
    assert registry.get(active).status is Status.ACTIVE
    _log_intact(cli)


def test_training_certificates_are_corrected_never_renewed(cli, settings, tmp_path):
    out = tmp_path / "t"
    assert cli(certgen, ["issue", "training", str(SAMPLES / "training.xlsx"), "-o", str(out), "--workers", "1",
                         "--skip-invalid"]).exit_code in (0, 1)
    number = json.loads((out / "manifest.json").read_text())[0]["number"]
    refused = cli(certgen, ["renew", number])
    assert refused.exit_code == 1 and f"{number} is a training certificate: it does not expire, so there is nothing to renew" in refused.output
    fixed = cli(certgen, ["correct", number, "--set", "hours=33", "--reason", "hours misprinted"])
    assert fixed.exit_code == 0, fixed.output
    registry = _registry(settings)
    succ = registry.get(registry.get(number).replaced_by)
    assert succ.series is Series.TRAINING and succ.record["hours"] == 33 and succ.replaces == number
    bad = cli(certgen, ["correct", succ.number, "--set", "hours=5000"])
    assert bad.exit_code == 1 and "column hours: 5000 hours is outside 1 to 1000" in bad.output
    _log_intact(cli)


# -- the spreadsheet path -----------------------------------------------------------------------

def _successor_sheet(path: Path, rows: list[dict[str, str]], column: str = "old_number") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0]])
        writer.writeheader()
        writer.writerows(rows)
    return path


def _as_row(cert, **change: str) -> dict[str, str]:
    record = dict(cert.record)
    names = ["client_name", "client_address", "product", "brand", "type_model", "standard", "scheme_type",
             "factory_name", "factory_address", "grant_date", "expiry_date"]
    return {**{n: "" if record.get(n) is None else str(record[n]) for n in names}, "Old Number": cert.number, **change}


def test_spreadsheet_of_successors_with_bad_rows(cli, settings, fresh_keystore, products, tmp_path):
    registry = _registry(settings)
    a, b, c, d = (registry.get(n) for n in products["numbers"])
    registry.withdraw(c.number, reason="fraud", now=NOW, actor="tester")
    person = tmp_path / "p"
    assert cli(certgen, ["issue", "person", str(_rows(tmp_path / "pp.csv", "person.csv", 1)), "-o", str(person),
                         "--workers", "1", "--photos", str(SAMPLES)]).exit_code == 0
    person_number = json.loads((person / "manifest.json").read_text())[0]["number"]
    unknown = str(CertificateNumber.build(Series.PRODUCT_TYPE1, 2026, 777))
    rows = [
        _as_row(a, client_name="PT Krakatau Baja Utama Tbk"),                                    # row 2: correction
        _as_row(b, grant_date="2026-11-24", expiry_date="2030-11-23"),                           # row 3: renewal
        _as_row(a, brand="Kencana 2"),                                                           # row 4: a twice
        _as_row(c, brand="X"),                                                                   # row 5: withdrawn
        _as_row(b, **{"Old Number": person_number, "brand": "Y"}),                              # row 6: other kind
        _as_row(b, **{"Old Number": unknown, "brand": "Z"}),                                    # row 7: unknown
        _as_row(b, **{"Old Number": "P1-2026-1", "brand": "W"}),                                # row 8: malformed
        _as_row(b, **{"Old Number": "", "brand": "V"}),                                         # row 9: empty
        _as_row(d, scheme_type="5", factory_name="F", factory_address="Jl. F", brand="U"),        # row 10: series
        _as_row(b, expiry_date="2020-01-01", brand="T"),                                         # row 11: intake's own check
    ]
    sheet = _successor_sheet(tmp_path / "successors.csv", rows)
    result = cli(certgen, ["issue", "product", str(sheet), "--replaces-column", "Old Number", "--reason", "annual review",
                           "-o", str(tmp_path / "s")])
    assert result.exit_code == 1
    expected = [
        "successors.csv: row 4, column old_number: replaces " + a.number + ", as row 2 does: a certificate has one successor",
        f"successors.csv: row 5, column old_number: {c.number} is withdrawn (fraud)",
        f"successors.csv: row 6, column old_number: {person_number} is a person certificate; a product row cannot replace it",
        f"successors.csv: row 7, column old_number: {unknown} is not in the registry",
        "successors.csv: row 8, column old_number: 'P1-2026-1' is not a certificate number",
        "successors.csv: row 9, column old_number: missing value: the number of the certificate this row replaces",
        f"successors.csv: row 10, column old_number: {d.number} is of series P1; this row would be P5",
        "successors.csv: row 11, column expiry_date: expiry date 2020-01-01 is not after the grant date",
    ]
    for line in expected:
        assert line in result.output, result.output
    assert "8 invalid row(s), nothing issued" in result.output
    checked = cli(certgen, ["issue", "product", str(sheet), "--replaces-column", "Old Number", "--check"])
    assert checked.exit_code == 1 and expected[1] in checked.output and "2 valid row(s), 8 invalid" in checked.output
    assert registry.get(a.number).status is Status.ACTIVE  # nothing issued

    issued = cli(certgen, ["issue", "product", str(sheet), "--replaces-column", "Old Number", "--reason", "annual review",
                           "-o", str(tmp_path / "s"), "--skip-invalid", "--json"])
    summary = json.loads(issued.output)
    assert issued.exit_code == 0 and summary["issued"] == 2 and summary["rejected"] == 8
    changes = {(r["replaces"], r["change"]) for r in summary["replacements"]}
    assert changes == {(a.number, "correction"), (b.number, "renewal")}
    assert registry.get(a.number).status_reason == "correction of client_name: annual review"
    assert registry.get(b.number).status_reason == "renewal (grant_date, expiry_date): annual review"
    renewed = registry.get(registry.get(b.number).replaced_by)
    assert (renewed.granted, renewed.expires) == (date(2026, 11, 24), date(2030, 11, 23))
    rejected = list(csv.DictReader(open(tmp_path / "s" / "rejected.csv", encoding="utf-8")))
    assert len({r["row"] for r in rejected}) == 8
    assert {r["old_number"] for r in rejected if r["row"] in ("5", "7")} == {c.number, unknown}  # to fix and resend
    # the sheet again: nothing twice
    again = json.loads(cli(certgen, ["issue", "product", str(sheet), "--replaces-column", "Old Number", "--reason",
                                     "annual review", "-o", str(tmp_path / "s"), "--skip-invalid", "--json"]).output)
    assert again["issued"] == 0 and again["already_issued"] == 2
    # a person number in the old column of a person sheet works the same way; the column is checked in the header
    nocol = cli(certgen, ["issue", "product", str(sheet), "--replaces-column", "replaces", "-o", str(tmp_path / "x")])
    assert nocol.exit_code == 1 and "missing column(s) replaces (--replaces-column)" in nocol.output
    clash = cli(certgen, ["issue", "product", str(sheet), "--replaces-column", "brand", "-o", str(tmp_path / "x")])
    assert clash.exit_code == 1 and "--replaces-column brand is a column of the product certificate itself" in clash.output
    orphan = cli(certgen, ["issue", "product", str(sheet), "--reason", "x", "-o", str(tmp_path / "x")])
    assert orphan.exit_code == 2 and "--reason goes with --replaces-column" in orphan.output
    _log_intact(cli)


# -- consistency: a crash mid-way, a change meanwhile, two processes ----------------------------

class Crash(Exception):
    pass


def test_crash_before_the_successor_is_recorded_then_rerun(cli, settings, products, monkeypatch):
    old = products["numbers"][0]
    registry = _registry(settings)
    count = registry.count()

    def crash(self, *args, **kwargs):
        raise Crash("killed after the files were written")

    with monkeypatch.context() as patch:
        patch.setattr(Registry, "mark_issued_many", crash)
        with pytest.raises(Crash):
            cli(certgen, ["correct", old, "--set", "brand=Kencana Baru"])
    pending = [c for c in registry.iter_certificates() if c.status is Status.PENDING]
    assert len(pending) == 1 and pending[0].replaces == old and registry.get(old).status is Status.ACTIVE
    _log_intact(cli)
    # another correction with other values while that one is unfinished: refused, naming it
    other = cli(certgen, ["correct", old, "--set", "brand=Something Else"])
    assert other.exit_code == 1
    assert f"{old} already has a pending successor {pending[0].number} (an interrupted run) with other values" in other.output
    rerun = cli(certgen, ["correct", old, "--set", "brand=Kencana Baru"])
    assert rerun.exit_code == 0 and "1 issued" in rerun.output, rerun.output
    assert registry.count() == count + 1  # the pending successor was finished, no second one
    assert registry.get(old).replaced_by == pending[0].number
    assert registry.get(pending[0].number).status is Status.ACTIVE
    _log_intact(cli)


def test_the_replace_is_in_the_successors_issue_transaction(cli, settings, products, monkeypatch):
    old = products["numbers"][1]
    registry = _registry(settings)
    events = len(registry.events())

    def broken(*args, **kwargs):
        raise Crash("the replace failed")

    with monkeypatch.context() as patch:
        patch.setattr(repository, "apply_status_change", broken)
        with pytest.raises(Crash):
            cli(certgen, ["correct", old, "--set", "brand=Garuda Baru"])
    # the successor's issue was rolled back with the failed replace: never two valid certificates
    pending = [c for c in registry.iter_certificates() if c.status is Status.PENDING]
    assert len(pending) == 1 and pending[0].issued_at is None and len(registry.events()) == events
    assert registry.get(old).status is Status.ACTIVE
    _log_intact(cli)


def test_withdrawn_between_plan_and_issue_leaves_the_successor_pending(cli, settings, products, fresh_keystore):
    from certgen.batch import IssueEnvironment, issue_batch, prepare_batch
    from certgen.batch_plan import BatchOptions

    old = products["numbers"][2]
    registry = _registry(settings)
    sheet = _successor_sheet(settings.data_dir / "one.csv", [_as_row(registry.get(old), brand="Sinar Baru")])
    options = BatchOptions(DocumentKind.PRODUCT, sheet, settings.data_dir / "one", workers=1, replaces_column="old_number")
    plan = prepare_batch(options, registry, now=NOW)
    assert not plan.intake.errors and len(plan.replacements) == 1
    registry.withdraw(old, reason="fraud found meanwhile", now=NOW, actor="tester")
    signer = fresh_keystore.current_signer(PASSPHRASE, now=NOW)
    summary = issue_batch(plan, signer, IssueEnvironment(registry=registry, signer=signer, now=lambda: NOW))
    assert summary.issued == 0
    assert any(f"was not issued: {old} is withdrawn; it cannot be replaced" in p for p in summary.problems), summary.problems
    successor = [c for c in registry.iter_certificates() if c.replaces == old]
    assert len(successor) == 1 and successor[0].status is Status.PENDING
    assert registry.get(old).status is Status.WITHDRAWN and registry.get(old).replaced_by is None
    _log_intact(cli)


def _cli_env(settings, registry_url: str) -> dict[str, str]:
    return {**os.environ, "CERTGEN_DATA": str(settings.data_dir), "CERTGEN_KEYS": str(settings.keys_dir),
            "CERTGEN_REGISTRY_URL": registry_url, "CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode(),
            "PYTHONPATH": str(ROOT), "CERTGEN_ACTOR": "tester"}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_processes_replacing_one_certificate_make_one_successor(database, request, cli, settings, tmp_path):
    url = settings.registry_url if database == "sqlite" else request.getfixturevalue("postgres_url")
    environ = _cli_env(settings, url)
    rows = _rows(tmp_path / "one.csv", "product-type1.csv", 1)
    first = subprocess.run([sys.executable, "-m", "certgen.cli", "issue", "product", str(rows), "-o", str(tmp_path / "o"),
                            "--workers", "1", "--json"], env=environ, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    old = json.loads((tmp_path / "o" / "manifest.json").read_text())[0]["number"]
    procs = [subprocess.Popen([sys.executable, "-m", "certgen.cli", "correct", old, "--set", f"brand={brand}"],
                              env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for brand in ("Kencana A", "Kencana B")]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, _, err in results if code == 1)
    assert old in loser and ("already replaced by" in loser or "already has a successor" in loser
                             or "already has a pending successor" in loser), loser
    registry = Registry.open(url)
    try:
        successors = [c for c in registry.iter_certificates() if c.replaces == old]
        assert len(successors) == 1 and successors[0].status is Status.ACTIVE
        assert registry.get(old).replaced_by == successors[0].number
    finally:
        registry.close()
    check = subprocess.run([sys.executable, "-m", "certgen.cli", "log", "--verify"], env=environ, capture_output=True,
                           text=True, timeout=300)
    assert check.returncode == 0 and "log intact" in check.stdout, check.stdout + check.stderr


# -- the log covers the links -------------------------------------------------------------------

def test_an_edited_link_is_named_by_the_log(cli, settings, products):
    old = products["numbers"][0]
    assert cli(certgen, ["correct", old, "--set", "brand=Kencana Baru"]).exit_code == 0
    registry = _registry(settings)
    new = registry.get(old).replaced_by
    other = products["numbers"][1]
    with registry.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE certificates SET replaced_by = ? WHERE number = ?", (other, old))
    result = cli(certgen, ["log", "--verify"])
    assert result.exit_code == 1 and f"column replaced_by is '{other}' in the table, but its history says '{new}'" in result.output
    with registry.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE certificates SET replaced_by = ? WHERE number = ?", (new, old))
        record = dict(registry.get(new).record)
        record["replaces"] = {**record["replaces"], "number": other}
        conn.exec_driver_sql("UPDATE certificates SET record = ? WHERE number = ?", (json.dumps(record), new))
    assert registry.get(new).replaces == other  # what the page would show...
    result = cli(certgen, ["log", "--verify"])
    assert result.exit_code == 1 and f"certificate {new}: column record differs from its history" in result.output


def test_person_correction_with_a_lost_photo_then_a_new_one(cli, settings, tmp_path, monkeypatch):
    folder = tmp_path / "in"
    (folder / "photos").mkdir(parents=True)
    for name in ("person-001.jpg", "person-002.jpg"):
        (folder / "photos" / name).write_bytes((SAMPLES / "photos" / name).read_bytes())
    rows = _rows(folder / "one.csv", "person.csv", 1)
    assert cli(certgen, ["issue", "person", str(rows), "-o", str(tmp_path / "o"), "--workers", "1"]).exit_code == 0
    number = json.loads((tmp_path / "o" / "manifest.json").read_text())[0]["number"]
    (folder / "photos" / "person-001.jpg").unlink()
    lost = cli(certgen, ["correct", number, "--set", "name=Muhammad Susanto Putra"])
    assert lost.exit_code == 1 and "column photo: photo file" in lost.output and "not found" in lost.output
    monkeypatch.chdir(folder)  # a relative --set photo is taken from where the command runs
    fixed = cli(certgen, ["correct", number, "--set", "name=Muhammad Susanto Putra", "--set", "photo=photos/person-002.jpg"])
    assert fixed.exit_code == 0, fixed.output
    registry = _registry(settings)
    succ = registry.get(registry.get(number).replaced_by)
    assert succ.holder == "Muhammad Susanto Putra" and succ.record["photo"] == str(folder / "photos" / "person-002.jpg")
    assert succ.record["photo_sha256"] != registry.get(number).record["photo_sha256"]
    entry, folder_out = _successor_files(settings, number)
    assert (folder_out / entry["card_file"]).is_file()
    _log_intact(cli)


def test_a_correction_keeps_the_surveillance_schedule_a_renewal_restarts_it(cli, settings, tmp_path):
    rows = _rows(tmp_path / "p5.csv", "product-type1.csv", 1, scheme_type="5", factory_name="PT Pabrik Baja",
                 factory_address="Cikarang", grant_date="2025-06-01", expiry_date="2029-05-31")
    assert cli(certgen, ["issue", "product", str(rows), "-o", str(tmp_path / "o"), "--workers", "1"]).exit_code == 0
    old = json.loads((tmp_path / "o" / "manifest.json").read_text())[0]["number"]
    report = tmp_path / "visit.pdf"
    report.write_bytes(b"%PDF-1.7\n% a visit report\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    assert cli(certgen, ["surveillance", "record", old, "--result", "passed", "--date", "2026-05-20",
                         "--report", str(report)]).exit_code == 0
    assert cli(certgen, ["correct", old, "--set", "brand=Kencana Baja"]).exit_code == 0
    corrected = _registry(settings).get(old).replaced_by
    # the corrected certificate keeps the grant date of 2025: without the old visit it would be overdue
    [item] = json.loads(cli(certgen, ["surveillance", "due", "--within", "200d", "--json"]).output)
    assert (item["number"], item["last_visit"], item["due"], item["state"]) == (corrected, "2026-05-20", "2027-05-20", "due")
    assert cli(certgen, ["renew", corrected]).exit_code == 0
    renewed = _registry(settings).get(corrected).replaced_by
    [item] = json.loads(cli(certgen, ["surveillance", "due", "--within", "400d", "--json"]).output)
    assert (item["number"], item["last_visit"], item["due"]) == (renewed, None, "2027-11-24")
    _log_intact(cli)
