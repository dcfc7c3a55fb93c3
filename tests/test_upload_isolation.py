"""Uploads are checked in child processes with a wall-clock bound (verify.isolation): a hostile
file that keeps pyHanko busy gets INDETERMINATE `check_timed_out`, its process is killed and its
slot is free again; print sheets get one result per card, as on the command line."""

import copy
import json
import operator
import os
import subprocess
import sys
import threading
import time

import httpx
import pytest

from certgen.config import sqlite_url
from tests.hostile_pdfs import many_revisions
from tests.live_server import live_server
from tests.test_verify import issued, verifier  # noqa: F401 - module fixture
from verify.isolation import CheckCrashed, CheckTimedOut, Sandbox, SandboxPool
from verify.report import Reason


# -- the sandbox itself -----------------------------------------------------------------------

def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def _processes_with(argument: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if argument.encode() in f.read().split(b"\0") and _alive(int(entry)):
                        found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.fixture
def pool():
    pool = SandboxPool(1, seconds=1.0)
    yield pool
    pool.close()


def test_an_overrunning_call_is_killed_at_its_bound_and_the_slot_works_again(pool):
    assert pool.run(operator.add, 2, 3) == 5  # warm: the child is started
    (first,) = pool.pids()
    started = time.monotonic()
    with pytest.raises(CheckTimedOut, match="longer than 1 s"):
        pool.run(time.sleep, 30)
    assert time.monotonic() - started < 5
    assert not _alive(first) and pool.killed == 1
    (second,) = pool.pids()
    assert second != first and pool.run(operator.mul, 6, 7) == 42


def test_the_child_asks_the_parent_for_what_the_check_needs(pool):
    """A callable argument (a PDF check's `registry_time`) stays in the parent and is asked."""
    asked = []
    assert pool.run(operator.call, lambda *a: asked.append(a) or "from the parent", "x", 1) == "from the parent"
    assert asked == [("x", 1)]


def test_exceptions_travel_back_and_a_dying_child_is_a_crash(pool):
    with pytest.raises(ValueError, match="invalid literal"):
        pool.run(int, "not a number")
    with pytest.raises(CheckCrashed, match="died"):
        pool.run(os._exit, 3)
    assert pool.run(operator.add, 1, 1) == 2


def test_a_child_cannot_take_the_machine_s_memory(pool):
    """A file that makes a library allocate without end meets the child's address-space limit,
    and the check is a crash (the service's INDETERMINATE `check_crashed` verdict), not a
    MemoryError that reached the web's error page as an HTTP 500; so is a recursion limit."""
    with pytest.raises(CheckCrashed, match="ran out of memory"):
        pool.run(bytearray, 3 * 2**30)
    assert pool.run(len, bytearray(10)) == 10  # the same child goes on
    with pytest.raises(CheckCrashed, match="nested too deeply"):  # a parser recursing past the limit
        pool.run(json.loads, "[" * 100_000)  # (a standard-library callable: the child imports nothing slow)


def test_the_whole_process_group_is_killed(pool):
    """poppler's tools run as the child's children: they go with it."""
    marker = "31.4159"
    with pytest.raises(CheckTimedOut):
        pool.run(subprocess.run, ["sleep", marker])
    for _ in range(50):
        if not _processes_with(marker):
            break
        time.sleep(0.05)
    assert _processes_with(marker) == []


def test_a_sandbox_keeps_certificates_across_the_pipe(issued):  # noqa: F811
    """Trust lists hold `cryptography` certificates, which do not pickle themselves."""
    sandbox = Sandbox()
    try:
        trust = issued["keys"].trust_list()
        copied = sandbox.call(10, copy.copy, trust)
        assert copied == trust and copied is not trust
    finally:
        sandbox.stop()


# -- a real server ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(issued):  # noqa: F811
    folder = issued["folder"]
    # 3 s: the slow file takes pyHanko more than 10 s here, a genuine PDF about 5 to 100 ms
    env = {"CERTVERIFY_CHECK_SECONDS": "3", "CERTVERIFY_UPLOAD_SLOTS": "10", "CERTVERIFY_TIMEOUT": "30"}
    with live_server(folder / "keys" / "trustlist.json", folder / "keys" / "root.cert.pem",
                     sqlite_url(folder / "registry.sqlite3"), env=env) as (base, _port):
        yield base


@pytest.fixture(scope="module")
def slow_pdf(issued):  # noqa: F811
    return many_revisions(issued["pdfs"][0])


def test_the_slow_file_is_slow(issued, slow_pdf, tmp_path):  # noqa: F811
    """Without a bound, the hostile file keeps pyHanko busy (more than 10 s here), so a web
    thread, which has no timer, would have held its slot that long and more. Checked in a fresh
    process, whose interval timer no other test or plugin holds (time_bound leaves a running
    timer alone), against a 2 s bound: a margin of five for faster machines."""
    (tmp_path / "slow.pdf").write_bytes(slow_pdf)
    child = f"""
import dataclasses
from tests.test_verify import NOW
from verify.pdf import check_pdf
from verify.pdf_structure import DEFAULT_LIMITS
from certgen.keys import KeyStore
store = KeyStore({str(issued["keys"].folder)!r})
result = check_pdf(open({str(tmp_path / "slow.pdf")!r}, "rb").read(), trust=store.trust_list(), root=store.root_certificate(),
                   now=NOW, limits=dataclasses.replace(DEFAULT_LIMITS, seconds=2.0))
print(result.checks[0].reason.value)
"""
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [Reason.PDF_TIMED_OUT.value], done.stdout + done.stderr


def _upload(base: str, data: bytes, name: str = "file.pdf", path: str = "/api/v1/upload", **params) -> httpx.Response:
    return httpx.post(base + path, files={"file": (name, data, "application/pdf")}, params=params, timeout=60)


def test_ten_slow_uploads_each_time_out_free_their_slots_and_the_page_answers(server, issued, slow_pdf):  # noqa: F811
    good = issued["registry"].get(issued["numbers"][0])
    code = good.seal.rsplit("/v/", 1)[1]
    assert _upload(server, issued["pdfs"][0]).json()[0]["verdict"] == "VALID"  # warm: children started
    answers: list[httpx.Response] = []
    pages: list[tuple[float, int]] = []
    running = threading.Event()

    def slow() -> None:
        answers.append(_upload(server, slow_pdf, "slow.pdf"))

    def browse() -> None:
        while running.is_set():
            started = time.monotonic()
            status = httpx.get(f"{server}/v/{code}", timeout=30).status_code
            pages.append((time.monotonic() - started, status))
            time.sleep(0.05)

    threads = [threading.Thread(target=slow) for _ in range(10)]
    running.set()
    reader = threading.Thread(target=browse)
    reader.start()
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    took = time.monotonic() - started
    running.clear()
    reader.join(30)
    assert len(answers) == 10 and {a.status_code for a in answers} == {200}
    for answer in answers:
        (report,) = answer.json()
        check = report["checks"][0]
        assert report["verdict"] == "INDETERMINATE" and (check["reason"], check["outcome"]) == ("check_timed_out", "indeterminate")
        assert "longer than 3 s" in check["detail"]
    assert pages and {status for _, status in pages} == {200}
    print(f"10 slow uploads answered in {took:.1f} s; page: {len(pages)} answers, slowest {max(p for p, _ in pages):.2f} s")
    # every slot is free again at once: a genuine file is checked, not refused as busy
    after = _upload(server, issued["pdfs"][1])
    assert after.status_code == 200 and after.json()[0]["verdict"] == "VALID"


def test_the_timed_out_verdict_is_worded_in_both_languages(server, slow_pdf):
    indonesian = _upload(server, slow_pdf, path="/upload", lang="id")
    english = _upload(server, slow_pdf, path="/upload", lang="en")
    assert indonesian.status_code == english.status_code == 200
    assert "melewati batas waktu" in indonesian.text and "check_timed_out" in indonesian.text
    assert "took too long and was stopped" in english.text


# -- print sheets -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sheet_server(issued):  # noqa: F811
    """A generous bound: poppler renders a sheet's two A4 pages at 300 dpi first (about 1.1 s of
    CPU here), at the children's lower priority, on a host the whole suite shares."""
    folder = issued["folder"]
    with live_server(folder / "keys" / "trustlist.json", folder / "keys" / "root.cert.pem",
                     sqlite_url(folder / "registry.sqlite3"), env={"CERTVERIFY_CHECK_SECONDS": "60", "CERTVERIFY_TIMEOUT": "120"}) as (base, _port):
        yield base


def test_a_print_sheet_gets_one_result_per_card_naming_its_page(sheet_server, issued):  # noqa: F811
    server = sheet_server
    sheet = (issued["folder"] / "out" / "sheets" / "cards-0001.pdf").read_bytes()
    reports = _upload(server, sheet, "cards-0001.pdf").json()
    assert sorted(r["claims"]["number"] for r in reports) == sorted(issued["numbers"])
    for report in reports:
        assert report["verdict"] == "VALID" and report["source"] == "cards-0001.pdf page 2"
        assert [c["reason"] for c in report["checks"]][:2] == ["barcode_found", "seal_valid"]
        assert "card_current" in [c["reason"] for c in report["checks"]]
    page = _upload(server, sheet, "cards-0001.pdf", path="/upload", lang="id")
    assert page.text.count('data-verdict="VALID"') == 3 and "pdf_not_signed" not in page.text
    assert "cards-0001.pdf halaman 2" in page.text  # the page named in the page's own language
    english = _upload(server, sheet, "cards-0001.pdf", path="/upload", lang="en")
    assert "cards-0001.pdf page 2" in english.text


def test_a_print_sheet_that_cannot_be_rendered_says_why(sheet_server):
    """Anyone can write the keyword into a PDF: poppler's refusal is a verdict, not an error page."""
    fake = b"%PDF-1.4\n% (certgen-print-sheet)\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    (report,) = _upload(sheet_server, fake, "fake.pdf").json()
    assert report["verdict"] == "INDETERMINATE"
    assert report["checks"][0]["reason"] == "image_unreadable" and "cannot be rendered" in report["checks"][0]["detail"]


def test_the_bound_is_read_from_the_environment_with_a_clear_error():
    from certgen.errors import ConfigError
    from verify.web.config import WebConfig

    assert WebConfig.from_env({}).check_seconds == 10.0
    assert WebConfig.from_env({"CERTVERIFY_CHECK_SECONDS": "2.5"}).check_seconds == 2.5
    with pytest.raises(ConfigError, match=r"CERTVERIFY_CHECK_SECONDS='0': at least 0.1 is required"):
        WebConfig.from_env({"CERTVERIFY_CHECK_SECONDS": "0"})
    with pytest.raises(ConfigError, match=r"CERTVERIFY_CHECK_SECONDS='soon' is not a number"):
        WebConfig.from_env({"CERTVERIFY_CHECK_SECONDS": "soon"})
