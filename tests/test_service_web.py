"""The applicant's status page: number and access code, Indonesian and English, rate-limited."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from certgen.config import sqlite_url
from certgen.registry import Registry
from certgen.service.applications import NewApplication
from verify.web.app import create_app
from verify.web.config import WebConfig

from .conftest import PASSPHRASE
from .service_helpers import at, document, register

NOW = at("2026-11-12", 14)


@pytest.fixture
def site(tmp_path, fresh_keystore):
    fresh_keystore.signed_trust_list(PASSPHRASE, now=NOW)
    url = sqlite_url(tmp_path / "registry.sqlite3")
    registry = Registry.open(url)
    apps = register(registry)
    a, code = apps.new(NewApplication("product-type1", "PT Rahasia Sekali", "website", email="direksi@rahasia.example"),
                       now=at("2026-11-02"), actor="staff-ana7")
    apps.attach(a.number, document("akta-rahasia.pdf"), now=at("2026-11-02"), actor="staff-ana7")
    apps.condition(a.number, "complete", now=at("2026-11-02"), actor="staff-ana7")
    apps.payment(a.number, now=at("2026-11-06", 15), actor="staff-ana7")  # paused for payment across the weekend
    apps.paid(a.number, now=at("2026-11-10"), actor="kasir-09")
    config = WebConfig(trust_list=fresh_keystore.trustlist_path, root=fresh_keystore.root_cert_path, registry_url=url,
                       rate_limit_per_minute=0)
    with TestClient(create_app(config, now=lambda: NOW)) as client:
        yield client, a.number, code
    registry.close()


def test_the_status_page_in_indonesian_and_english(site):
    client, number, code = site
    assert "Kode akses" in client.get("/permohonan").text
    page = client.post("/permohonan", data={"number": number, "code": code})
    assert page.status_code == 200
    text = page.text
    assert number in text and "Sertifikasi produk (skema tipe 1)" in text and "Pembayaran" in text
    # counted: 3, 4, 5 Nov, (6 and 9 paused), 10, 11, 12 = 6 of 14; deadline = 10 more working days after 12 Nov
    assert "6 terpakai, 8 tersisa (dari 14)" in text and "24 November 2026" in text
    assert "Pembayaran oleh pelanggan: 6 November 2026 – 10 November 2026" in text
    english = client.post("/permohonan?lang=en", data={"number": number.lower(), "code": code.lower()}).text
    assert "6 used, 8 left (of 14)" in english and "Customer&#39;s payment: 6 November 2026 – 10 November 2026" in english
    assert "Product certification (scheme type 1)" in english and "Payment" in english
    for private in ("PT Rahasia Sekali", "direksi@rahasia.example", "akta-rahasia.pdf", "staff-ana7", "kasir-09"):
        assert private not in text and private not in english


def test_the_json_api(site):
    client, number, code = site
    body = client.post("/api/v1/application", json={"number": number, "code": code}).json()
    assert body["stage"] == "payment" and body["clock"] == {"allowed": 14, "started": "2026-11-02", "used": 6, "left": 8,
                                                            "deadline": "2026-11-24", "paused": False, "late": False,
                                                            "days_late": 0}
    assert body["pauses"][0]["reason"]["en"] == "Customer's payment" and body["pauses"][0]["to"] == "2026-11-10"
    assert "client" not in body and "email" not in body


def test_wrong_codes_are_refused_alike_and_rate_limited(site):
    client, number, code = site
    unknown = client.post("/permohonan", data={"number": "AP-2026-000999-X", "code": code})
    wrong = client.post("/permohonan", data={"number": number, "code": "AAAAA-BBBBB"})
    assert unknown.status_code == wrong.status_code == 403
    assert "Nomor permohonan atau kode akses salah." in wrong.text and "Nomor permohonan atau kode akses salah." in unknown.text
    hostile = client.post("/permohonan", data={"number": "<script>x</script>", "code": "a"})
    assert hostile.status_code == 403 and "<script>x" not in hostile.text and "&lt;script&gt;x" in hostile.text
    for _ in range(2):
        assert client.post("/api/v1/application", json={"number": number, "code": "AAAAA-CCCCC"}).status_code == 403
    # five failures from this address: even the right code is refused for a while
    limited = client.post("/permohonan", data={"number": number, "code": code})
    assert limited.status_code == 429 and "Terlalu banyak percobaan yang salah" in limited.text
    assert client.post("/api/v1/application", json={"number": number, "code": code}).status_code == 429


def test_the_limiter_forgets_after_its_window():
    from verify.web.applicant_routes import AttemptLimiter

    now = [0.0]
    limiter = AttemptLimiter(2, 60, clock=lambda: now[0])
    limiter.failed("k")
    assert not limiter.blocked("k")
    limiter.failed("k")
    assert limiter.blocked("k") and not limiter.blocked("other")
    now[0] = 61
    assert not limiter.blocked("k")


def test_the_applicant_pages_load_no_issuing_code():
    import subprocess
    import sys

    code = ("import sys, verify.web.app, verify.web.applicant_routes\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[:2] in (['certgen', 'render'], ['certgen', 'sign'], "
            "['certgen', 'batch']))\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_behind_a_trusted_proxy_the_limit_is_per_forwarded_client(tmp_path, fresh_keystore):
    fresh_keystore.signed_trust_list(PASSPHRASE, now=NOW)
    url = sqlite_url(tmp_path / "registry.sqlite3")
    registry = Registry.open(url)
    apps = register(registry)
    a, code = apps.new(NewApplication("person", "X", "post"), now=at("2026-11-02"), actor="cs")
    config = WebConfig(trust_list=fresh_keystore.trustlist_path, root=fresh_keystore.root_cert_path, registry_url=url,
                       rate_limit_per_minute=0, trust_forwarded_for=True)
    with TestClient(create_app(config, now=lambda: NOW)) as client:
        for _ in range(5):
            client.post("/api/v1/application", json={"number": a.number, "code": "WRONG-CODE0"},
                        headers={"X-Forwarded-For": "203.0.113.9"})
        blocked = client.post("/api/v1/application", json={"number": a.number, "code": code},
                              headers={"X-Forwarded-For": "203.0.113.9"})
        other = client.post("/api/v1/application", json={"number": a.number, "code": code},
                            headers={"X-Forwarded-For": "198.51.100.7"})
    assert blocked.status_code == 429 and other.status_code == 200
    registry.close()
