"""certverify from the command line: reports, JSON, exit codes, folders."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from certgen.config import sqlite_url
from tests import photography as photo
from tests.test_verify import issued  # noqa: F401 - the module fixture
from verify.cli import main as certverify


@pytest.fixture
def run(issued):  # noqa: F811
    folder = issued["folder"]
    base = ["--trust-list", str(folder / "keys" / "trustlist.json"), "--root", str(folder / "keys" / "root.cert.pem"),
            "--at", "2026-11-24T10:00:00+07:00"]
    registry = ["--registry", sqlite_url(folder / "registry.sqlite3")]

    def invoke(*args, with_registry=True):
        return CliRunner().invoke(certverify, [*base, *(registry if with_registry else []), *args], catch_exceptions=False)
    return invoke


def test_seal_with_and_without_registry(run, issued):  # noqa: F811
    seal = issued["registry"].get(issued["numbers"][0]).seal
    result = run("seal", seal)
    assert result.exit_code == 0 and result.output.startswith("VALID — ")
    offline = run("seal", seal, "--json", with_registry=False)
    assert offline.exit_code == 1
    report = json.loads(offline.output)
    assert report["verdict"] == "INDETERMINATE" and report["summary"] == "status not checked (no registry given)"
    assert report["checks"][0]["detail"].startswith("seal valid")


def test_number_typo_is_caught(run, issued):  # noqa: F811
    number = issued["numbers"][0]
    typo = number[:-1] + ("X" if number[-1] != "X" else "Y")
    result = run("number", typo, "--json")
    assert result.exit_code == 1 and json.loads(result.output)["checks"][0]["reason"] == "number_malformed"


def test_pdf_folder_gives_json_lines_and_a_summary(run, issued, tmp_path):  # noqa: F811
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for i, pdf in enumerate(issued["pdfs"]):
        (folder / f"{i}.pdf").write_bytes(pdf)
    (folder / "bad.pdf").write_bytes(issued["pdfs"][0][:-500] + b"tampered")
    result = run("pdf", str(folder), "--json", "--workers", "2")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert result.exit_code == 1
    assert [line["verdict"] for line in lines[:-1]] == ["VALID", "VALID", "VALID", "INVALID"]
    assert lines[-1] == {"summary": {"files": 4, "verdicts": {"VALID": 3, "INVALID": 1}}}
    assert run("pdf", str(folder / "0.pdf")).exit_code == 0


def test_scan_and_decode_a_photo_of_a_card(run, issued, tmp_path):  # noqa: F811
    card = tmp_path / "card.pdf"
    card.write_bytes((issued["folder"] / "out" / "cards" / f"{issued['numbers'][1]}.pdf").read_bytes())
    picture = tmp_path / "card.jpg"
    picture.write_bytes(photo.encode(photo.rotate(photo.render_page(card, 2), 15), ".jpg", 60))
    seal = issued["registry"].get(issued["numbers"][1]).card_seal  # a card has a seal of its own
    decoded = run("decode", str(picture))
    assert decoded.exit_code == 0 and decoded.output == seal + "\n"
    scanned = run("scan", str(picture), "--json")
    assert scanned.exit_code == 0
    report = json.loads(scanned.output)
    assert report["verdict"] == "VALID" and report["barcodes"] == [seal] and report["subject"] == "image"
    blank = tmp_path / "blank.png"
    blank.write_bytes(photo.encode(np.full((300, 300), 255, np.uint8)))
    nothing = run("scan", str(blank), "--json")
    assert nothing.exit_code == 1 and json.loads(nothing.output)["checks"][0]["reason"] == "no_barcode"
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    refused = run("scan", str(notes), "--json")
    assert json.loads(refused.output)["checks"][0]["reason"] == "image_unreadable"


def test_missing_trust_list_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(certverify, ["--trust-list", str(tmp_path / "none.json"), "--root", str(tmp_path / "r.pem"),
                                             "seal", "https://x/v/AAAA"])
    assert result.exit_code == 1 and "cannot read the root certificate" in result.output


def test_scan_reads_the_codes_printed_in_card_pdfs_and_print_sheets(run, issued, tmp_path):  # noqa: F811
    """Cards and sheets carry seals, not PDF signatures: `scan` renders their pages (poppler)
    and checks every code, naming the page."""
    out = issued["folder"] / "out"
    first = issued["numbers"][0]
    card = run("scan", str(out / "cards" / f"{first}.pdf"), "--json")
    assert card.exit_code == 0
    report = json.loads(card.output)
    assert report["verdict"] == "VALID" and report["source"].endswith(f"{first}.pdf page 2")
    assert report["barcodes"] == [issued["registry"].get(first).card_seal]
    sheet = run("scan", str(out / "sheets" / "cards-0001.pdf"), "--json")
    assert sheet.exit_code == 0
    reports = json.loads(sheet.output)
    assert sorted(r["claims"]["number"] for r in reports) == sorted(issued["numbers"])
    assert {r["verdict"] for r in reports} == {"VALID"} and all(r["source"].endswith("page 2") for r in reports)
    decoded = run("decode", str(out / "cards" / f"{first}.pdf"))
    assert decoded.exit_code == 0 and decoded.output == issued["registry"].get(first).card_seal + "\n"
    # `certverify pdf` on the same card: a card is signed (issue 12), and its seal is the current edition
    signed = run("pdf", str(out / "cards" / f"{first}.pdf"), "--json")
    assert signed.exit_code == 0, signed.output
    card_report = json.loads(signed.output.splitlines()[0])
    reasons = [c["reason"] for c in card_report["checks"]]
    assert card_report["verdict"] == "VALID" and "card_current" in reasons and "pdf_registered" in reasons
    assert card_report["claims"]["card_edition"] == 1


def test_scan_of_a_pdf_without_codes_or_not_renderable(run, tmp_path):
    from reportlab.pdfgen.canvas import Canvas

    blank = tmp_path / "blank.pdf"
    canvas = Canvas(str(blank))
    canvas.drawString(100, 700, "no barcode here")
    canvas.showPage()
    canvas.save()
    nothing = json.loads(run("scan", str(blank), "--json").output)
    assert nothing["checks"][0]["reason"] == "no_barcode" and "1 page(s)" in nothing["checks"][0]["detail"]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nnothing else")
    refused = json.loads(run("scan", str(broken), "--json").output)
    assert refused["checks"][0]["reason"] == "image_unreadable"
    assert "cannot be rendered" in refused["checks"][0]["detail"]


def test_without_poppler_the_error_names_the_package(monkeypatch):
    from verify.pdf_pages import PdfPagesError, page_images

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(PdfPagesError, match="poppler-utils"):
        page_images(b"%PDF-1.4\n")


@pytest.mark.parametrize("program", ["console script", "module"])
def test_pdf_as_the_program_itself_writes_every_line_and_its_exit_code(issued, tmp_path, program):  # noqa: F811
    """Run as the program (not inside a test's CliRunner), `certverify pdf` ends without the
    interpreter's teardown: every line must still be written, through a pipe, and the exit
    code must still say whether every file is VALID."""
    import subprocess

    from tests.test_certverify_exit import _command, _env

    valid = subprocess.run([*_command(issued, tmp_path, program), "--workers", "2"], capture_output=True, text=True,
                           env=_env(), timeout=120)
    lines = [json.loads(line) for line in valid.stdout.splitlines()]
    assert valid.returncode == 0, valid.stderr[-2000:]
    assert [line["verdict"] for line in lines[:-1]] == ["VALID"] * len(issued["pdfs"])
    assert lines[-1] == {"summary": {"files": len(issued["pdfs"]), "verdicts": {"VALID": len(issued["pdfs"])}}}
    offline = subprocess.run([*_command(issued, tmp_path, program, registry=False, as_json=False), "--workers", "1"],
                             capture_output=True, text=True, env=_env(), timeout=120)
    assert offline.returncode == 1
    assert offline.stdout.splitlines()[-1] == f"{len(issued['pdfs'])} file(s): {len(issued['pdfs'])} INDETERMINATE"
