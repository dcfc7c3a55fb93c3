"""The issuing pipeline end to end: files, registry, manifests, resume after a kill, bad input."""

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pikepdf
import pytest

from certgen.batch import BatchOptions, InvalidRows, IssueEnvironment, run_batch
from certgen.config import sqlite_url
from certgen.keys import KeyStore
from certgen.model import DocumentKind, Status
from certgen.registry import Registry, verify_log
from certgen.seal import open_seal
from tests.conftest import NOW, PASSPHRASE
from tests.documents import SAMPLES, decode_pages
from tests.signatures import make_nss_db, pdfsig, pyhanko_status

ROOT = Path(__file__).parent.parent
URL = "https://verifikasi.example.id/v/"


def person_rows(folder: Path, count: int, *, bad_rows: dict[int, str] | None = None) -> Path:
    """`count` distinct person rows from the samples (photos copied along)."""
    with open(SAMPLES / "person.csv", encoding="utf-8") as handle:
        sample = list(csv.DictReader(handle))
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    path = folder / "persons.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(sample[0]))
        writer.writeheader()
        for i in range(count):
            row = dict(sample[i % len(sample)])
            row["name"] = f"{row['name']} {i + 1}"
            if bad_rows and i in bad_rows:
                row["grant_date"] = bad_rows[i]
            photo = SAMPLES / row["photo"]
            (folder / row["photo"]).write_bytes(photo.read_bytes())
            writer.writerow(row)
    return path


@pytest.fixture
def env(tmp_path, fresh_keystore):
    registry = Registry.open(sqlite_url(tmp_path / "registry.sqlite3"))
    yield IssueEnvironment(registry=registry, signer=fresh_keystore.current_signer(PASSPHRASE, now=NOW),
                           chain=[fresh_keystore.root_certificate()], verify_url=URL, now=lambda: NOW, actor="tester")
    registry.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_person_batch_writes_everything_and_records_it(tmp_path, env, fresh_keystore):
    data = person_rows(tmp_path / "in", 12)
    out = tmp_path / "out"
    summary = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=2), env)
    assert (summary.rows, summary.issued, summary.already_issued, summary.rejected, summary.sheets) == (12, 12, 0, 0, 2)
    assert summary.problems == [] and summary.signature == "PAdES-B-B"
    manifest = json.loads((out / "manifest.json").read_text())
    with open(out / "manifest.csv", encoding="utf-8") as handle:
        assert [r["number"] for r in csv.DictReader(handle)] == [m["number"] for m in manifest]
    assert [m["row"] for m in manifest] == list(range(2, 14))
    assert [m["holder"] for m in manifest][0].endswith(" 1")
    assert {m["sheet_file"] for m in manifest} == {"sheets/cards-0001.pdf", "sheets/cards-0002.pdf"}
    trust = fresh_keystore.trust_list()
    for entry in manifest:
        cert = env.registry.get(entry["number"])
        assert cert.status is Status.ACTIVE and cert.dsc_kid == env.signer.kid.hex()
        assert _sha(out / entry["file"]) == entry["sha256"] == cert.pdf_sha256
        assert _sha(out / entry["card_file"]) == entry["card_sha256"] == cert.card_sha256
        opened = open_seal(cert.seal, trust, NOW)
        assert opened.ok and opened.claims.number == cert.number and opened.claims.holder == cert.holder
    first = env.registry.get(manifest[0]["number"])
    status = pyhanko_status((out / manifest[0]["file"]).read_bytes(), fresh_keystore.root_certificate())
    assert status.bottom_line, status.summary()
    report = pdfsig(out / manifest[0]["file"], make_nss_db(tmp_path / "nss", fresh_keystore.root_cert_path))
    assert "Signature is Valid." in report and "Certificate is Trusted." in report
    assert decode_pages(out / manifest[0]["file"]) == [[first.seal]]
    sheet_codes = decode_pages(out / "sheets" / "cards-0002.pdf", dpi=400)
    assert sheet_codes == [[], sorted(env.registry.get(m["number"]).card_seal for m in manifest[10:])]
    log = verify_log(env.registry, trust, fresh_keystore.root_certificate())
    assert log.ok and log.events == 12 and log.checkpoints == 1


def test_rerun_issues_nothing_twice(tmp_path, env):
    data = person_rows(tmp_path / "in", 3)
    out = tmp_path / "out"
    run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    before = {p: _sha(p) for p in out.rglob("*.pdf")}
    again = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    assert (again.issued, again.already_issued, again.problems) == (0, 3, [])
    assert {p: _sha(p) for p in out.rglob("*.pdf")} == before
    assert env.registry.count() == 3 and len(env.registry.events()) == 3


