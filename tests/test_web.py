"""The web service through its HTTP interface (httpx against the ASGI app)."""

import re

import pytest
from starlette.testclient import TestClient

from certgen.config import sqlite_url
from certgen.numbers import check_character
from tests import photography as photo
from tests.test_verify import issued  # noqa: F401 - module fixture
from tests.conftest import NOW
from verify.web.app import create_app
from verify.web.config import WebConfig


@pytest.fixture
def client(issued):  # noqa: F811
    folder = issued["folder"]
    config = WebConfig(trust_list=folder / "keys" / "trustlist.json", root=folder / "keys" / "root.cert.pem",
                       registry_url=sqlite_url(folder / "registry.sqlite3"), max_upload_bytes=2 * 1024 * 1024,
                       rate_limit_per_minute=0)
    app = create_app(config, now=lambda: NOW)
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def _code(seal: str) -> str:
    return seal.rsplit("/v/", 1)[1]


def test_seal_page_in_indonesian_and_english(client, issued):  # noqa: F811
    cert = issued["registry"].get(issued["numbers"][0])
    page = client.get(f"/v/{_code(cert.seal)}")
    assert page.status_code == 200 and 'data-verdict="VALID"' in page.text
    assert "SAH" in page.text and cert.holder in page.text and "Tanggal Terbit" in page.text
    english = client.get(f"/v/{_code(cert.seal)}?lang=en")
    assert "VALID" in english.text and "Date of issue" in english.text and english.cookies.get("lang") == "en"
    # privacy: nothing the paper does not show
    assert cert.record["photo"] not in page.text and cert.record["photo_sha256"] not in page.text
    assert cert.pdf_sha256 not in page.text and cert.batch_key not in page.text


def test_every_verdict_has_its_own_state(client, issued):  # noqa: F811
    numbers = issued["numbers"]
    forged = client.get("/v/AAAAAAAAAAAAAAAA")
    assert 'data-verdict="INVALID"' in forged.text and "TIDAK SAH" in forged.text
    unknown = client.get("/n", params={"number": "SK-2026-000999-" + check_character("SK2026000999")})
    assert 'data-verdict="UNKNOWN"' in unknown.text and "TIDAK TERDAFTAR" in unknown.text
    typo = client.get("/n", params={"number": numbers[0][:-1] + ("X" if numbers[0][-1] != "X" else "Y")})
    assert 'data-verdict="INVALID"' in typo.text
    issued["registry"].suspend(numbers[1], reason="pemeriksaan pengaduan", now=NOW, actor="t")
    try:
        suspended = client.get("/n", params={"number": numbers[1]})
        assert 'data-verdict="SUSPENDED"' in suspended.text and "DIBEKUKAN" in suspended.text
        assert "pemeriksaan pengaduan" in suspended.text
    finally:
        issued["registry"].reinstate(numbers[1], reason="selesai", now=NOW, actor="t")


def test_uploads(client, issued, tmp_path):  # noqa: F811
    pdf = client.post("/upload", files={"file": ("cert.pdf", issued["pdfs"][0], "application/pdf")})
    assert 'data-verdict="VALID"' in pdf.text
    card = tmp_path / "card.pdf"
    card.write_bytes((issued["folder"] / "out" / "cards" / f"{issued['numbers'][2]}.pdf").read_bytes())
    picture = photo.encode(photo.rotate(photo.render_page(card, 2), 15), ".jpg", 70)
    api = client.post("/api/v1/upload", files={"file": ("card.jpg", picture, "image/jpeg")})
    assert api.status_code == 200 and [r["verdict"] for r in api.json()] == ["VALID"]
    junk = client.post("/upload", files={"file": ("x.txt", b"hello", "text/plain")})
    assert 'data-verdict="INDETERMINATE"' in junk.text and "image_unreadable" in junk.text
    big = client.post("/api/v1/upload", files={"file": ("big.jpg", b"\xff\xd8\xff" + b"0" * (3 * 1024 * 1024), "image/jpeg")})
    assert big.status_code == 413 and "larger than 2 MiB" in big.json()["error"]


