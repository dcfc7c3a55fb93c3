"""A real browser (Debian's Chromium driven by Playwright) against the service as a real process."""

import os
import shutil
import subprocess
import sys
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
    with live_server(folder / "keys" / "trustlist.json", folder / "keys" / "root.cert.pem",
                     sqlite_url(folder / "registry.sqlite3")) as (base, _port):
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
    withdrawn = certverify("number", number, "--json")
    report = json.loads(withdrawn.stdout)
    assert withdrawn.returncode == 1 and report["verdict"] == "WITHDRAWN"
    assert report["certificate"]["status_reason"] == "dicabut karena penipuan"
    down = certverify("number", number, "--json", registry="http://127.0.0.1:9")
    assert json.loads(down.stdout)["checks"][-1]["reason"] == "registry_unavailable"
