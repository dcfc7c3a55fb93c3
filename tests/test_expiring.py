"""`certgen expiring`: the window's boundaries in Jakarta time, what is left out, the CSV and
JSON forms, and the renewal reminder letters (read back with pypdf)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timezone

import pytest
from pypdf import PdfReader

from certgen.cli import main as certgen
from certgen.errors import ConfigError
from certgen.expiry import RenewalText, expiring
from certgen.registry import Registry
from tests.conftest import NOW
from tests.registry_helpers import issue_one
from tests.test_surveillance import issue_product


@pytest.fixture
def reg(settings):
    registry = Registry.open(settings.registry_url)
    yield registry
    registry.close()


@pytest.fixture
def population(reg):
    """Certificates expiring around NOW (24 November 2026, 10:00 in Jakarta)."""
    made = {
        "yesterday": issue_one(reg, "Kemarin", NOW, expires=date(2026, 11, 23)),
        "today": issue_one(reg, "Hari Ini", NOW, expires=date(2026, 11, 24)),
        "day 90": issue_one(reg, "Sembilan Puluh", NOW, expires=date(2027, 2, 22)),
        "day 91": issue_one(reg, "Sembilan Satu", NOW, expires=date(2027, 2, 23)),
        "withdrawn": issue_one(reg, "Ditarik", NOW, expires=date(2026, 12, 1)),
        "replaced": issue_one(reg, "Diganti", NOW, expires=date(2026, 12, 2)),
        "suspended": issue_one(reg, "Dibekukan", NOW, expires=date(2026, 12, 3)),
        "product": issue_product(reg, "PT Ni Luh Putu Ayu Sejahtera", date(2023, 12, 10), expires=date(2026, 12, 9)),
    }
    reg.withdraw(made["withdrawn"].number, reason="at the holder's request", now=NOW, actor="t")
    reg.replace(made["replaced"].number, made["day 91"].number, reason="corrected", now=NOW, actor="t")
    reg.suspend(made["suspended"].number, reason="under review", now=NOW, actor="t")
    return {name: cert.number for name, cert in made.items()}


def test_window_includes_today_and_day_90_in_jakarta(reg, population):
    items = expiring(reg.iter_certificates(), within_days=90, now=NOW)
    assert [(i.number, i.days_left) for i in items] == [
        (population["today"], 0), (population["product"], 15), (population["day 90"], 90)]


def test_the_expiry_day_ends_at_midnight_in_jakarta(reg, population):
    last_minute = datetime(2026, 11, 24, 16, 59, 59, tzinfo=timezone.utc)  # 23:59:59 WIB
    next_day = datetime(2026, 11, 24, 17, 0, tzinfo=timezone.utc)  # 00:00 WIB on the 25th
    assert population["today"] in {i.number for i in expiring(reg.iter_certificates(), within_days=90, now=last_minute)}
    later = {i.number for i in expiring(reg.iter_certificates(), within_days=90, now=next_day)}
    assert population["today"] not in later  # expired at midnight in Jakarta
    assert population["day 90"] in later and population["day 91"] in later  # the window moved on by one day


def test_table_csv_and_json(cli, population):
    table = cli(certgen, ["expiring", "--within", "90d"])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["number", "expires", "days_left", "kind", "holder", "scheme"]
    assert [line.split()[0] for line in lines[1:]] == [population["today"], population["product"], population["day 90"]]
    rows = list(csv.DictReader(io.StringIO(cli(certgen, ["expiring", "--within", "90", "--csv"]).output)))
    assert [(r["number"], r["expires"], r["days_left"]) for r in rows] == [
        (population["today"], "2026-11-24", "0"), (population["product"], "2026-12-09", "15"),
        (population["day 90"], "2027-02-22", "90")]
    data = json.loads(cli(certgen, ["expiring", "--json", "--within", "10d"]).output)
    assert data == [{"number": population["today"], "kind": "person", "holder": "Hari Ini", "scheme": "SKM-PTK-03/2024",
                     "expires": "2026-11-24", "days_left": 0, "address": None}]
    assert cli(certgen, ["expiring", "--within", "0d", "--json"]).output.strip() == json.dumps(
        [dict(data[0])], ensure_ascii=False, indent=1).strip()


def test_reminder_letters_name_holder_number_and_expiry(cli, population, tmp_path):
    folder = tmp_path / "letters"
    result = cli(certgen, ["expiring", "--within", "30d", "--letters", str(folder)])
    assert result.exit_code == 0, result.output
    assert "2 reminder letter(s) written" in result.output
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{population['today']}.pdf", f"{population['product']}.pdf"])
    reader = PdfReader(folder / f"{population['product']}.pdf")
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4
    text = " ".join(reader.pages[0].extract_text().split())
    assert "PT Ni Luh Putu Ayu Sejahtera" in text and population["product"] in text
    assert "9 Desember 2026" in text and "9 December 2026" in text  # Indonesian, then English
    assert text.index("berlaku sampai dengan") < text.index("is valid until")
    assert "Jl. Industri 1, Bekasi" in text and "KEMENTERIAN PERDAGANGAN" in text
    assert "perpanjang" in text and "renew" in text
    person = " ".join(PdfReader(folder / f"{population['today']}.pdf").pages[0].extract_text().split())
    assert "Hari Ini" in person and population["today"] in person


def test_renewal_template_is_checked():
    good = {"title": {"id": "A", "en": "B"}, "paragraphs": [{"id": "{number}", "en": "{holder}"}]}
    assert RenewalText.from_config(good).paragraphs[0].id == "{number}"
    with pytest.raises(ConfigError, match=r"renewal.yaml: paragraphs\[0\].en: unknown placeholder\(s\) nama"):
        RenewalText.from_config({**good, "paragraphs": [{"id": "x", "en": "{nama}"}]})
    with pytest.raises(ConfigError, match=r"renewal.yaml: missing key\(s\) paragraphs"):
        RenewalText.from_config({"title": {"id": "A", "en": "B"}})


def test_letter_prints_any_letters_of_a_name(cli, reg, tmp_path):
    number = issue_one(reg, "王小明 Ünal Şahin", NOW, expires=date(2026, 12, 1)).number
    result = cli(certgen, ["expiring", "--within", "30d", "--letters", str(tmp_path / "l")])
    assert result.exit_code == 0, result.output
    text = " ".join(PdfReader(tmp_path / "l" / f"{number}.pdf").pages[0].extract_text().split())
    assert "Kepada / To: 王小明 Ünal Şahin" in text


def test_letters_folder_that_cannot_be_written_is_a_clear_error(cli, reg, tmp_path):
    issue_one(reg, "Tulis", NOW, expires=date(2026, 12, 1))
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should go")
    result = cli(certgen, ["expiring", "--letters", str(blocked / "letters")])
    assert result.exit_code == 1 and f"cannot write the letters to {blocked / 'letters'}" in result.output


def test_signed_letters_validate_in_pyhanko(cli, reg, tmp_path, fresh_keystore):
    from tests.signatures import pyhanko_status
    number = issue_one(reg, "Bertanda Tangan", NOW, expires=date(2026, 12, 1)).number
    result = cli(certgen, ["expiring", "--letters", str(tmp_path / "l")])
    assert result.exit_code == 0, result.output
    pdf = (tmp_path / "l" / f"{number}.pdf").read_bytes()
    status = pyhanko_status(pdf, fresh_keystore.root_certificate())
    assert status.intact and status.valid and status.trusted, status.summary()
    assert "Bertanda Tangan" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    nokey = cli(certgen, ["expiring", "--letters", str(tmp_path / "m")], passphrase=None)
    assert nokey.exit_code == 1 and "set CERTGEN_KEY_PASSPHRASE" in nokey.output


def test_the_database_filter_agrees_with_the_scan(reg, population):
    from certgen.expiry import window
    for days in (0, 15, 90, 91, 400):
        for now in (NOW, datetime(2026, 11, 24, 17, 0, tzinfo=timezone.utc)):
            scanned = expiring(reg.iter_certificates(), within_days=days, now=now)
            assert expiring(reg.active_expiring(*window(days, now)), within_days=days, now=now) == scanned
