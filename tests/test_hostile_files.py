"""Hostile files outside the PDF signature: images (degenerate, huge, decoder failures), print
PDFs for `scan` (page count, page size), a folder check that outlives any one file (a worker
crash included), and trust lists or roots that are missing, altered, foreign or nested."""

from __future__ import annotations

import functools
import io
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from reportlab.pdfgen.canvas import Canvas

from certgen.errors import TrustListError
from certgen.trust import TrustList
from tests import hostile_pdfs as hostile
from tests.test_certverify_cli import run  # noqa: F401 - the CLI fixture
from tests.test_verify import issued, verifier  # noqa: F401 - the module fixture
from verify import cli as cli_module
from verify import pdf_pages, scan as scan_module
from verify.cli import main as certverify
from verify.formats import report_json
from verify.report import Outcome, Reason, Verdict
from verify.scan import ImageError, load_grey
from verify.service import Verifier


def _png(width: int, height: int, value: int = 255) -> bytes:
    return cv2.imencode(".png", np.full((height, width), value, np.uint8))[1].tobytes()


def _pdf(pages: int, size: tuple[float, float] = (595.27, 841.89)) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=size)
    for number in range(pages):
        canvas.drawString(0, 0, f"{number}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# -- images -----------------------------------------------------------------------------------

def _png_header(side: int) -> bytes:
    """A PNG whose header claims `side` x `side` pixels, with a few bytes of pixel data."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + pixels + chunk(b"IEND", b"")


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A 64x64 JPEG whose frame header (SOF0) is rewritten to declare `width` x `height`."""
    data = bytearray(cv2.imencode(".jpg", np.full((64, 64), 200, np.uint8))[1].tobytes())
    at = data.index(b"\xff\xc0") + 5
    data[at:at + 4] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


@functools.cache
def hostile_images() -> dict[str, bytes]:
    """Every hostile image of this file by name (tests/test_scan.py runs them through both
    paths of the scanner: the reduced first pass must give what the full path gives)."""
    webp = cv2.imencode(".webp", np.full((64, 64), 255, np.uint8))[1].tobytes()
    return {
        **{f"png {w}x{h}": _png(w, h) for w, h in [(1, 1), (1, 500), (500, 1), (20, 20), (20, 4000), (21, 21)]},
        "png header 100000 square": _png_header(100_000),
        "png header 7999 square": _png_header(7_999),
        "webp container declaring more than the file": webp[:4] + (len(webp) * 1000).to_bytes(4, "little") + webp[8:],
        "jpeg 9000x6000 blank": cv2.imencode(".jpg", np.full((6000, 9000), 255, np.uint8),
                                             [cv2.IMWRITE_JPEG_QUALITY, 50])[1].tobytes(),
        "jpeg of 64x64 declaring 60000x60000": _jpeg_declaring(60_000, 60_000),
        "jpeg of 64x64 declaring 4000x3000": _jpeg_declaring(4000, 3000),
        "jpeg of 64x64 declaring 8000x6": _jpeg_declaring(8000, 6),
    }


@pytest.mark.parametrize("width, height", [(1, 1), (1, 500), (500, 1), (20, 20), (20, 4000)])
def test_degenerate_images_are_indeterminate_too_small(width, height):
    report, = Verifier(TrustList()).verify_image(_png(width, height), "tiny.png")
    check = report.checks[0]
    assert report.verdict is Verdict.INDETERMINATE
    assert (check.outcome, check.reason) == (Outcome.INDETERMINATE, Reason.IMAGE_TOO_SMALL)
    assert f"{width}x{height} pixels" in check.detail


def test_smallest_accepted_image_is_scanned_without_crashing():
    report, = Verifier(TrustList()).verify_image(_png(21, 21))
    assert report.checks[0].reason is Reason.NO_BARCODE


def test_large_jpeg_is_decoded_reduced_in_the_dct():
    """A 9000x6000 JPEG (54 MP) is decoded at half size by libjpeg, then worked at 4000."""
    image = np.full((6000, 9000), 255, np.uint8)
    data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 50])[1].tobytes()
    assert scan_module._reduced_flag("JPEG", 9000) == cv2.IMREAD_REDUCED_GRAYSCALE_2
    assert scan_module._reduced_flag("JPEG", 17000) == cv2.IMREAD_REDUCED_GRAYSCALE_4
    assert scan_module._reduced_flag("PNG", 9000) == cv2.IMREAD_GRAYSCALE
    assert load_grey(data).shape == (2667, 4000)


