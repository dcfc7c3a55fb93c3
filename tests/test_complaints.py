"""The complaint channel: what the public types is refused at intake when it holds control
characters, capped per address, certificate and day, moderated, and printed escaped."""

import json
import re

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from certgen.cli import main as certgen
from certgen.cli_support import safe, safe_json
from certgen.config import sqlite_url
from certgen.errors import NotFoundError, RegistryError
from certgen.registry import Registry
from certgen.registry.reports import ReportCaps, ReportInputError, ReportLimitError, day_window
from tests.conftest import NOW
from verify.web.app import create_app
from verify.web.config import WebConfig

#: What a hostile complainant would like a staff terminal to do.
HOSTILE = {
    "clear screen": "\x1b[2J\x1b[H",
    "OSC 52 clipboard write": "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07",
    "OSC 8 link": "\x1b]8;;https://evil.example.com\x1b\\klik\x1b]8;;\x1b\\",
    "carriage return over the line": "harmless\rFORGED",
    "C1 CSI": "\x9b31m",
    "bell": "\x07",
    "NUL": "\x00",
    "DEL": "\x7f",
    "right-to-left override": "\u202egnp.exe",
    "line separator": "a\u2028b",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_control_characters_are_refused_at_intake_in_every_field(registry, name):
    value = HOSTILE[name]
    # a lone carriage return in a message is a line break (old Mac), stored as one
    for field in ("contact", "number") if "\r" in value else ("message", "contact", "number"):
        fields = {"message": "Kartu palsu", field: f"x{value}"}
        with pytest.raises(ReportInputError, match=rf"^{field}: the character U\+[0-9A-F]{{4}} \(.+\) at position \d+ "
                                                   r"is not allowed"):
            registry.add_report(now=NOW, **fields)
    assert registry.reports() == []


def test_line_breaks_are_the_one_control_allowed_in_a_message(registry):
    stored = registry.add_report(message="baris satu\r\nbaris dua\rbaris tiga\n", now=NOW)
    assert stored.message == "baris satu\nbaris dua\nbaris tiga" and stored.status == "new"
    with pytest.raises(ReportInputError, match="contact: .*U\\+000A.*no control characters are allowed"):
        registry.add_report(message="x", contact="0812\nline", now=NOW)


def test_the_escape_helper():
    assert safe("Ni Luh Putu Ayu — 王小明 (ok)") == "Ni Luh Putu Ayu — 王小明 (ok)"
    for value in HOSTILE.values():
        shown = safe(value)
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]", shown), shown
    assert safe("a\nb\x1b[2J") == "a\\nb\\x1b[2J" and safe("\u202e") == "\\u202e" and safe(None) == ""
    data = {"m": "x\x9b\u202e\n"}
    assert json.loads(safe_json(data)) == data and "\u202e" not in safe_json(data) and "\x9b" not in safe_json(data)


def _raw_report(registry, message, contact=None, number=None):
    """A row written behind intake's back (an older version, or someone with database access)."""
    with registry.engine.begin() as conn:
        conn.execute(text("INSERT INTO reports (created_at, number, seal, verdict, message, contact, status) "
                          "VALUES (:at, :number, NULL, NULL, :message, :contact, 'new')"),
                     {"at": NOW.replace(tzinfo=None), "number": number, "message": message, "contact": contact})


def _terminal_safe(output: str) -> bool:
    return not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]", output)


def test_certgen_reports_escapes_stored_text_and_keeps_one_line_per_report(cli, settings):
    registry = Registry.open(settings.registry_url)
    for name, value in HOSTILE.items():
        _raw_report(registry, f"{name}: {value}", contact=value, number=f"SK{value}")
    _raw_report(registry, "biasa\n#99 2026-11-24 03:00Z SK-2026-000001-E [VALID] closed: forged line")
    result = cli(certgen, ["reports"])
    assert result.exit_code == 0 and _terminal_safe(result.output)
    lines = result.output.splitlines()
    assert len(lines) == len(HOSTILE) + 1 and all(re.match(r"#\d+ ", line) for line in lines)
    assert "biasa\\n#99 2026-11-24" in lines[0] and "\\x1b]52;c;" in result.output
    as_json = cli(certgen, ["reports", "--json"])
    assert _terminal_safe(as_json.output)
    assert json.loads(as_json.output)[-1]["message"] == "clear screen: \x1b[2J\x1b[H"  # the data itself is intact


