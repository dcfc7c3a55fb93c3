"""A successor's paper prints what it replaces (issue 12 §1: the page and the API said so, the
paper did not): the certificate, its card, its print sheet and a card reprint; a file of it
lost afterwards is drawn again byte for byte."""

from __future__ import annotations

import json
import subprocess

from certgen.cli import main as certgen
from certgen.registry import Registry
from tests.test_replacement import SAMPLES, _log_intact, _rows, _successor_files, _verify


def _text(path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=60).stdout


def test_a_successors_paper_names_what_it_replaces(cli, settings, fresh_keystore, tmp_path):
    rows = _rows(tmp_path / "persons.csv", "person.csv", 1)
    out = tmp_path / "persons"
    assert cli(certgen, ["issue", "person", str(rows), "-o", str(out), "--workers", "1", "--photos",
                         str(SAMPLES)]).exit_code == 0
    (old,) = [m["number"] for m in json.loads((out / "manifest.json").read_text())]
    assert "Replaces certificate" not in _text(out / "certificates" / f"{old}.pdf")
    assert cli(certgen, ["renew", old, "--reason", "exam passed"]).exit_code == 0
    registry = Registry.open(settings.registry_url)
    new = registry.get(old).replaced_by
    entry, folder = _successor_files(settings, old)
    certificate, card, sheet = folder / entry["file"], folder / entry["card_file"], folder / entry["sheet_file"]
    assert f"Menggantikan sertifikat / Replaces certificate {old}" in _text(certificate)
    assert f"menggantikan/replaces {old}" in _text(card) and f"menggantikan/replaces {old}" in _text(sheet)
    code, text = _verify(fresh_keystore, settings, "pdf", str(certificate), str(card), "--json")
    assert code == 0, text
    # lost files are drawn again from the registry, byte for byte (the line included)
    certificate.unlink()
    card.unlink()
    rerun = cli(certgen, ["renew", old, "--reason", "exam passed"])
    assert rerun.exit_code == 0, rerun.output
    cert = registry.get(new)
    assert _sha(certificate) == cert.pdf_sha256 and _sha(card) == cert.card_sha256
    # a reprint of the successor's card keeps the line
    done = json.loads(cli(certgen, ["card", "reprint", new, "--reason", "lost", "--json"]).output)
    assert done["edition"] == 2 and f"menggantikan/replaces {old}" in _text(done["card_file"])
    _log_intact(cli)
    registry.close()


def _sha(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