def test_scan_gives_up_when_the_budget_is_spent(monkeypatch):
    monkeypatch.setattr(scan_module, "BUDGET_S", 0.0)
    report, = Verifier(TrustList()).verify_image(_png(300, 300))
    assert report.checks[0].reason is Reason.NO_BARCODE and "gave up" in report.checks[0].detail


def test_a_decoder_that_raises_gives_scan_failed_with_the_exception_in_json_only(monkeypatch):
    def broken(image):
        raise RuntimeError("decoder state corrupted \x1b[2J")
    monkeypatch.setattr(scan_module, "_zxing", broken)
    report, = Verifier(TrustList()).verify_image(_png(300, 300))
    check = report.checks[0]
    assert report.verdict is Verdict.INDETERMINATE and check.reason is Reason.SCAN_FAILED
    assert "RuntimeError" not in check.detail
    data = report_json(report)["checks"][0]
    assert data["technical"] == "RuntimeError: decoder state corrupted ?[2J"  # no terminal escapes


@pytest.mark.parametrize("side", [100_000, 7_999])
def test_image_header_declaring_too_many_pixels_is_refused_before_decoding(side):
    """A PNG header claiming 100,000 or 7,999 pixels square (PNG decodes whole: at most 36
    megapixels): refused from the header alone, the pixels never decoded."""
    with pytest.raises(ImageError) as caught:
        load_grey(_png_header(side))
    assert caught.value.kind == "too_large"


# -- print PDFs for scan ----------------------------------------------------------------------

def test_scan_refuses_a_pdf_with_more_pages_than_a_sheet_before_rendering(monkeypatch):
    commands = []
    real = pdf_pages._run

    def spy(command, data, timeout):
        commands.append(command[0])
        return real(command, data, timeout)
    monkeypatch.setattr(pdf_pages, "_run", spy)
    report, = Verifier(TrustList()).verify_print_pdf(_pdf(500), "many.pdf")
    check = report.checks[0]
    assert report.verdict is Verdict.INDETERMINATE and check.reason is Reason.PDF_TOO_LARGE
    assert "has 500 pages" in check.detail
    assert commands == ["pdfinfo"]  # pdftoppm never ran


def test_a_one_point_page_gives_too_small_not_a_crash():
    report, = Verifier(TrustList()).verify_print_pdf(_pdf(1, (1, 1)), "dot.pdf")
    assert report.verdict is Verdict.INDETERMINATE
    assert report.checks[0].reason is Reason.IMAGE_TOO_SMALL and report.source == "dot.pdf page 1"


def test_a_huge_page_is_rendered_at_a_lower_resolution():
    pages = pdf_pages.page_images(_pdf(1, (14_400, 14_400)))  # 200 inches: 60,000 pixels at 300 dpi
    image = cv2.imdecode(np.frombuffer(pages[0], np.uint8), cv2.IMREAD_GRAYSCALE)
    assert max(image.shape) <= pdf_pages.MAX_SIDE


# -- folder checks --------------------------------------------------------------------------------

def _folder(issued, tmp_path, extra: dict[str, bytes]) -> Path:  # noqa: F811
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for i, pdf in enumerate(issued["pdfs"]):
        (folder / f"{i}.pdf").write_bytes(pdf)
    for name, data in extra.items():
        (folder / name).write_bytes(data)
    return folder


