"""Every bad row is named by row, column and reason before anything is issued."""

import csv
import shutil
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from certgen.batch import BatchOptions, check_input
from certgen.intake import InputError
from certgen.model import DocumentKind, PersonRecord
from tests.documents import SAMPLES, templates_and_fonts

PERSON_HEADER = ["name", "scheme_code", "scope", "grant_date", "expiry_date", "photo"]
GOOD = ["Siti Aminah", "SKM-PTK-03", "Pengawasan mutu barang", "2026-11-24", "2029-11-23", "photos/a.jpg"]


def _write_csv(folder: Path, rows, header=PERSON_HEADER, delimiter=",") -> Path:
    (folder / "photos").mkdir(exist_ok=True)
    shutil.copy(SAMPLES / "photos" / "person-001.jpg", folder / "photos" / "a.jpg")
    path = folder / "input.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _check(path: Path, kind=DocumentKind.PERSON):
    templates, fonts = templates_and_fonts()
    return check_input(BatchOptions(kind, path, path.parent / "out"), templates, fonts)


def _errors(path: Path, kind=DocumentKind.PERSON) -> list[str]:
    return [str(e) for e in _check(path, kind).errors]


def test_valid_rows_become_records(tmp_path):
    intake = _check(_write_csv(tmp_path, [GOOD, ["Sukarni", "SKM-AUD-02", "Audit", "24/11/2026", "23-11-2029", ""]]))
    assert intake.errors == []
    first, second = (row.record for row in intake.valid)
    assert isinstance(first, PersonRecord) and first.photo.endswith("photos/a.jpg") and len(first.photo_sha256) == 64
    assert first.scheme_name.startswith("Pengawas Mutu Barang")  # taken from templates/schemes.yaml
    assert second.grant_date == date(2026, 11, 24) and second.expiry_date == date(2029, 11, 23) and second.photo is None
    assert [row.row for row in intake.valid] == [2, 3]