def test_a_sheet_drawn_again_later_shows_each_cards_own_issue_date(tmp_path, env):
    """A lost print sheet is drawn again on the next run: its cards must be the cards issued,
    dated the day they were issued, not the day of the rerun."""
    from dataclasses import replace
    from datetime import timedelta

    from tests.documents import page_texts

    data = person_rows(tmp_path / "in", 2)
    out = tmp_path / "out"
    run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    sheet = out / "sheets" / "cards-0001.pdf"
    assert "Jakarta, 24 November 2026" in page_texts(sheet.read_bytes())[1]
    sheet.unlink()
    later = replace(env, now=lambda: NOW + timedelta(days=3))
    again = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), later)
    assert (again.issued, again.already_issued) == (0, 2)
    back = page_texts(sheet.read_bytes())[1]
    assert back.count("Jakarta, 24 November 2026") == 2 and "27 November 2026" not in back


def test_sheets_drawn_again_on_a_rerun_are_the_sheets_issued(tmp_path, env):
    """Sheets place the pages of the cards just drawn (certgen/render/placed_pages.py); a rerun
    draws the cards again from the registry for a lost or damaged sheet: the same bytes, so the
    sheet is repaired and no problem is reported. Latin-extended names have their own subsets."""
    data = person_rows(tmp_path / "in", 12)
    text = data.read_text(encoding="utf-8").splitlines()
    for i, holder in ((1, "Ñuñez Nguyễn Thị"), (4, "Łukasz Żółć"), (11, "Ömer Çelik")):
        text[i] = holder + text[i][text[i].index(","):]
    data.write_text("\n".join(text) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    first = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=2), env)
    assert (first.issued, first.sheets, first.problems) == (12, 2, [])
    sheets = sorted((out / "sheets").glob("cards-*.pdf"))
    issued = {p.name: p.read_bytes() for p in sheets}
    for pdf in issued.values():  # the cards' pages placed as forms
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            assert all("/C1" in page.obj.Resources.XObject for page in doc.pages)
    sheets[0].unlink()
    sheets[1].write_bytes(issued[sheets[1].name].replace(b"/Trapped /False", b"/Trapped /True "))
    again = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=2), env)
    assert (again.issued, again.already_issued, again.problems) == (0, 12, [])
    assert sorted(again.repaired) == [
        "sheets/cards-0001.pdf: print sheet was missing: drawn again from the registry's records",
        "sheets/cards-0002.pdf: print sheet was different: drawn again from the registry's records"]
    assert {p.name: p.read_bytes() for p in sheets} == issued
    manifest = json.loads((out / "manifest.json").read_text())
    assert {m["sheet_sha256"] for m in manifest} == {hashlib.sha256(pdf).hexdigest() for pdf in issued.values()}


def test_a_cjk_name_is_issued_end_to_end(tmp_path, env, fresh_keystore):
    """Validation, seal, signed certificate, card: a Chinese-Korean name prints through the
    fallback fonts and comes back out of the PDF and the seal unchanged."""
    from tests.documents import page_texts

    data = person_rows(tmp_path / "in", 2)
    with open(data, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[1]["name"] = "王小明 김민수"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "out"
    summary = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    assert summary.issued == 2
    entry = json.loads((out / "manifest.json").read_text(encoding="utf-8"))[1]
    assert entry["holder"] == "王小明 김민수"
    pdf = (out / entry["file"]).read_bytes()
    assert "王小明 김민수" in page_texts(pdf)[0].splitlines()
    assert pyhanko_status(pdf, fresh_keystore.root_certificate()).bottom_line
    assert "王小明 김민수" in page_texts((out / entry["card_file"]).read_bytes())[0]
    assert open_seal(env.registry.get(entry["number"]).seal, fresh_keystore.trust_list()).claims.holder == "王小明 김민수"


def test_rerun_repairs_a_missing_file(tmp_path, env):
    """A certificate PDF deleted after issuing is drawn and signed again on the rerun, byte for
    byte what the registry recorded (it used to be only reported)."""
    data = person_rows(tmp_path / "in", 2)
    out = tmp_path / "out"
    run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    victim = sorted((out / "certificates").glob("*.pdf"))[0]
    victim.unlink()
    again = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    registered = env.registry.get(victim.stem).pdf_sha256
    assert again.problems == [] and again.issued == 0
    assert again.repaired == [f"{victim.stem}: certificate PDF was missing: drawn again, identical to the registry "
                              f"(SHA-256 {registered[:16]}...)"]
    assert _sha(victim) == registered


def test_a_file_that_cannot_be_drawn_again_is_named(tmp_path, env, fresh_keystore):
    """After a key rotation the current signer cannot make the old signature again: the rerun
    names the certificate, leaves the damaged file alone, and the manifest says it differs."""
    from dataclasses import replace

    data = person_rows(tmp_path / "in", 2)
    out = tmp_path / "out"
    run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    victim = sorted((out / "certificates").glob("*.pdf"))[1]
    victim.write_bytes(victim.read_bytes() + b"%% appended after signing\n")
    damaged = _sha(victim)
    old_kid = env.signer.kid.hex()
    fresh_keystore.rotate(PASSPHRASE, now=NOW)
    rotated = replace(env, signer=fresh_keystore.current_signer(PASSPHRASE, now=NOW))
    again = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), rotated)
    assert again.repaired == []
    assert again.problems == [f"{victim.stem}: its certificate PDF is different in {out}, and it was signed by document "
                              f"signer {old_kid}, not by the current one ({rotated.signer.kid.hex()}): restore it from a "
                              "backup, or withdraw and reissue it"]
    assert _sha(victim) == damaged
    entry = {m["number"]: m for m in json.loads((out / "manifest.json").read_text())}[victim.stem]
    assert entry["sha256"] == env.registry.get(victim.stem).pdf_sha256 != damaged
    assert entry["problem"] == "certificate PDF on disk differs from the registry"