def test_folder_with_hostile_files_gives_every_file_its_line(run, issued, tmp_path):  # noqa: F811
    pdf = issued["pdfs"][0]
    folder = _folder(issued, tmp_path, {
        "a-usf.pdf": hostile.UPDATE_ATTACKS["usf_contents_missing"](pdf),
        "b-swa.pdf": hostile.swa_moved_tail(pdf),
        "c-field.pdf": hostile.empty_signature_field(pdf),
        "d-junk.pdf": b"%PDF-1.7\n" + os.urandom(3000),
    })
    result = run("pdf", str(folder), "--json", "--workers", "2")
    lines = [json.loads(line) for line in result.output.splitlines()]
    by_name = {Path(line["source"]).name: line for line in lines[:-1]}
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert {name: line["checks"][0]["reason"] for name, line in by_name.items()} == {
        "0.pdf": "pdf_signature_valid", "1.pdf": "pdf_signature_valid", "2.pdf": "pdf_signature_valid",
        "a-usf.pdf": "pdf_signature_malformed", "b-swa.pdf": "pdf_unreadable",
        "c-field.pdf": "pdf_modified_after_signing", "d-junk.pdf": "pdf_unreadable"}
    assert lines[-1]["summary"]["files"] == 7


def _crash_on_marker(original):
    def verify_pdf(self, data, source=None):
        if b"CRASH-THE-WORKER" in data:
            os._exit(70)  # what a segfault in a C library does to the process
        if b"RAISE-IN-VERIFY" in data:
            raise RuntimeError("a bug in the verifier")
        return original(self, data, source)
    return verify_pdf


@pytest.mark.parametrize("workers", ["1", "2"])
def test_folder_check_outlives_a_crashing_worker_and_a_raising_check(run, issued, tmp_path, monkeypatch, workers):  # noqa: F811
    monkeypatch.setattr(Verifier, "verify_pdf", _crash_on_marker(Verifier.verify_pdf))
    pdf = issued["pdfs"][0]
    extra = {"b-raises.pdf": pdf + b"% RAISE-IN-VERIFY\n"}
    if workers == "2":
        extra["a-crashes.pdf"] = pdf + b"% CRASH-THE-WORKER\n"
    folder = _folder(issued, tmp_path, extra)
    result = run("pdf", str(folder), "--json", "--workers", workers)
    lines = [json.loads(line) for line in result.output.splitlines()]
    by_name = {Path(line["source"]).name: line for line in lines[:-1]}
    assert sorted(by_name) == sorted(["0.pdf", "1.pdf", "2.pdf", *extra])
    assert [by_name[f"{i}.pdf"]["verdict"] for i in range(3)] == ["VALID"] * 3
    raised = by_name["b-raises.pdf"]["checks"][0]
    assert (raised["outcome"], raised["reason"]) == ("indeterminate", "check_crashed")
    assert raised["technical"] == "RuntimeError: a bug in the verifier"
    if workers == "2":
        crashed = by_name["a-crashes.pdf"]
        assert crashed["verdict"] == "INDETERMINATE" and crashed["checks"][0]["reason"] == "check_crashed"
        assert "process checking this file died" in crashed["checks"][0]["detail"]
    assert lines[-1]["summary"]["files"] == len(by_name)


def test_a_file_that_vanishes_is_indeterminate_file_unreadable(issued, tmp_path):  # noqa: F811
    cli_module._worker["verifier"] = verifier(issued, registry=False)
    try:
        report = cli_module._verify_pdf_file(str(tmp_path / "gone.pdf"))
    finally:
        cli_module._worker.clear()
    assert report["verdict"] == "INDETERMINATE" and report["checks"][0]["reason"] == "file_unreadable"


# -- trust lists and roots --------------------------------------------------------------------

def test_trust_list_nested_100000_deep_is_a_trust_list_error(issued):  # noqa: F811
    root = issued["keys"].root_certificate()
    for data in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
        with pytest.raises(TrustListError, match="nested more than 32 levels deep"):
            TrustList.load_signed(data, root)


def test_trust_list_too_large_is_refused(issued):  # noqa: F811
    with pytest.raises(TrustListError, match="at most 4 MiB"):
        TrustList.load_signed(b" " * (5 * 1024 * 1024), issued["keys"].root_certificate())


