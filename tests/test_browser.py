"""A real browser (Debian's Chromium driven by Playwright) against the service as a real process."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certgen.config import sqlite_url
from tests import photography as photo
from tests.live_server import live_server
from tests.test_verify import issued  # noqa: F401 - module fixture

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).parent.parent
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (scripts/bootstrap.sh installs it)")


@pytest.fixture(scope="module")
def server(issued):  # noqa: F811
    folder = issued["folder"]
    # a generous check bound: a print sheet is rendered and scanned (about 1.1 s of CPU) at the
    # checking children's lower priority, on a host the whole suite shares
    with live_server(folder / "keys" / "trustlist.json", folder / "keys" / "root.cert.pem",
                     sqlite_url(folder / "registry.sqlite3"), env={"CERTVERIFY_CHECK_SECONDS": "60", "CERTVERIFY_TIMEOUT": "120"}) as (base, _port):
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)  # a phone
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert errors == [], errors  # e.g. a Content-Security-Policy violation


def test_scanned_address_shows_the_verdict_and_the_paper(page, server, issued, tmp_path):  # noqa: F811
    cert = issued["registry"].get(issued["numbers"][0])
    code = cert.seal.rsplit("/v/", 1)[1]
    page.goto(f"{server}/v/{code}")
    assert page.locator(".headline").inner_text() == "SAH"
    assert cert.holder in page.locator(".fields").inner_text()
    page.screenshot(path=str(tmp_path / "valid.png"), full_page=True)
    page.click("a.lang")
    assert page.locator(".headline").inner_text() == "VALID"
    assert "Date of issue" in page.locator(".fields").inner_text()


def test_number_lookup_and_uploads(page, server, issued, tmp_path):  # noqa: F811
    page.goto(server + "/")
    page.fill("#number", issued["numbers"][1].lower())
    page.click("form[action='/n'] button")
    assert page.locator(".result").get_attribute("data-verdict") == "VALID"
    page.goto(server + "/")
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(issued["pdfs"][0])
    page.set_input_files("#file", str(pdf))
    page.click("form[action='/upload'] button")
    assert page.locator(".result").get_attribute("data-verdict") == "VALID"
    card = tmp_path / "card.pdf"
    card.write_bytes((issued["folder"] / "out" / "cards" / f"{issued['numbers'][2]}.pdf").read_bytes())
    picture = tmp_path / "card-photo.jpg"
    picture.write_bytes(photo.encode(photo.perspective(photo.render_page(card, 2)), ".jpg", 60))
    page.goto(server + "/")
    page.set_input_files("#file", str(picture))
    page.click("form[action='/upload'] button")
    assert page.locator(".result").get_attribute("data-verdict") == "VALID"
    assert issued["numbers"][2] in page.locator(".number").inner_text()


def test_an_uploaded_print_sheet_shows_each_card_and_its_page(page, server, issued, tmp_path):  # noqa: F811
    """A print sheet (unsigned, several cards) is checked card by card, as `certverify pdf` does."""
    sheet = tmp_path / "cards-0001.pdf"
    sheet.write_bytes((issued["folder"] / "out" / "sheets" / "cards-0001.pdf").read_bytes())
    page.goto(server + "/")
    page.set_input_files("#file", str(sheet))
    page.click("form[action='/upload'] button")
    page.wait_for_selector(".result", timeout=120_000)  # rendering and scanning a sheet: seconds on a busy host
    results = page.locator(".result")
    assert results.count() == 3
    assert {results.nth(i).get_attribute("data-verdict") for i in range(3)} == {"VALID"}
    assert sorted(page.locator(".number strong").all_inner_texts()) == sorted(issued["numbers"])
    assert page.locator(".source").all_inner_texts() == ["cards-0001.pdf halaman 2"] * 3


def test_forged_seal_and_a_report(page, server, issued):  # noqa: F811
    page.goto(f"{server}/v/AAAAAAAAAAAAAAAA")
    assert page.locator(".result").get_attribute("data-verdict") == "INVALID"
    assert page.locator(".headline").inner_text() == "TIDAK SAH"
    page.click("text=Laporkan sertifikat yang mencurigakan >> nth=0")
    page.fill("#message", "Kode QR pada sertifikat ini tidak sah")
    page.click("form[action='/report'] button")
    assert page.locator("#report-id").inner_text().isdigit()
    assert issued["registry"].reports()[0].message == "Kode QR pada sertifikat ini tidak sah"


def test_certverify_asks_the_web_service_for_the_status(server, issued, tmp_path):  # noqa: F811
    """certverify --registry http://... : the seal checked locally, the status from the service."""
    import json
    from tests.conftest import NOW
    folder = issued["folder"]
    base = [sys.executable, "-m", "verify.cli", "--trust-list", str(folder / "keys" / "trustlist.json"),
            "--root", str(folder / "keys" / "root.cert.pem")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def certverify(*args, registry=server):
        return subprocess.run([*base, "--registry", registry, *args], capture_output=True, text=True, env=env)

    pdf = tmp_path / "c.pdf"
    pdf.write_bytes(issued["pdfs"][0])
    result = certverify("pdf", str(pdf), "--json", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0])["verdict"] == "VALID"
    number = issued["numbers"][1]
    issued["registry"].withdraw(number, reason="dicabut karena penipuan", now=NOW, actor="t")
    # a running service learns of a change at its next version check (CERTVERIFY_LIVE_INTERVAL,
    # 1 s): within 5 s, the bound docs/deploy.md promises ("Changes live")
    deadline = time.monotonic() + 5
    while True:
        withdrawn = certverify("number", number, "--json")
        report = json.loads(withdrawn.stdout)
        if report["verdict"] == "WITHDRAWN" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert withdrawn.returncode == 1 and report["verdict"] == "WITHDRAWN"
    assert report["certificate"]["status_reason"] == "dicabut karena penipuan"
    down = certverify("number", number, "--json", registry="http://127.0.0.1:9")
    assert json.loads(down.stdout)["checks"][-1]["reason"] == "registry_unavailable"