def test_show_and_log_escape_what_they_print(cli, settings):
    from tests.registry_helpers import issue_one

    registry = Registry.open(settings.registry_url)
    number = issue_one(registry, "Ayu Lestari", NOW).number
    registry.suspend(number, reason="audit\x1b]52;c;ZXZpbA==\x07\nnext line", now=NOW, actor="staff\x1b[2J")
    with registry.engine.begin() as conn:  # a holder edited behind the log's back
        conn.execute(text("UPDATE certificates SET holder = :h WHERE number = :n"), {"h": "Ayu\x1b[8m hidden", "n": number})
    for args in (["show", number], ["show", number, "--json"], ["log"], ["log", "--json"]):
        result = cli(certgen, args)
        assert _terminal_safe(result.output), args
    shown = cli(certgen, ["show", number]).output
    assert "Ayu\\x1b[8m hidden" in shown and "audit\\x1b]52;c;ZXZpbA==\\x07\\nnext line" in shown


def test_certverify_escapes_claims_and_details(keystore, signer):
    from click.testing import CliRunner

    from certgen.seal import seal_text, sign_seal
    from tests.test_seal import person_claims
    from verify.cli import main as certverify

    seal = seal_text(sign_seal(person_claims(holder="Ayu\x1b]8;;https://evil.example.com\x1b\\Lestari"), signer),
                     "https://verifikasi.example.id/v/")
    args = ["--trust-list", str(keystore.trustlist_path), "--root", str(keystore.root_cert_path)]
    result = CliRunner().invoke(certverify, [*args, "seal", seal])
    assert _terminal_safe(result.output) and "holder Ayu\\x1b]8;;https://evil.example.com\\x1b\\Lestari" in result.output
    assert _terminal_safe(CliRunner().invoke(certverify, [*args, "seal", seal, "--json"]).output)


# -- moderation ---------------------------------------------------------------------------------

def test_reports_are_moderated(cli, settings):
    registry = Registry.open(settings.registry_url)
    first = registry.add_report(message="Kartu palsu", now=NOW)
    second = registry.add_report(message="BELI OBAT MURAH", now=NOW)
    assert cli(certgen, ["reports", "mark", str(second.id), "spam"]).output == f"report #{second.id}: spam (by tester)\n"
    new = cli(certgen, ["reports", "--status", "new"]).output
    assert f"#{first.id} " in new and f"#{second.id} " not in new
    spam = cli(certgen, ["reports", "--status", "spam", "--json"]).output
    assert [(r["id"], r["status"], r["moderated_by"]) for r in json.loads(spam)] == [(second.id, "spam", "tester")]
    cli(certgen, ["reports", "mark", str(first.id), "in_review"])
    cli(certgen, ["reports", "mark", str(first.id), "closed"])
    assert registry.reports(status="closed")[0].id == first.id
    assert cli(certgen, ["reports", "--status", "in_review"]).output == "no reports in status in_review\n"
    missing = cli(certgen, ["reports", "mark", "999", "spam"])
    assert missing.exit_code == 1 and "there is no report #999" in missing.output
    bad = cli(certgen, ["reports", "mark", str(first.id), "deleted"])
    assert bad.exit_code == 2 and "'deleted' is not one of" in bad.output
    with pytest.raises(NotFoundError):
        registry.mark_report(12345, "spam", now=NOW, actor="t")
    with pytest.raises(RegistryError, match="report status 'open' is not one of new, spam, in_review, closed"):
        registry.mark_report(first.id, "open", now=NOW, actor="t")


# -- caps -----------------------------------------------------------------------------------------

def test_caps_per_address_certificate_and_day(registry):
    caps = ReportCaps(per_address=2, per_certificate=3, per_day=8)

    def send(client, number=None):
        return registry.add_report(message="x", now=NOW, client=client, certificate=number, caps=caps)

    send("10.0.0.1")
    send("10.0.0.1")
    with pytest.raises(ReportLimitError, match="too many reports from your address today") as refused:
        send("10.0.0.1")
    assert refused.value.cap == "address" and 0 < refused.value.retry_after <= 86400
    send("10.0.0.2", "SK-2026-000001-E")
    send("10.0.0.3", "SK-2026-000001-E")
    send("10.0.0.4", "sk-2026-000001-e")  # the same certificate, whatever the case
    with pytest.raises(ReportLimitError, match="this certificate has been reported many times today") as refused:
        send("10.0.0.5", "SK-2026-000001-E")
    assert refused.value.cap == "certificate"
    for i in (6, 7, 8):
        send(f"10.0.0.{i}")
    with pytest.raises(ReportLimitError, match="the service takes no more reports today") as refused:
        send("10.0.0.9")
    assert refused.value.cap == "day" and len(registry.reports()) == 8  # refused attempts were not counted
    # the next Jakarta day starts afresh
    tomorrow = NOW.replace(day=NOW.day + 1)
    assert registry.add_report(message="x", now=tomorrow, client="10.0.0.1", caps=caps).id
    assert day_window(tomorrow)[0] - day_window(NOW)[0] == 86400