def _bad_trust(kind: str, issued, tmp_path, keystore) -> tuple[str, str, str]:  # noqa: F811
    """(trust list path, root path, words of the one-line error) for each kind of breakage."""
    keys = issued["folder"] / "keys"
    trust, root = keys / "trustlist.json", keys / "root.cert.pem"
    if kind == "missing trust list":
        return str(tmp_path / "none.json"), str(root), "cannot read the trust list"
    if kind == "missing root":
        return str(trust), str(tmp_path / "none.pem"), "cannot read the root certificate"
    if kind == "altered trust list":
        envelope = json.loads(trust.read_text())
        envelope["payload"] = envelope["payload"][:40] + ("A" if envelope["payload"][40] != "A" else "B") + envelope["payload"][41:]
        altered = tmp_path / "altered.json"
        altered.write_text(json.dumps(envelope))
        return str(altered), str(root), "does not verify with the root certificate"
    if kind == "altered root":
        broken = tmp_path / "root.pem"
        broken.write_bytes(root.read_bytes().replace(b"MII", b"MIX", 1))
        return str(trust), str(broken), "cannot read the root certificate"
    if kind == "foreign root":
        return str(trust), str(keystore.root_cert_path), "does not verify with the root certificate"
    if kind == "nested trust list":
        nested = tmp_path / "nested.json"
        nested.write_bytes(b"[" * 100_000 + b"]" * 100_000)
        return str(nested), str(root), "nested more than 32 levels deep"
    raise ValueError(kind)


KINDS = ["missing trust list", "missing root", "altered trust list", "altered root", "foreign root", "nested trust list"]


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["trustlist"], ["pdf", "--workers", "2"]])
@pytest.mark.parametrize("kind", KINDS)
def test_bad_trust_list_or_root_is_one_clear_line(issued, tmp_path, keystore, kind, command):  # noqa: F811
    trust, root, words = _bad_trust(kind, issued, tmp_path, keystore)
    folder = _folder(issued, tmp_path, {})
    args = [*command, str(folder)] if command[0] == "pdf" else command
    result = CliRunner().invoke(certverify, ["--trust-list", trust, "--root", root, *args])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a ClickException, not an uncaught error
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0], result.output


# -- reason codes that had no test of their own (docs/verification.md lists them all) ------------

def test_a_qr_code_that_is_not_a_seal_is_not_a_seal():
    from certgen.barcode import qr_matrix
    dark = np.asarray(qr_matrix("https://example.com/hello").dark, dtype=bool)
    image = cv2.resize(np.pad(np.where(dark, 0, 255).astype(np.uint8), 4, constant_values=255), None, fx=8, fy=8,
                       interpolation=cv2.INTER_NEAREST)
    report, = Verifier(TrustList()).verify_image(cv2.imencode(".png", image)[1].tobytes())
    assert report.verdict is Verdict.INVALID
    assert [c.reason for c in report.checks] == [Reason.BARCODE_FOUND, Reason.NOT_A_SEAL]


def test_a_signed_pdf_without_a_seal_is_pdf_no_seal(issued):  # noqa: F811
    from datetime import date

    from certgen.barcode import qr_matrix
    from certgen.render.document import SIGNATURE_BOX, render_certificate
    from certgen.sign import PdfSealer
    from tests.documents import person, templates_and_fonts
    templates, fonts = templates_and_fonts()
    unsigned = render_certificate(templates, fonts, person(), issued["numbers"][0], qr_matrix("x"), date(2026, 11, 24))
    signed = PdfSealer(issued["signer"], [issued["keys"].root_certificate()]).sign(unsigned, SIGNATURE_BOX)
    report = verifier(issued).verify_pdf(signed)
    assert report.verdict is Verdict.INVALID
    assert [c.reason for c in report.checks] == [Reason.PDF_SIGNATURE_VALID, Reason.PDF_NO_SEAL]


