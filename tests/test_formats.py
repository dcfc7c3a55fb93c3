"""Reports as data: the JSON and text forms (verify.formats), the one status table, the public
page's labels, and the status source over HTTP parsing into the same enums."""

from __future__ import annotations

import base64
import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from starlette.testclient import TestClient

from certgen.config import sqlite_url
from certgen.model import DocumentKind
from certgen.registry.lifecycle import EffectiveStatus
from certgen.seal import SealClaims
from tests.conftest import NOW
from tests.test_verify import issued  # noqa: F401 - module fixture
from verify.formats import report_json, report_text
from verify.report import STATUS_OUTCOMES, Check, Reason, StatusInfo, Verdict, VerificationReport, decide
from verify.status import HttpStatus, StatusUnavailable
from verify.web.app import create_app
from verify.web.config import WebConfig
from verify.web.i18n import REASONS

CLAIMS = SealClaims("SK-2026-000001-E", DocumentKind.PERSON, "Siti Aminah", "SKM-PTK-03/2024", date(2026, 11, 24),
                    date(2029, 11, 23), "ID-BSKP", NOW)
CERT = StatusInfo("SK-2026-000001-E", DocumentKind.PERSON, "Siti Aminah", "SKM-PTK-03/2024", date(2026, 11, 24),
                  date(2029, 11, 23), EffectiveStatus.VALID, None, NOW, None, "https://x/v/AAAA", "ab" * 32,
                  {"name": "Siti Aminah"}, NOW)
#: The JSON of this report as `VerificationReport.to_json` wrote it before the formats moved to
#: verify.formats, plus the fields added since (`certificate.issued_at`, `certificate.replaces`,
#: `signing_time`), at the ends.
GOLDEN = (
    '{"format": "certverify-report/1", "subject": "seal", "source": null, "verdict": "VALID", '
    '"summary": "SK-2026-000001-E is valid until 2029-11-23", "checked_at": "2026-11-24T03:00:00+00:00", '
    '"checks": [{"name": "seal", "outcome": "passed", "reason": "seal_valid", "detail": "seal valid (signed by 0102 (ES256))"}, '
    '{"name": "status", "outcome": "passed", "reason": "status_active", "detail": "SK-2026-000001-E is valid until 2029-11-23"}], '
    '"barcodes": ["https://x/v/AAAA"], "claims": {"number": "SK-2026-000001-E", "kind": "person", "holder": "Siti Aminah", '
    '"scheme": "SKM-PTK-03/2024", "granted": "2026-11-24", "expires": "2029-11-23", "subject": null, "issuer": "ID-BSKP", '
    '"signed_at": "2026-11-24T03:00:00+00:00"}, "certificate": {"number": "SK-2026-000001-E", "kind": "person", '
    '"holder": "Siti Aminah", "scheme": "SKM-PTK-03/2024", "granted": "2026-11-24", "expires": "2029-11-23", '
    '"status": "valid", "status_reason": null, "status_changed_at": "2026-11-24T03:00:00+00:00", "replaced_by": null, '
    '"pdf_sha256": "abababababababababababababababababababababababababababababababab", '
    '"issued_at": "2026-11-24T03:00:00+00:00", "replaces": null}, "signing_time": null}'
)


def _valid_report() -> VerificationReport:
    checks = (Check.passed("seal", Reason.SEAL_VALID, "seal valid (signed by 0102 (ES256))"),
              Check.passed("status", Reason.STATUS_ACTIVE, "SK-2026-000001-E is valid until 2029-11-23"))
    verdict, summary = decide(checks, CERT)
    return VerificationReport("seal", verdict, checks, summary, None, ("https://x/v/AAAA",), CLAIMS, CERT, NOW)


def test_report_json_keeps_the_published_format():
    assert json.dumps(report_json(_valid_report()), ensure_ascii=False) == GOLDEN
    nothing = VerificationReport("image", Verdict.INDETERMINATE,
                                 (Check.indeterminate("barcode", Reason.NO_BARCODE, "no barcode found in the image"),),
                                 "no barcode found in the image", "a.jpg", (), None, None, NOW)
    assert json.dumps(report_json(nothing)) == (
        '{"format": "certverify-report/1", "subject": "image", "source": "a.jpg", "verdict": "INDETERMINATE", '
        '"summary": "no barcode found in the image", "checked_at": "2026-11-24T03:00:00+00:00", "checks": '
        '[{"name": "barcode", "outcome": "indeterminate", "reason": "no_barcode", "detail": "no barcode found in the image"}], '
        '"barcodes": [], "claims": null, "certificate": null, "signing_time": null}')


def test_report_text_is_what_certverify_prints():
    assert report_text(_valid_report()).splitlines() == [
        "VALID — SK-2026-000001-E is valid until 2029-11-23",
        "  [       passed] seal: seal_valid: seal valid (signed by 0102 (ES256))",
        "  [       passed] status: status_active: SK-2026-000001-E is valid until 2029-11-23",
        "  number SK-2026-000001-E, holder Siti Aminah, scheme SKM-PTK-03/2024",
    ]