def test_any_invalid_row_means_nothing_is_issued(tmp_path, env):
    data = person_rows(tmp_path / "in", 5, bad_rows={3: "31/02/2026"})
    out = tmp_path / "out"
    with pytest.raises(InvalidRows) as err:
        run_batch(BatchOptions(DocumentKind.PERSON, data, out), env)
    assert "persons.csv: row 5, column grant_date: bad date '31/02/2026'" in str(err.value)
    assert env.registry.count() == 0 and not out.exists()


def test_skip_invalid_issues_the_rest_and_lists_the_rejected(tmp_path, env):
    data = person_rows(tmp_path / "in", 5, bad_rows={1: "kemarin"})
    out = tmp_path / "out"
    summary = run_batch(BatchOptions(DocumentKind.PERSON, data, out, skip_invalid=True, workers=1), env)
    assert (summary.issued, summary.rejected) == (4, 1)
    with open(out / "rejected.csv", encoding="utf-8") as handle:
        rejected = list(csv.DictReader(handle))
    assert [(r["row"], r["column"], r["reason"], r["grant_date"]) for r in rejected] == [
        ("3", "grant_date", "bad date 'kemarin': expected YYYY-MM-DD or DD/MM/YYYY", "kemarin")]


@pytest.mark.parametrize("chunk", [4, 13], ids=["four-chunks", "one-full-chunk"])
def test_rows_checked_in_the_workers_give_the_same_errors_as_checked_here(tmp_path, env, monkeypatch, chunk):
    """Validation is spread over the worker processes a chunk at a time; errors, their order
    and duplicates across chunks must not depend on it."""
    from certgen import intake

    monkeypatch.setattr(intake, "CHECK_CHUNK", chunk)  # 13 rows
    data = person_rows(tmp_path / "in", 12, bad_rows={1: "kemarin", 6: "31/02/2026"})
    with open(data, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[9]["photo"] = "photos/tidak-ada.jpg"
    rows.append(dict(rows[2]))  # row 14 repeats row 4, three chunks later
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    found = {}
    for workers in (1, 2):
        with pytest.raises(InvalidRows) as err:
            run_batch(BatchOptions(DocumentKind.PERSON, data, tmp_path / f"out-{workers}", workers=workers), env)
        found[workers] = [str(e) for e in err.value.errors]
    assert found[2] == found[1]
    assert [e.split(": ")[1] for e in found[2]] == ["row 3, column grant_date", "row 8, column grant_date",
                                                   "row 11, column photo", "row 14"]
    assert found[2][-1] == "persons.csv: row 14: duplicate of row 4"
    assert env.registry.count() == 0


@pytest.mark.parametrize("sample, kind", [("product-type5.xlsx", DocumentKind.PRODUCT), ("training.xlsx", DocumentKind.TRAINING)])
def test_other_kinds_issue_from_the_bundled_samples(tmp_path, env, fresh_keystore, sample, kind):
    summary = run_batch(BatchOptions(kind, SAMPLES / sample, tmp_path / "out", workers=2), env)
    assert summary.issued >= 50 and summary.sheets == 0
    pdfs = sorted((tmp_path / "out" / "certificates").glob("*.pdf"))
    assert len(pdfs) == summary.issued
    assert pyhanko_status(pdfs[-1].read_bytes(), fresh_keystore.root_certificate()).bottom_line
    prefix = "P5-" if kind is DocumentKind.PRODUCT else "BT-"
    assert all(p.name.startswith(prefix) for p in pdfs)


# -- a real kill -------------------------------------------------------------------------------

def _cli_env(tmp_path: Path, keys: KeyStore) -> dict[str, str]:
    return {**os.environ, "CERTGEN_DATA": str(tmp_path / "data"), "CERTGEN_KEYS": str(keys.folder),
            "CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode(), "PYTHONPATH": str(ROOT)}


def _issue(cmd_env, data, out, *, kill_after: int | None = None):
    """Run `certgen issue` as a real process; with kill_after, SIGKILL its whole process group
    once that many certificates are active in the registry."""
    proc = subprocess.Popen([sys.executable, "-m", "certgen.cli", "issue", "person", str(data), "-o", str(out),
                             "--workers", "2", "--json"], env=cmd_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    if kill_after is None:
        out_text, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()
        return json.loads(out_text)
    url = sqlite_url(Path(cmd_env["CERTGEN_DATA"]) / "registry.sqlite3")
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:
            registry = Registry.open(url, migrate=False)
            active = registry.count(Status.ACTIVE)
            registry.close()
        except Exception:
            continue
        if active >= kill_after:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"
    return None


def test_killed_batch_resumes_and_issues_every_row_exactly_once(tmp_path, fresh_keystore):
    rows = 120
    data = person_rows(tmp_path / "in", rows)
    out = tmp_path / "out"
    cmd_env = _cli_env(tmp_path, fresh_keystore)
    _issue(cmd_env, data, out, kill_after=15)
    _issue(cmd_env, data, out, kill_after=60)
    summary = _issue(cmd_env, data, out)
    assert summary["issued"] + summary["already_issued"] == rows and summary["problems"] == []
    registry = Registry.open(sqlite_url(tmp_path / "data" / "registry.sqlite3"))
    certs = list(registry.iter_certificates())
    assert len(certs) == rows and all(c.status is Status.ACTIVE for c in certs)
    assert sorted(int(c.number.split("-")[2]) for c in certs) == list(range(1, rows + 1))
    assert len({c.batch_key for c in certs}) == rows
    for cert in certs:  # the registry and the files agree
        assert _sha(out / "certificates" / f"{cert.number}.pdf") == cert.pdf_sha256
        assert _sha(out / "cards" / f"{cert.number}.pdf") == cert.card_sha256
    assert len(list((out / "certificates").glob("*.pdf"))) == rows
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert len(list((out / "sheets").glob("*.pdf"))) == 12
    manifest = json.loads((out / "manifest.json").read_text())
    assert [m["number"] for m in manifest] == sorted(c.number for c in certs)  # input order = allocation order
    report = verify_log(registry, fresh_keystore.trust_list(), fresh_keystore.root_certificate())
    assert report.ok and report.events == rows


def test_a_failing_row_is_a_clear_error_and_a_rerun_finishes(tmp_path, env):
    """A photo that vanished between validation and rendering: the batch stops with a message
    naming the certificate, nothing half-issued is recorded, and a rerun completes the job."""
    from certgen import card_files
    from certgen.errors import CertgenError
    data = person_rows(tmp_path / "in", 4)
    out = tmp_path / "out"
    original = card_files.render_card  # a card is drawn (and signed) by certgen.card_files

    def broken(*args, **kwargs):
        raise OSError("photo file vanished")

    card_files.render_card = broken
    try:
        with pytest.raises(CertgenError, match=r"group 1 \(SK-2026-000001-.*OSError: photo file vanished"):
            run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    finally:
        card_files.render_card = original
    assert env.registry.count(Status.ACTIVE) == 0 and env.registry.count(Status.PENDING) == 4
    summary = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    assert summary.issued == 4 and env.registry.count(Status.ACTIVE) == 4


def test_a_failed_atomic_write_leaves_neither_the_file_nor_a_temporary(tmp_path, monkeypatch):
    """A full disk or an interrupt during the rename: the old file stays, no half-written one remains."""
    from certgen import output
    target = tmp_path / "card.pdf"
    target.write_bytes(b"old")

    def refuse(*_args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(output.os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        output.write_atomic(target, b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.pdf"] and target.read_bytes() == b"old"


def test_write_atomic_takes_the_digest_bytes_carry_and_hashes_plain_ones(tmp_path):
    """HashedBytes (what PdfSealer.complete returns) are not hashed again; other bytes are."""
    import hashlib

    from certgen import output
    plain = b"plain bytes"
    assert output.write_atomic(tmp_path / "a", plain) == hashlib.sha256(plain).hexdigest()
    carried = output.HashedBytes.of(bytearray(b"signed"), "ab" * 32)
    assert output.write_atomic(tmp_path / "b", carried) == "ab" * 32  # trusted: its maker hashed these bytes
    assert (tmp_path / "b").read_bytes() == b"signed"
    assert type(carried[1:]) is bytes and type(carried + b"x") is bytes  # a digest never outlives its bytes