def test_a_number_reserved_but_never_issued_is_not_issued(tmp_path, now):
    from datetime import date

    from certgen.config import sqlite_url
    from certgen.model import Series
    from certgen.registry import NewCertificate, Registry
    from verify.status import RegistryStatus
    registry = Registry.open(sqlite_url(tmp_path / "r.sqlite3"))
    number = registry.reserve([NewCertificate(Series.PERSON, "Ani", "S", date(2026, 11, 24), date(2029, 11, 23), {})],
                              now=now)[0].number
    report = Verifier(TrustList(), RegistryStatus(registry, lambda: now), now=lambda: now).verify_number(number)
    registry.close()
    assert report.verdict is Verdict.INVALID and report.checks[-1].reason is Reason.STATUS_NOT_ISSUED


# -- the web upload: a verdict, never HTTP 500 ---------------------------------------------------

def test_hostile_uploads_get_a_verdict_not_a_server_error(issued):  # noqa: F811
    from datetime import date

    from starlette.testclient import TestClient

    from certgen.barcode import qr_matrix
    from certgen.config import sqlite_url
    from certgen.render.document import render_certificate
    from tests.conftest import NOW
    from tests.documents import person, templates_and_fonts
    from verify.web.app import create_app
    from verify.web.config import WebConfig

    folder = issued["folder"]
    config = WebConfig(trust_list=folder / "keys" / "trustlist.json", root=folder / "keys" / "root.cert.pem",
                       registry_url=sqlite_url(folder / "registry.sqlite3"), max_upload_bytes=2 * 1024 * 1024,
                       rate_limit_per_minute=0)
    cert = issued["registry"].get(issued["numbers"][0])
    templates, fonts = templates_and_fonts()
    unsigned = render_certificate(templates, fonts, person(), cert.number, qr_matrix(cert.seal), date(2026, 11, 24))
    look_alike = hostile.resigned_look_alike("ed25519", unsigned, issued["keys"].root_certificate(),
                                             issued["signer"].certificate, cert.seal)
    uploads = {"look-alike.pdf": (look_alike, "INVALID", "pdf_signer_untrusted"),
               "usf.pdf": (hostile.UPDATE_ATTACKS["usf_byte_range_null"](issued["pdfs"][0]), "INVALID", "pdf_signature_malformed"),
               "line.png": (_png(1, 500), "INDETERMINATE", "image_too_small")}
    with TestClient(create_app(config, now=lambda: NOW), base_url="http://testserver") as client:
        for name, (data, verdict, reason) in uploads.items():
            response = client.post("/api/v1/upload", files={"file": (name, data)})
            assert response.status_code == 200, (name, response.text[:200])
            report, = response.json()
            assert (report["verdict"], report["checks"][0]["reason"]) == (verdict, reason), name
            page = client.post("/upload", files={"file": (name, data)})
            assert page.status_code == 200 and "Traceback" not in page.text



def test_png_chunk_declaring_more_than_the_file_is_refused_before_decoding(monkeypatch):
    """Fuzzing finding (fuzz_scan, docs/benchmarks.md): a 303-byte PNG whose IDAT chunk claims
    536,871,158 bytes made OpenCV 5.0 allocate them (610 MB peak for one scan)."""
    import struct
    import zlib
    ihdr = struct.pack(">IIBBBBB", 110, 110, 8, 0, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
            + struct.pack(">I", 536_871_158) + b"IDAT" + zlib.compress(b"\0" * 200))
    decoded = []
    monkeypatch.setattr(scan_module.cv2, "imdecode", lambda *args: decoded.append(args))
    report, = Verifier(TrustList()).verify_image(data)
    check = report.checks[0]
    assert report.verdict is Verdict.INDETERMINATE and check.reason is Reason.IMAGE_UNREADABLE
    assert "'IDAT' chunk declares 536871158 bytes past the end of the file" in check.detail
    assert decoded == []  # OpenCV never saw it


def test_webp_container_declaring_more_than_the_file_is_refused():
    data = cv2.imencode(".webp", np.full((64, 64), 255, np.uint8))[1].tobytes()
    lying = data[:4] + (len(data) * 1000).to_bytes(4, "little") + data[8:]
    report, = Verifier(TrustList()).verify_image(lying)
    assert report.checks[0].reason is Reason.IMAGE_UNREADABLE and "container declares" in report.checks[0].detail