def test_report_text_neutralises_terminal_control_characters():
    """A file name or a quoted parser message must not drive the terminal that prints it."""
    hostile = VerificationReport("pdf", Verdict.INVALID,
                                 (Check.failed("pdf_signature", Reason.PDF_UNREADABLE, "bad \x1b]0;owned\x07 file"),),
                                 "bad \x1b[2J", "evil\x1b[31m.pdf", (), None, None, NOW)
    text = report_text(hostile)
    assert "\x1b" not in text and "\x07" not in text
    assert "evil\\x1b[31m.pdf: INVALID" in text


@pytest.mark.parametrize("status", list(EffectiveStatus))
def test_one_table_decides_status_reason_and_verdict(status):
    meaning = STATUS_OUTCOMES[status]
    cert = StatusInfo("SK-2026-000001-E", DocumentKind.PERSON, "A", "S", date(2026, 1, 1), None, status)
    check = Check(name="status", outcome=meaning.outcome, reason=meaning.reason, detail="x")
    assert decide((check,), cert)[0] is meaning.verdict


def test_every_reason_has_a_label_in_both_languages():
    assert {r.value for r in Reason} <= set(REASONS)
    assert all(len(pair) == 2 and all(pair) for pair in REASONS.values())


# -- the public page shows labels; the JSON report keeps the details ------------------------------

@pytest.fixture
def client(issued):  # noqa: F811
    folder = issued["folder"]
    config = WebConfig(trust_list=folder / "keys" / "trustlist.json", root=folder / "keys" / "root.cert.pem",
                       registry_url=sqlite_url(folder / "registry.sqlite3"), rate_limit_per_minute=0)
    with TestClient(create_app(config, now=lambda: NOW)) as test_client:
        yield test_client


def test_a_parser_message_never_reaches_the_page(client):
    code = base64.b32encode(b"\x1c").decode().rstrip("=")  # cbor2: "unknown unsigned integer subtype 0x1c"
    api = client.get(f"/api/v1/seal/{code}").json()
    assert api["verdict"] == "INVALID" and api["checks"][0]["reason"] == "seal_malformed"
    assert "unknown unsigned integer subtype 0x1c" in api["checks"][0]["detail"]
    for lang, label in (("id", "Kode QR rusak"), ("en", "The code is damaged")):
        page = client.get(f"/v/{code}", params={"lang": lang}).text
        assert 'data-verdict="INVALID"' in page and label in page and "seal_malformed" in page
        assert "unsigned integer" not in page and "CBORDecode" not in page and "0x1c" not in page


def test_the_page_speaks_in_labels_for_a_valid_seal(client, issued):  # noqa: F811
    cert = issued["registry"].get(issued["numbers"][0])
    page = client.get(f"/v/{cert.seal.rsplit('/v/', 1)[1]}", params={"lang": "en"}).text
    assert "The digital seal is genuine" in page and "The registry says the certificate is in force" in page
    assert "signed by" not in page  # the seal check's detail stays in the JSON report
    number = client.get(f"/api/v1/number/{cert.number}").json()
    assert number["certificate"]["issued_at"] == cert.issued_at.isoformat()  # the registry's time, for HttpStatus


# -- the status source over HTTP -------------------------------------------------------------------

def _serve(body: bytes):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _over_http(report: dict) -> StatusInfo | None:
    server = _serve(json.dumps(report).encode())
    try:
        return HttpStatus(f"http://127.0.0.1:{server.server_port}", timeout=5).lookup("SK-2026-000001-E")
    finally:
        server.shutdown()
        server.server_close()


def test_http_status_parses_into_the_same_enums():
    got = _over_http(report_json(_valid_report()))
    assert got.status is EffectiveStatus.VALID and got.kind is DocumentKind.PERSON
    assert got.issued_at == NOW and got.status_changed_at == NOW and got.expires == date(2029, 11, 23)
    assert got == StatusInfo(**{**CERT.__dict__, "seal": None, "record": {}})


@pytest.mark.parametrize("field, value, words", [
    ("status", "revoked", "unknown status 'revoked' (known: pending, valid, suspended, withdrawn, replaced, expired, redeemed)"),
    ("kind", "diploma", "unknown kind 'diploma' (known: product, person, training, letter)"),
    ("issued_at", "2026-11-24T03:00:00", "issued_at '2026-11-24T03:00:00' has no time zone"),
    ("granted", 20261124, "granted is not text"),
])
def test_http_status_refuses_unknown_values_by_name(field, value, words):
    report = report_json(_valid_report())
    report["certificate"][field] = value
    with pytest.raises(StatusUnavailable, match="answered an unreadable certificate: " + words.replace("(", r"\(").replace(")", r"\)")):
        _over_http(report)


def test_http_status_not_in_registry_and_not_a_report():
    unknown = {"format": "certverify-report/1", "certificate": None, "summary": "x",
               "checks": [{"name": "status", "outcome": "failed", "reason": "not_in_registry", "detail": "x"}]}
    assert _over_http(unknown) is None
    with pytest.raises(StatusUnavailable, match="not a report"):
        _over_http([1, 2])  # type: ignore[arg-type]