@pytest.fixture(scope="module")
def large_photo(issued, tmp_path_factory):  # noqa: F811
    """A 12-megapixel JPEG (4000 x 3000, about 3 MB) of an issued, signed certificate on a desk."""
    folder = tmp_path_factory.mktemp("photo")
    pdf = folder / "certificate.pdf"
    pdf.write_bytes(issued["pdfs"][0])
    path = folder / "certificate-photo.jpg"
    path.write_bytes(photo.encode(photo.photo_12mp(photo.render_page(pdf, 1), page_width=1500), ".jpg", 88))
    return path


@pytest.fixture(scope="module")
def one_mib_server(issued):  # noqa: F811
    """The service refusing uploads over 1 MiB: what it accepts, it got shrunk."""
    folder = issued["folder"]
    with live_server(folder / "keys" / "trustlist.json", folder / "keys" / "root.cert.pem",
                     sqlite_url(folder / "registry.sqlite3"), env={"CERTVERIFY_MAX_UPLOAD": str(2**20)}) as (base, _):
        yield base


def _upload(page, server, path, shrink=True):
    """Upload `path` through the home page: the HTTP status of the answer and the verdict shown."""
    page.goto(server + "/")
    if not shrink:
        page.uncheck("#shrink")
    page.set_input_files("#file", str(path))
    with page.expect_response(lambda r: r.url.endswith("/upload") and r.request.method == "POST") as answer:
        page.click("form[action='/upload'] button")
    page.wait_for_load_state()
    status = answer.value.status
    return status, page.locator(".result").get_attribute("data-verdict") if status == 200 else None


def test_a_large_photo_is_shrunk_in_the_browser_before_upload(server, one_mib_server, large_photo, page, browser):
    """A 3 MB photo reaches a server that refuses anything over 1 MiB, and reads VALID: the
    browser sent a copy 2000 pixels on its longest side (about 0.5 MB), with no console error
    (the page fixture: no Content-Security-Policy violation). With the box unticked the same
    server refuses the original (413); the other server reads the original VALID too."""
    assert large_photo.stat().st_size > 2_500_000
    page.goto(one_mib_server + "/")
    assert page.locator("[data-shrink-option]").is_visible() and page.locator("#shrink").is_checked()
    assert _upload(page, one_mib_server, large_photo) == (200, "VALID")
    assert _upload(page, server, large_photo, shrink=False) == (200, "VALID")
    context = browser.new_context()  # the 413 is a console error, which the page fixture refuses
    try:
        assert _upload(context.new_page(), one_mib_server, large_photo, shrink=False) == (413, None)
    finally:
        context.close()


def test_without_javascript_the_photo_is_sent_as_it_is(server, one_mib_server, large_photo, browser):
    context = browser.new_context(java_script_enabled=False)
    try:
        plain = context.new_page()
        plain.goto(server + "/")
        assert not plain.locator("[data-shrink-option]").is_visible()
        plain.set_input_files("#file", str(large_photo))
        plain.click("form[action='/upload'] button")
        assert plain.locator(".result").get_attribute("data-verdict") == "VALID"
        plain.goto(one_mib_server + "/")
        plain.set_input_files("#file", str(large_photo))
        with plain.expect_response(lambda r: r.url.endswith("/upload")) as answer:
            plain.click("form[action='/upload'] button")
        assert answer.value.status == 413  # the whole 3 MB went
    finally:
        context.close()