@pytest.fixture
def web(keystore, tmp_path):
    registry_url = sqlite_url(tmp_path / "registry.sqlite3")
    registry = Registry.open(registry_url)

    def make(**settings):
        config = WebConfig(trust_list=keystore.trustlist_path, root=keystore.root_cert_path, registry_url=registry_url,
                           **{"rate_limit_per_minute": 0, **settings})
        return create_app(config, now=lambda: NOW)

    yield make, registry
    registry.close()


def test_the_web_refuses_control_characters_with_a_clear_message(web):
    make, registry = web
    with TestClient(make()) as client:
        api = client.post("/api/v1/reports", json={"message": "Kartu \x1b[2J palsu"})
        assert api.status_code == 422
        assert api.json() == {"error": "message: the character U+001B (control character) at position 7 is not allowed; "
                                       "only line breaks are allowed"}
        form = client.post("/report", data={"message": "ok", "contact": "0812\x07"})
        assert form.status_code == 422 and "contact: the character U+0007" in form.text
        ok = client.post("/report", data={"message": "baris satu\r\nbaris dua"})
        assert ok.status_code == 200 and 'id="report-id"' in ok.text
    assert [r.message for r in registry.reports()] == ["baris satu\nbaris dua"]


def test_a_thousand_complaints_from_one_address_store_its_cap(web):
    make, registry = web
    with TestClient(make(reports_per_address=5)) as client:
        codes = [client.post("/api/v1/reports", json={"message": f"spam {i}"}).status_code for i in range(1000)]
        refused = client.post("/api/v1/reports", json={"message": "one more"})
    assert codes[:5] == [201] * 5 and set(codes[5:]) == {429}
    assert "too many reports from your address today" in refused.json()["error"]
    assert 0 < int(refused.headers["retry-after"]) <= 86400
    assert len(registry.reports()) == 5


def test_complaint_caps_follow_the_client_behind_a_trusted_proxy(web):
    make, registry = web
    app = make(reports_per_address=2, trusted_proxies=("10.0.0.0/8",))
    with TestClient(app, client=("10.1.2.3", 4000)) as proxy:
        def send(forwarded):
            return proxy.post("/api/v1/reports", json={"message": "x"}, headers={"X-Forwarded-For": forwarded}).status_code
        # the proxy appends the real client; what the client wrote itself is to its left
        assert [send("1.1.1.1, 203.0.113.7") for _ in range(3)] == [201, 201, 429]
        assert [send(f"{i}.{i}.{i}.{i}, 203.0.113.8") for i in range(1, 4)] == [201, 201, 429]  # spoofing does not help
        assert send("203.0.113.9, 10.9.9.9") == 201  # a second trusted proxy hop is skipped
    with TestClient(app, client=("198.51.100.1", 4000)) as direct:  # not a proxy: its header is ignored
        answers = [direct.post("/api/v1/reports", json={"message": "x"},
                               headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code for i in range(3)]
    assert answers == [201, 201, 429]


def test_rate_limit_pruning_leaves_the_complaint_counters_alone(registry):
    """Regression: the web workers' pruning of past rate-limit minutes deleted the day's
    complaint counters too, and the cap per address started again (found by bench_abuse.py)."""
    from certgen.registry.counters import SharedCounters

    caps = ReportCaps(per_address=2, per_certificate=20, per_day=500)
    for _ in range(2):
        registry.add_report(message="x", now=NOW, client="203.0.113.66", caps=caps)
    SharedCounters(registry.engine).prune(int(NOW.timestamp()), "rate:")
    with pytest.raises(ReportLimitError, match="too many reports from your address today"):
        registry.add_report(message="x", now=NOW, client="203.0.113.66", caps=caps)
    # the next day's first complaint clears the earlier days' complaint counters
    registry.add_report(message="x", now=NOW.replace(day=NOW.day + 1), client="198.51.100.1", caps=caps)
    with registry.engine.begin() as conn:
        windows = {w for (w,) in conn.execute(text("SELECT DISTINCT window FROM abuse_counters"))}
    assert windows == {day_window(NOW.replace(day=NOW.day + 1))[0]}