def test_api_mirrors_the_cli_report(client, issued):  # noqa: F811
    cert = issued["registry"].get(issued["numbers"][0])
    seal = client.get(f"/api/v1/seal/{_code(cert.seal)}").json()
    assert seal["format"] == "certverify-report/1" and seal["verdict"] == "VALID"
    assert client.post("/api/v1/seal", json={"text": cert.seal}).json()["verdict"] == "VALID"
    assert client.get(f"/api/v1/number/{cert.number}").json()["certificate"]["number"] == cert.number
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/seal/{code}", "/api/v1/number/{number}", "/api/v1/upload", "/api/v1/trustlist",
            "/api/v1/status-list", "/api/v1/reports", "/api/v1/health"} <= set(schema["paths"])
    health = client.get("/api/v1/health").json()
    assert health.pop("trust_list")["log"] is None  # no trust list published to this registry
    assert health == {"status": "ok", "registry": "ok", "trust_list_signers": 1}


def test_trust_list_and_status_list_are_cacheable(client, issued):  # noqa: F811
    first = client.get("/api/v1/trustlist")
    assert first.status_code == 200 and first.headers["cache-control"] == "public, max-age=300"
    assert first.content == (issued["folder"] / "keys" / "trustlist.json").read_bytes()
    assert client.get("/api/v1/trustlist", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    status = client.get("/api/v1/status-list")
    etag = status.headers["etag"]
    assert status.json()["format"] == "certverify-status-list/1"
    assert client.get("/api/v1/status-list", headers={"If-None-Match": etag}).status_code == 304
    issued["registry"].suspend(issued["numbers"][2], reason="audit", now=NOW, actor="t")
    try:
        changed = client.get("/api/v1/status-list", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert [c["number"] for c in changed.json()["certificates"]] == [issued["numbers"][2]]
    finally:
        issued["registry"].reinstate(issued["numbers"][2], reason="done", now=NOW, actor="t")


def test_reports_are_stored_for_staff(client, issued):  # noqa: F811
    number = issued["numbers"][0]
    page = client.post("/report", data={"number": number, "message": "Nama di kartu berbeda", "contact": "081234"})
    assert page.status_code == 200 and 'id="report-id"' in page.text
    api = client.post("/api/v1/reports", json={"number": number, "message": "Dijual di pasar"})
    assert api.status_code == 201 and api.json()["verdict"] == "VALID"
    stored = issued["registry"].reports()
    assert [r.message for r in stored[:2]] == ["Dijual di pasar", "Nama di kartu berbeda"]
    empty = client.post("/api/v1/reports", json={"number": number, "message": ""})
    assert empty.status_code == 422 and "message" in empty.json()["error"]


def test_security_headers_and_no_stack_traces(client):
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["x-frame-options"] == "DENY"
    assert "style=" not in response.text
    # no inline script: the one script is a static file (the upload form's photo shrinking)
    assert re.findall(r"<script[^>]*>[^<]*</script>", response.text) == ['<script src="/static/upload.js" defer></script>']
    assert response.text.count("<script") == 1 and not re.search(r"<[^>]+\son\w+=", response.text)  # no onclick=...
    script = client.get("/static/upload.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    missing = client.get("/nothing-here")
    assert missing.status_code == 404 and "Traceback" not in missing.text and "Permintaan tidak dapat diproses" in missing.text
    assert client.get("/api/v1/nothing").json() == {"error": "Not Found"}


def test_rate_limit_per_client(issued):  # noqa: F811
    folder = issued["folder"]
    app = create_app(WebConfig(trust_list=folder / "keys" / "trustlist.json", root=folder / "keys" / "root.cert.pem",
                               rate_limit_per_minute=5), now=lambda: NOW)
    with TestClient(app) as limited:
        codes = [limited.get("/api/v1/health").status_code for _ in range(8)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3


def test_without_registry_the_page_says_status_not_checked(issued):  # noqa: F811
    folder = issued["folder"]
    app = create_app(WebConfig(trust_list=folder / "keys" / "trustlist.json", root=folder / "keys" / "root.cert.pem",
                               rate_limit_per_minute=0), now=lambda: NOW)
    cert = issued["registry"].get(issued["numbers"][0])
    with TestClient(app) as offline:
        page = offline.get(f"/v/{_code(cert.seal)}")
    assert 'data-verdict="INDETERMINATE"' in page.text and "Status tidak diperiksa" in page.text


def test_user_input_is_escaped(client):
    page = client.get("/report", params={"number": '"><script>alert(1)</script>', "seal": "<b>x</b>"})
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    lookup = client.get("/n", params={"number": "<img src=x onerror=alert(1)>"})
    assert "<img src=x" not in lookup.text and 'data-verdict="INVALID"' in lookup.text