@pytest.mark.parametrize("change, expected", [
    ({0: ""}, "row 2, column name: missing value"),
    ({3: "2026-13-01"}, "row 2, column grant_date: bad date '2026-13-01': expected YYYY-MM-DD or DD/MM/YYYY"),
    ({4: "2026-01-01"}, "row 2, column expiry_date: expiry date 2026-01-01 is not after the grant date 2026-11-24"),
    ({1: "SKM-XXX-99"}, "row 2, column scheme_code: unknown scheme 'SKM-XXX-99'"),
    ({5: "photos/missing.jpg"}, "row 2, column photo: photo file 'photos/missing.jpg' not found"),
    ({5: "photos/broken.jpg"}, "row 2, column photo: photo 'photos/broken.jpg' is not a readable image"),
    ({0: "N" * 81}, "row 2, column name: too long: 81 characters, at most 80"),
    ({0: "W" * 65}, "row 2, column name: too long to print on one line"),
    ({2: "Ruang lingkup " * 14}, "row 2, column scope: too long for the layout"),
    ({0: "Nama \u0f00"}, "row 2, column name: cannot be printed with the template fonts: '\u0f00' (U+0F00)"),
    ({0: "Nama \u0639"}, "row 2, column name: cannot be printed with the template fonts: '\u0639' (U+0639)"),
    ({0: "Budi \u202eodnaS"}, "row 2, column name: invisible formatting character(s) U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ({0: "Bu\u200bdi \u2066Santoso\u2069"}, "row 2, column name: invisible formatting character(s) U+200B (ZERO WIDTH "
                                          "SPACE), U+2066 (LEFT-TO-RIGHT ISOLATE), U+2069 (POP DIRECTIONAL ISOLATE)"),
    ({2: "Ruang\u00adlingkup"}, "row 2, column scope: invisible formatting character(s) U+00AD (SOFT HYPHEN)"),
])
def test_each_problem_names_row_column_and_reason(tmp_path, change, expected):
    row = list(GOOD)
    for index, value in change.items():
        row[index] = value
    path = _write_csv(tmp_path, [row])
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    errors = _errors(path)
    assert len(errors) == 1 and errors[0].startswith(f"input.csv: {expected}"), errors


def test_duplicate_rows(tmp_path):
    errors = _errors(_write_csv(tmp_path, [GOOD, ["Budi", *GOOD[1:]], GOOD]))
    assert errors == ["input.csv: row 4: duplicate of row 2"]


def test_all_rows_are_checked_not_just_the_first_bad_one(tmp_path):
    rows = [GOOD, ["", *GOOD[1:]], ["Ani", "SKM-PTK-03", "x", "bad", "2029-11-23", ""], ["Budi", *GOOD[1:]]]
    intake = _check(_write_csv(tmp_path, rows))
    assert [(e.row, e.column) for e in intake.errors] == [(3, "name"), (4, "grant_date")]
    assert [v.row for v in intake.valid] == [2, 5]
    assert set(intake.rejected) == {3, 4}


def test_header_problems_stop_at_row_1(tmp_path):
    with pytest.raises(InputError, match=r"row 1: missing column\(s\) scope; unknown column\(s\) scoop"):
        _check(_write_csv(tmp_path, [GOOD], header=["name", "scheme_code", "scoop", "grant_date", "expiry_date", "photo"]))


def test_semicolon_csv_and_xlsx_with_real_dates(tmp_path):
    assert _check(_write_csv(tmp_path, [GOOD], delimiter=";")).errors == []
    book = Workbook()
    sheet = book.active
    sheet.append(["name", "course", "course_code", "start_date", "end_date", "hours", "organiser", "place"])
    sheet.append(["Ani", "Metrologi", "BT-1", date(2026, 11, 2), date(2026, 11, 4), 24, "Balai Sertifikasi", None])
    sheet.append(["Budi", "Metrologi", "BT-1", date(2026, 11, 4), date(2026, 11, 2), 24, "Balai Sertifikasi", None])
    sheet.append(["Cici", "Metrologi", "BT-1", date(2026, 11, 2), date(2026, 11, 4), "dua", "Balai Sertifikasi", None])
    path = tmp_path / "training.xlsx"
    book.save(path)
    intake = _check(path, DocumentKind.TRAINING)
    assert [str(e) for e in intake.errors] == [
        "training.xlsx: row 3, column end_date: end date 2026-11-02 is before the start date 2026-11-04",
        "training.xlsx: row 4, column hours: 'dua' is not a whole number",
    ]
    assert intake.valid[0].record.hours == 24


def test_product_type_5_needs_a_factory(tmp_path):
    header = ["client_name", "client_address", "product", "brand", "type_model", "standard", "scheme_type",
              "factory_name", "factory_address", "grant_date", "expiry_date"]
    rows = [["PT A", "Jakarta", "Helm", "X", "H1", "SNI 1811:2007", "5", "", "", "2026-11-24", "2030-11-23"],
            ["PT B", "Jakarta", "Helm", "X", "H1", "SNI 1811:2007", "3", "", "", "2026-11-24", "2030-11-23"]]
    errors = _errors(_write_csv(tmp_path, rows, header=header), DocumentKind.PRODUCT)
    assert errors == ["input.csv: row 2, column factory_name: missing value (required for scheme type 5)",
                      "input.csv: row 2, column factory_address: missing value (required for scheme type 5)",
                      "input.csv: row 3, column scheme_type: unknown scheme type 3: expected 1 or 5"]


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"", "the file is empty"),
    (b"\xff\xfe\x00bad", "not UTF-8 text"),
])
def test_unreadable_files(tmp_path, content, message):
    path = tmp_path / "x.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        _check(path)


def test_bundled_samples_are_valid_and_large_enough():
    for name, kind in [("product-type1.csv", DocumentKind.PRODUCT), ("product-type5.xlsx", DocumentKind.PRODUCT),
                       ("person.csv", DocumentKind.PERSON), ("training.xlsx", DocumentKind.TRAINING)]:
        intake = _check(SAMPLES / name, kind)
        assert intake.errors == [] and len(intake.valid) >= 50, name


def test_docs_list_exactly_the_columns_of_each_kind():
    from certgen.intake import COLUMNS
    text = (Path(__file__).parent.parent / "docs" / "input.md").read_text(encoding="utf-8")
    for kind, columns in COLUMNS.items():
        section = text.split(f"## {kind.value} ")[1].split("\n## ")[0]
        documented = [line.split("|")[1].strip() for line in section.splitlines()
                      if line.startswith("| ") and not line.startswith("| column")]
        assert documented == [c.name for c in columns], kind
