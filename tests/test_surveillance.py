"""Surveillance of type 5 certificates: the schedule under a frozen clock, recording visits,
suspension by a failed visit, refusals, and visits under the event log."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from certgen.cli import main as certgen
from certgen.errors import ConfigError
from certgen.model import Series
from certgen.registry import NewCertificate, Registry, verify_log
from certgen.registry.visits import SurveillanceError, VisitResult, record_visit, under_surveillance, visits_of
from certgen.surveillance import DueState, SurveillanceRules, add_months, due_list, new_visit, store_report
from tests.conftest import NOW
from tests.registry_helpers import issue_one
from verify.cli import main as certverify

PDF = b"%PDF-1.7\n% a visit report\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def issue_product(registry: Registry, holder: str, granted: date, *, scheme_type: int = 5,
                  expires: date | None = None, now: datetime = NOW):
    expires = expires or date(granted.year + 3, granted.month, granted.day) - timedelta(days=1)
    record = {"client_name": holder, "client_address": "Jl. Industri 1, Bekasi", "product": "Kipas angin", "brand": "Angin",
              "type_model": "KA-1", "standard": "SNI IEC 60335-2-80:2015", "scheme_type": scheme_type,
              "grant_date": granted.isoformat(), "expiry_date": expires.isoformat(),
              "factory_name": "PT Pabrik Angin" if scheme_type == 5 else None,
              "factory_address": "Cikarang" if scheme_type == 5 else None}
    series = Series.PRODUCT_TYPE5 if scheme_type == 5 else Series.PRODUCT_TYPE1
    reserved = registry.reserve([NewCertificate(series, holder, record["standard"], granted, expires, record)], now=now)[0]
    return registry.mark_issued(reserved.number, pdf_sha256="cd" * 32, dsc_kid="00" * 8, now=now, actor="tester")


@pytest.fixture
def reg(settings):
    registry = Registry.open(settings.registry_url)
    yield registry
    registry.close()


@pytest.fixture
def report(tmp_path) -> Path:
    path = tmp_path / "visit-report.pdf"
    path.write_bytes(PDF)
    return path


def twelve_months_after(day: date) -> date:
    """Independent of add_months: the same day a year later (the test dates avoid 29 February)."""
    return day.replace(year=day.year + 1)


# -- the schedule ------------------------------------------------------------------------------

def test_due_overdue_and_grace_against_independent_dates(reg):
    today = date(2026, 11, 24)  # NOW in Jakarta
    rules = SurveillanceRules()  # 12 months, 30 days of grace
    granted = {
        "due": date(2025, 12, 20),  # due 2026-12-20: 26 days ahead
        "overdue": date(2025, 11, 10),  # due 2026-11-10: 14 days late, inside the grace
        "edge": date(2025, 10, 25),  # due 2026-10-25: 30 days late, the last day of grace
        "for suspension": date(2025, 10, 24),  # due 2026-10-24: 31 days late
        "later": date(2026, 3, 1),  # due 2027-03-01: outside a 60-day window
    }
    numbers = {name: issue_product(reg, f"PT {name}", day).number for name, day in granted.items()}
    issue_product(reg, "PT Tipe Satu", date(2025, 11, 10), scheme_type=1)  # type 1: never listed
    issue_one(reg, "Budi", NOW)  # a person: never listed

    items = {i.number: i for i in due_list(under_surveillance(reg), rules, within_days=60, now=NOW)}
    assert set(items) == {numbers[n] for n in ("due", "overdue", "edge", "for suspension")}
    for name in ("due", "overdue", "edge", "for suspension"):
        item = items[numbers[name]]
        assert item.due == twelve_months_after(granted[name])
        assert item.days_left == (item.due - today).days
    assert items[numbers["due"]].state is DueState.DUE and items[numbers["due"]].days_left == 26
    assert items[numbers["overdue"]].state is DueState.OVERDUE and items[numbers["overdue"]].days_left == -14
    assert items[numbers["edge"]].state is DueState.OVERDUE and items[numbers["edge"]].days_left == -30
    assert items[numbers["for suspension"]].state is DueState.FOR_SUSPENSION
    # a wider window reaches the later one; listing suspended nothing
    wide = {i.number for i in due_list(under_surveillance(reg), rules, within_days=100, now=NOW)}
    assert numbers["later"] in wide
    assert all(reg.get(n).status.value == "active" for n in numbers.values())


def test_the_day_turns_in_jakarta_not_in_utc(reg):
    number = issue_product(reg, "PT Batas", date(2025, 11, 25)).number  # due 2026-11-25
    rules = SurveillanceRules(grace_days=0)
    before = datetime(2026, 11, 25, 16, 59, tzinfo=timezone.utc)  # 23:59 WIB on the due day
    after = datetime(2026, 11, 25, 17, 0, tzinfo=timezone.utc)  # 00:00 WIB the day after
    [on_day] = due_list(under_surveillance(reg), rules, within_days=0, now=before)
    [next_day] = due_list(under_surveillance(reg), rules, within_days=0, now=after)
    assert (on_day.number, on_day.days_left, on_day.state) == (number, 0, DueState.DUE)
    assert (next_day.days_left, next_day.state) == (-1, DueState.FOR_SUSPENSION)


def test_a_visit_moves_the_next_due_date_and_findings_get_a_corrective_due(reg, report, settings):
    rules = SurveillanceRules()
    number = issue_product(reg, "PT Kunjungan", date(2025, 11, 10)).number
    stored = store_report(report, settings.data_dir / "surveillance", rules)
    visit, _ = record_visit(reg, number, new_visit(stored, VisitResult.MINOR, date(2026, 11, 20), rules), now=NOW, actor="t")
    assert visit.corrective_due == date(2026, 11, 20) + timedelta(days=90)
    [(cert, last)] = [c for c in under_surveillance(reg) if c[0].number == number]
    assert last.ordinal == 1
    assert due_list([(cert, last)], rules, within_days=60, now=NOW) == []  # next due 2027-11-20
    late = NOW + timedelta(days=91)  # corrective action overdue, visit not yet due
    [item] = due_list([(cert, last)], rules, within_days=60, now=late)
    assert item.corrective_overdue and item.due == date(2027, 11, 20)
    visit2, _ = record_visit(reg, number, new_visit(stored, VisitResult.MAJOR, date(2026, 11, 24), rules), now=NOW, actor="t")
    assert (visit2.ordinal, visit2.corrective_due) == (2, date(2026, 12, 24))
    visit3, cert = record_visit(reg, number, new_visit(stored, VisitResult.PASSED, date(2026, 11, 24), rules), now=NOW, actor="t")
    assert visit3.corrective_due is None and cert.status.value == "active"
    assert [v.result for v in visits_of(reg, number)] == [VisitResult.MINOR, VisitResult.MAJOR, VisitResult.PASSED]


def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2027, 12, 15), 12) == date(2028, 12, 15)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_rules_from_template_data_reject_bad_keys():
    rules = SurveillanceRules.from_config({"interval_months": 6, "grace_days": 10, "corrective_days": {"minor": 60, "major": 14}})
    assert (rules.interval_months, rules.grace_days, rules.corrective_days["major"]) == (6, 10, 14)
    with pytest.raises(ConfigError, match=r"product.yaml: surveillance: unknown key\(s\) interval"):
        SurveillanceRules.from_config({"interval": 6})
    with pytest.raises(ConfigError, match=r"surveillance.grace_days: expected a whole number from 0 to 365, got -1"):
        SurveillanceRules.from_config({"grace_days": -1})


# -- the command line --------------------------------------------------------------------------

def test_due_command_table_csv_and_json(cli, reg):
    number = issue_product(reg, "PT Lewat", date(2025, 10, 1)).number  # 54 days late
    table = cli(certgen, ["surveillance", "due", "--within", "60d"])
    assert table.exit_code == 0, table.output
    assert number in table.output and "for suspension" in table.output
    assert "1 certificate(s) past due and the 30-day grace period: for suspension" in table.output
    rows = list(csv.DictReader(io.StringIO(cli(certgen, ["surveillance", "due", "--csv"]).output)))
    assert rows == [{"number": number, "state": "for suspension", "due": "2026-10-01", "days_left": "-54", "last_visit": "",
                     "last_result": "", "corrective_due": "", "holder": "PT Lewat", "factory": "PT Pabrik Angin"}]
    [item] = json.loads(cli(certgen, ["surveillance", "due", "--json"]).output)
    assert (item["number"], item["state"], item["due"]) == (number, "for suspension", "2026-10-01")
    assert reg.get(number).status.value == "active"  # listed, never suspended silently
    bad = cli(certgen, ["surveillance", "due", "--within", "two months"])
    assert bad.exit_code == 2 and "'two months' is not a number of days" in bad.output


def test_failed_visit_suspends_and_certverify_says_so(cli, reg, report, settings, fresh_keystore):
    number = issue_product(reg, "PT Gagal", date(2025, 11, 10)).number
    result = cli(certgen, ["surveillance", "record", number, "--result", "failed", "--date", "2026-11-20",
                           "--report", str(report)])
    assert result.exit_code == 0, result.output
    digest = __import__("hashlib").sha256(PDF).hexdigest()
    assert f"report SHA-256 {digest}" in result.output
    stored = settings.data_dir / "surveillance" / digest[:2] / f"{digest}.pdf"
    assert stored.read_bytes() == PDF
    cert = reg.get(number)
    assert cert.status.value == "suspended"
    assert cert.status_reason == f"failed surveillance visit 1 on 2026-11-20 (report SHA-256 {digest[:16]})"
    types = [e.type.value for e in reg.events(number)]
    assert types == ["issue", "surveillance", "suspend"]  # the visit, then the suspension it caused
    verdict = CliRunner().invoke(certverify, ["--trust-list", str(fresh_keystore.trustlist_path), "--root",
                                              str(fresh_keystore.root_cert_path), "--registry", settings.registry_url,
                                              "--at", "2026-11-24T10:00:00+07:00", "number", number])
    print(verdict.output[:1500]); assert verdict.exit_code != 0
    assert "SUSPENDED" in verdict.output and "failed surveillance visit 1" in verdict.output
    # no longer due: a suspended certificate is not listed
    assert number not in cli(certgen, ["surveillance", "due"]).output
    log = verify_log(reg, fresh_keystore.trust_list(), fresh_keystore.root_certificate())
    assert log.ok, log.problems


def test_each_result_recorded_through_the_cli(cli, reg, report):
    number = issue_product(reg, "PT Semua", date(2025, 11, 10)).number
    for day, result in (("2026-11-01", "passed"), ("2026-11-05", "minor"), ("2026-11-10", "major")):
        out = cli(certgen, ["surveillance", "record", number, "--result", result, "--date", day, "--report", str(report),
                            "--json"])
        assert out.exit_code == 0, out.output
        data = json.loads(out.output)
        assert (data["result"], data["date"], data["status"]) == (result, day, "active")
    assert data["corrective_due"] == "2026-12-10" and data["visit"] == 3
    shown = json.loads(cli(certgen, ["surveillance", "show", number, "--json"]).output)
    assert [(v["visit"], v["result"]) for v in shown] == [(1, "passed"), (2, "minor"), (3, "major")]


# -- refusals ----------------------------------------------------------------------------------

def _record(cli, number, report, *, result="passed", day="2026-11-20"):
    return cli(certgen, ["surveillance", "record", number, "--result", result, "--date", day, "--report", str(report)])


def test_refusals_name_what_is_wrong(cli, reg, report, tmp_path, settings):
    p5 = issue_product(reg, "PT Tolak", date(2025, 11, 10)).number
    p1 = issue_product(reg, "PT Satu", date(2025, 11, 10), scheme_type=1).number
    person = issue_one(reg, "Sari", NOW).number
    unknown = p5[:-1] + ("X" if p5[-1] != "X" else "Y")

    out = _record(cli, p1, report)
    assert out.exit_code == 1 and f"{p1} is a type 1 product certificate (type testing): scheme type 1 has no surveillance" in out.output
    out = _record(cli, person, report)
    assert out.exit_code == 1 and f"{person} is a person certificate: only type 5 product certificates" in out.output
    out = _record(cli, unknown, report)
    assert out.exit_code == 1 and ("check character" in out.output or "is not in the registry" in out.output)
    missing = tmp_path / "none.pdf"
    out = _record(cli, p5, missing)
    assert out.exit_code == 1 and f"report {missing}: no such file" in out.output
    big = tmp_path / "big.pdf"
    with big.open("wb") as fh:  # sparse: 21 MiB on paper, nothing on disk
        fh.write(b"%PDF-1.7\n")
        fh.truncate(21 * 1024 * 1024)
    out = _record(cli, p5, big)
    assert out.exit_code == 1 and "22020096 bytes is more than the 20971520 bytes allowed" in out.output
    text = tmp_path / "notes.pdf"
    text.write_text("just notes")
    out = _record(cli, p5, text)
    assert out.exit_code == 1 and "not a PDF, PNG or JPEG file" in out.output
    out = _record(cli, p5, report, day="2026-11-25")
    assert out.exit_code == 1 and "the visit date 2026-11-25 is in the future (today is 2026-11-24 in Jakarta)" in out.output
    out = _record(cli, p5, report, day="2025-11-09")
    assert out.exit_code == 1 and "before" in out.output and "was granted (2025-11-10)" in out.output
    out = _record(cli, p5, report, day="24/11/2026")
    assert out.exit_code == 2 and "'24/11/2026' is not a date" in out.output
    assert visits_of(reg, p5) == []  # nothing recorded by any refusal
    assert not (settings.data_dir / "surveillance").exists()  # and no report stored
    reg.withdraw(p5, reason="client closed", now=NOW, actor="t")
    out = _record(cli, p5, report)
    assert out.exit_code == 1 and f"{p5} is withdrawn: a surveillance visit cannot be recorded on it" in out.output
    assert [e.type.value for e in reg.events(p5)] == ["issue", "withdraw"]


def test_unknown_number_with_a_good_check_character(reg, report, settings):
    from certgen.numbers import CertificateNumber
    from certgen.errors import NotFoundError
    number = str(CertificateNumber.build(Series.PRODUCT_TYPE5, 2026, 999))
    rules = SurveillanceRules()
    stored = store_report(report, settings.data_dir / "s", rules)
    with pytest.raises(NotFoundError, match=f"{number} is not in the registry"):
        record_visit(reg, number, new_visit(stored, VisitResult.PASSED, date(2026, 11, 20), rules), now=NOW, actor="t")


def test_visit_before_the_previous_one_is_refused(reg, report, settings):
    rules = SurveillanceRules()
    number = issue_product(reg, "PT Urut", date(2025, 11, 10)).number
    stored = store_report(report, settings.data_dir / "s", rules)
    record_visit(reg, number, new_visit(stored, VisitResult.PASSED, date(2026, 11, 20), rules), now=NOW, actor="t")
    with pytest.raises(SurveillanceError, match=r"the visit date 2026-11-19 is before visit 1 of .* \(2026-11-20\)"):
        record_visit(reg, number, new_visit(stored, VisitResult.PASSED, date(2026, 11, 19), rules), now=NOW, actor="t")


# -- under the log -----------------------------------------------------------------------------

def _visit_with_log(reg, report, settings):
    rules = SurveillanceRules()
    number = issue_product(reg, "PT Log", date(2025, 11, 10)).number
    stored = store_report(report, settings.data_dir / "s", rules)
    record_visit(reg, number, new_visit(stored, VisitResult.MINOR, date(2026, 11, 20), rules), now=NOW, actor="t")
    return number


def test_an_edited_visit_row_is_named_by_the_log(reg, report, settings, fresh_keystore):
    number = _visit_with_log(reg, report, settings)
    trust, root = fresh_keystore.trust_list(), fresh_keystore.root_certificate()
    assert verify_log(reg, trust, root).ok
    with reg.engine.begin() as conn:
        conn.execute(sa.text("UPDATE surveillance_visits SET result = 'passed', corrective_due = NULL"))
    problems = verify_log(reg, trust, root).problems
    assert [(p.where, p.code, p.column) for p in problems] == [
        (f"surveillance visit 1 of certificate {number}", "column_differs", "result"),
        (f"surveillance visit 1 of certificate {number}", "column_differs", "corrective_due")]
    assert "column result is 'passed' in the table, but its history says 'minor'" in problems[0].what
    result = CliRunner().invoke(certgen, ["log", "--verify"], env={"CERTGEN_DATA": str(settings.data_dir),
                                                                   "CERTGEN_KEYS": str(settings.keys_dir)})
    assert result.exit_code == 1 and f"surveillance visit 1 of certificate {number}: column result" in result.output


def test_a_deleted_or_added_visit_row_is_named(reg, report, settings, fresh_keystore):
    number = _visit_with_log(reg, report, settings)
    trust, root = fresh_keystore.trust_list(), fresh_keystore.root_certificate()
    with reg.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO surveillance_visits (number, ordinal, visited_on, result, report_sha256, "
                             "report_size, report_type, recorded_at, actor) SELECT number, 2, visited_on, 'passed', "
                             "report_sha256, report_size, report_type, recorded_at, actor FROM surveillance_visits"))
    [problem] = verify_log(reg, trust, root).problems
    assert (problem.where, problem.code) == (f"surveillance visit 2 of certificate {number}", "no_history")
    with reg.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM surveillance_visits"))
    [problem] = verify_log(reg, trust, root).problems
    assert problem.code == "history_without_row" and number in problem.where


def test_store_report_is_content_addressed_and_checks_limits(tmp_path, report):
    rules = SurveillanceRules(report_max_bytes=len(PDF))
    first = store_report(report, tmp_path / "store", rules)
    again = store_report(report, tmp_path / "store", rules)
    assert first == again and first.media_type == "application/pdf" and first.size == len(PDF)
    assert sorted(p.name for p in (tmp_path / "store").rglob("*") if p.is_file()) == [f"{first.sha256}.pdf"]
    report.write_bytes(PDF + b"x")
    with pytest.raises(SurveillanceError, match=f"{len(PDF) + 1} bytes is more than the {len(PDF)} bytes allowed"):
        store_report(report, tmp_path / "store", rules)
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(SurveillanceError, match="the file is empty"):
        store_report(empty, tmp_path / "store", rules)
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    assert store_report(png, tmp_path / "store", rules).path.suffix == ".png"
    assert os.path.isdir(tmp_path / "store")


def test_visits_on_postgresql_are_recorded_and_audited(postgres_url, report, tmp_path, keystore):
    registry = Registry.open(postgres_url)
    try:
        rules = SurveillanceRules()
        number = issue_product(registry, "PT Postgres", date(2025, 11, 10)).number
        stored = store_report(report, tmp_path / "s", rules)
        record_visit(registry, number, new_visit(stored, VisitResult.FAILED, date(2026, 11, 20), rules), now=NOW, actor="t")
        assert registry.get(number).status.value == "suspended"
        assert verify_log(registry, keystore.trust_list(), keystore.root_certificate()).ok
        with registry.engine.begin() as conn:
            conn.execute(sa.text("UPDATE surveillance_visits SET report_sha256 = repeat('0', 64)"))
        [problem] = verify_log(registry, keystore.trust_list(), keystore.root_certificate()).problems
        assert (problem.where, problem.column) == (f"surveillance visit 1 of certificate {number}", "report_sha256")
    finally:
        registry.close()


def test_end_to_end_issue_fail_a_visit_verify_the_pdf(cli, settings, fresh_keystore, report, tmp_path):
    """The real pipeline issues type 5 certificates; a failed visit makes `certverify pdf` on the
    issued PDF say SUSPENDED, with the visit as reason; `certgen log --verify` stays intact."""
    out = tmp_path / "out"
    issued = cli(certgen, ["issue", "product", str(Path(__file__).parent.parent / "samples" / "product-type5.xlsx"),
                           "-o", str(out), "--workers", "1", "--skip-invalid", "--json"])
    assert issued.exit_code == 0, issued.output
    manifest = json.loads((out / "manifest.json").read_text())
    first = manifest[0]
    number = first["number"]
    granted = Registry.open(settings.registry_url).get(number).granted
    visit_day = min(granted + timedelta(days=200), date(2026, 11, 24))
    result = cli(certgen, ["surveillance", "record", number, "--result", "failed", "--date", visit_day.isoformat(),
                           "--report", str(report)], now=datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc))
    assert result.exit_code == 0, result.output
    verdict = CliRunner().invoke(certverify, ["--trust-list", str(fresh_keystore.trustlist_path), "--root",
                                              str(fresh_keystore.root_cert_path), "--registry", settings.registry_url,
                                              "--at", "2026-11-24T10:00:00+07:00", "pdf", str(out / first["file"]), "--json"])
    assert verdict.exit_code != 0
    data = json.loads(verdict.output.splitlines()[0])
    assert data["verdict"] == "SUSPENDED" and f"{number} is suspended since 2026-11-24: failed surveillance visit 1" in data["summary"]
    assert {c["name"]: c["reason"] for c in data["checks"]}["status"] == "status_suspended"
    log = cli(certgen, ["log", "--verify"])
    assert log.exit_code == 0 and "log intact" in log.output, log.output


def test_log_proof_of_a_visited_certificate_proves_its_own_latest_event(cli, reg, report, settings, fresh_keystore):
    """A visit's event carries the visit's digest, not the certificate's state: the inclusion
    proof of a certificate is of its latest *certificate* event, so a visit does not make the
    public check say the row was changed behind the log."""
    rules = SurveillanceRules()
    number = issue_product(reg, "PT Bukti", date(2025, 11, 10)).number
    stored = store_report(report, settings.data_dir / "s", rules)
    record_visit(reg, number, new_visit(stored, VisitResult.PASSED, date(2026, 11, 20), rules), now=NOW, actor="t")
    assert cli(certgen, ["checkpoint"]).exit_code == 0
    verdict = CliRunner().invoke(certverify, ["--trust-list", str(fresh_keystore.trustlist_path), "--root",
                                              str(fresh_keystore.root_cert_path), "--registry", settings.registry_url,
                                              "--at", "2026-11-24T10:00:00+07:00", "--log-proof", "number", number, "--json"])
    data = json.loads(verdict.output)
    assert data["verdict"] == "VALID", verdict.output
    [inclusion] = [c for c in data["checks"] if c["name"] == "log_inclusion"]
    assert inclusion["outcome"] == "passed" and "(issue, event 1)" in inclusion["detail"]
