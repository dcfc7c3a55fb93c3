"""The log endpoints (TestClient), the auditor over HTTP against a real uvicorn server on
loopback, and `certverify number|seal --log-proof` (the inclusion check in the report)."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text

from certgen.note import open_tree_head
from certgen.registry import Registry, merkle, tlog
from tests.conftest import NOW, PASSPHRASE
from tests.live_server import live_server
from tests.registry_helpers import issue_one
from verify.cli import main as certverify
from verify.web.app import create_app
from verify.web.config import WebConfig
from tests.test_verify import issued  # noqa: F401 - the module fixture (real issued documents)



@pytest.fixture
def world(settings, fresh_keystore):
    registry = Registry.open(settings.registry_url)
    numbers = [issue_one(registry, f"Holder {i}", NOW).number for i in range(6)]
    registry.suspend(numbers[1], reason="audit pending", now=NOW, actor="tester")
    signer = fresh_keystore.log_signer(PASSPHRASE)
    tlog.sign_checkpoint(registry, signer, now=NOW, folder=settings.data_dir / "log")
    yield {"registry": registry, "numbers": numbers, "signer": signer, "keys": fresh_keystore,
           "url": settings.registry_url, "settings": settings}
    registry.close()


@pytest.fixture
def client(world):
    keys = world["keys"]
    config = WebConfig(trust_list=keys.trustlist_path, root=keys.root_cert_path, registry_url=world["url"],
                       rate_limit_per_minute=0)
    return TestClient(create_app(config, now=lambda: NOW))


def test_checkpoint_endpoint(client, world):
    response = client.get("/api/v1/log/checkpoint")
    assert response.status_code == 200 and response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == tlog.latest_tree_head(world["registry"]).note
    head = open_tree_head(response.text, world["keys"].trust_list().log_keys).head
    assert head.size == 7
    again = client.get("/api/v1/log/checkpoint", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_proof_endpoint_proves_the_latest_event(client, world):
    number = world["numbers"][1]
    doc = client.get(f"/api/v1/log/proof/{number}").json()
    assert (doc["number"], doc["leaf_index"], doc["tree_size"]) == (number, 6, 7)
    assert doc["event"]["type"] == "suspend" and doc["event"]["seq"] == 7
    head = open_tree_head(doc["checkpoint"], world["keys"].trust_list().log_keys).head
    hashes = [base64.b64decode(h) for h in doc["hashes"]]
    assert merkle.verify_inclusion(merkle.leaf_hash(bytes.fromhex(doc["event"]["hash"])), 6, 7, hashes, head.root)


def test_consistency_and_entry_endpoints(client, world):
    first = tlog.latest_tree_head(world["registry"])
    issue_one(world["registry"], "Later", NOW)
    tlog.sign_checkpoint(world["registry"], world["signer"], now=NOW)
    second = tlog.latest_tree_head(world["registry"])
    doc = client.get("/api/v1/log/consistency", params={"from": 7, "to": 8}).json()
    assert (doc["from"], doc["to"]) == (7, 8)
    assert merkle.verify_consistency(7, 8, bytes.fromhex(first.root_hash), bytes.fromhex(second.root_hash),
                                     [base64.b64decode(h) for h in doc["hashes"]])
    entry = client.get("/api/v1/log/entry/7").json()
    assert entry["event"]["seq"] == 8 and entry["tree_size"] == 8


@pytest.mark.parametrize("path, status, reason", [
    ("/api/v1/log/proof/SK-2026-000999-Q", 400, "malformed"),
    ("/api/v1/log/consistency?from=5&to=3", 400, "malformed"),
    ("/api/v1/log/consistency?from=1&to=99", 400, "malformed"),
    ("/api/v1/log/entry/99", 400, "malformed"),
])
def test_bad_requests_are_named(client, path, status, reason):
    response = client.get(path)
    assert response.status_code == status and response.json()["reason"] == reason, response.text


def test_unknown_number_and_uncheckpointed_event(client, world):
    from certgen.numbers import CertificateNumber
    from certgen.model import Series

    unknown = str(CertificateNumber.build(Series.PERSON, 2026, 999))
    response = client.get(f"/api/v1/log/proof/{unknown}")
    assert response.status_code == 404 and response.json()["reason"] == "not_in_registry"
    world["registry"].withdraw(world["numbers"][0], reason="fraud", now=NOW, actor="tester")
    response = client.get(f"/api/v1/log/proof/{world['numbers'][0]}")
    assert response.status_code == 404 and response.json()["reason"] == "not_checkpointed"
    assert client.get("/api/v1/log/consistency", params={"from": -1, "to": 3}).status_code == 422


def test_no_registry_and_no_checkpoint(world, tmp_path):
    keys = world["keys"]
    bare = TestClient(create_app(WebConfig(trust_list=keys.trustlist_path, root=keys.root_cert_path), now=lambda: NOW))
    assert bare.get("/api/v1/log/checkpoint").status_code == 404
    empty_url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    Registry.open(empty_url).close()
    empty = TestClient(create_app(WebConfig(trust_list=keys.trustlist_path, root=keys.root_cert_path, registry_url=empty_url),
                                  now=lambda: NOW))
    response = empty.get("/api/v1/log/checkpoint")
    assert response.status_code == 404 and response.json()["reason"] == "no_checkpoint"


# -- certverify --log-proof -----------------------------------------------------------------------

def verify_number(world, number: str, registry: str) -> tuple[int, dict]:
    keys = world["keys"]
    result = CliRunner().invoke(certverify, ["--trust-list", str(keys.trustlist_path), "--root", str(keys.root_cert_path),
                                             "--registry", registry, "--at", "2026-11-24T10:00:00+07:00", "--log-proof",
                                             "number", number, "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.output)


def log_check(report: dict) -> dict:
    return next(c for c in report["checks"] if c["name"] == "log_inclusion")


def test_number_with_log_proof_from_the_database(world):
    code, report = verify_number(world, world["numbers"][0], world["url"])
    assert code == 0 and report["verdict"] == "VALID"
    assert log_check(report)["reason"] == "log_inclusion_proven" and log_check(report)["outcome"] == "passed"
    code, report = verify_number(world, world["numbers"][1], world["url"])
    assert report["verdict"] == "SUSPENDED" and log_check(report)["reason"] == "log_inclusion_proven"


def test_status_edited_behind_the_log_fails_the_inclusion_check(world):
    """The suspended certificate set back to active in the table: the signed log says suspended."""
    with world["registry"].engine.begin() as conn:
        conn.execute(text("UPDATE certificates SET status = 'active' WHERE number = :n"), {"n": world["numbers"][1]})
    code, report = verify_number(world, world["numbers"][1], world["url"])
    assert code == 1 and report["verdict"] == "INVALID"
    check = log_check(report)
    assert check["reason"] == "log_inclusion_failed"
    assert "is not the state its latest logged event (suspend, event 7) commits to" in check["detail"]
    # a service that serves no row state (an older one): the event's own status still decides
    from verify.log_audit import LogInclusion
    from verify.log_source import RegistryLog
    from verify.status import RegistryStatus

    doc = RegistryLog(world["registry"]).proof(world["numbers"][1])
    del doc["state"]
    status = RegistryStatus(world["registry"], lambda: NOW).lookup(world["numbers"][1])
    check = LogInclusion(Canned(doc), world["keys"].trust_list().log_keys).check(world["numbers"][1], status)
    assert check.reason.value == "log_inclusion_failed" and "leaves it suspended" in check.detail


def test_event_newer_than_the_checkpoint_is_indeterminate(world):
    world["registry"].withdraw(world["numbers"][2], reason="fraud", now=NOW, actor="tester")
    code, report = verify_number(world, world["numbers"][2], world["url"])
    assert report["verdict"] == "WITHDRAWN"
    check = log_check(report)
    assert (check["outcome"], check["reason"]) == ("indeterminate", "log_not_checkpointed")


def test_checkpoint_by_another_key_is_untrusted(world):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from certgen.note import LogSigner

    impostor = LogSigner(world["signer"].name, Ed25519PrivateKey.generate())
    issue_one(world["registry"], "Late", NOW)
    tlog.sign_checkpoint(world["registry"], impostor, now=NOW)
    code, report = verify_number(world, world["numbers"][0], world["url"])
    assert report["verdict"] == "INVALID" and log_check(report)["reason"] == "log_checkpoint_untrusted"


def test_log_proof_needs_a_registry(world):
    keys = world["keys"]
    result = CliRunner().invoke(certverify, ["--trust-list", str(keys.trustlist_path), "--root", str(keys.root_cert_path),
                                             "--log-proof", "number", world["numbers"][0]])
    assert result.exit_code == 2 and "--log-proof needs --registry" in result.output


# -- over HTTP, against a real server -------------------------------------------------------------

@pytest.fixture
def server(world):
    keys = world["keys"]
    with live_server(keys.trustlist_path, keys.root_cert_path, world["url"]) as (base, _port):
        yield base


def http_audit(world, base: str, state: Path) -> tuple[int, dict]:
    keys = world["keys"]
    result = CliRunner().invoke(certverify, ["--trust-list", str(keys.trustlist_path), "--root", str(keys.root_cert_path),
                                             "log", "audit", "--url", base, "--state", str(state), "--json"],
                                catch_exceptions=False)
    return result.exit_code, json.loads(result.output)


def test_auditor_over_http_accepts_growth_and_names_a_rollback(world, server, tmp_path):
    state = tmp_path / "witness"
    assert http_audit(world, server, state)[1]["outcome"] == "first"
    registry = world["registry"]
    registry.withdraw(world["numbers"][3], reason="fraud", now=NOW, actor="tester")
    tlog.sign_checkpoint(registry, world["signer"], now=NOW)
    code, result = http_audit(world, server, state)
    assert (code, result["outcome"]) == (0, "extended") and result["detail"] == "consistent: 7 -> 8 events"
    # the inclusion check over HTTP
    _, report = verify_number(world, world["numbers"][3], server)
    assert report["verdict"] == "WITHDRAWN" and log_check(report)["reason"] == "log_inclusion_proven"
    with registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM tree_heads WHERE size = 8"))
        conn.execute(text("DELETE FROM events WHERE seq = 8"))
        conn.execute(text("UPDATE chain_head SET seq = 7, hash = (SELECT hash FROM events WHERE seq = 7)"))
        conn.execute(text("UPDATE certificates SET status = 'active' WHERE number = :n"), {"n": world["numbers"][3]})
    code, result = http_audit(world, server, state)
    assert (code, result["outcome"]) == (4, "rollback")


def test_auditor_over_http_all_checkpoints_deleted_is_a_rollback(world, server, tmp_path):
    state = tmp_path / "witness"
    assert http_audit(world, server, state)[0] == 0
    with world["registry"].engine.begin() as conn:
        conn.execute(text("DELETE FROM tree_heads"))
    code, result = http_audit(world, server, state)
    assert (code, result["outcome"]) == (4, "rollback") and "no checkpoint any more" in result["detail"]


def test_auditor_over_http_names_a_truncated_log(world, server, tmp_path):
    state = tmp_path / "witness"
    assert http_audit(world, server, state)[0] == 0
    with world["registry"].engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE seq = 7"))
    code, result = http_audit(world, server, state)
    assert (code, result["outcome"]) == (4, "truncated")


def test_auditor_over_http_unreachable(world, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, result = http_audit(world, f"http://127.0.0.1:{port}", tmp_path / "witness")
    assert (code, result["outcome"]) == (1, "unavailable") and "cannot be reached" in result["detail"]


class Canned:
    """A log that answers with a given proof document (what a hostile service could send)."""

    def __init__(self, doc):
        self.doc = doc

    def proof(self, number):
        return self.doc


@pytest.mark.parametrize("tamper, detail", [
    (lambda d: d["hashes"].__setitem__(0, base64.b64encode(b"\0" * 32).decode()), "is not in the signed tree of 7 events"),
    (lambda d: d["event"].__setitem__("reason", "edited"), "does not match its hash"),
    (lambda d: d.__setitem__("tree_size", 6), "the proof is for 6 events, the checkpoint signs 7"),
    (lambda d: d["event"].__setitem__("number", "SK-2026-000001-X"), "is about SK-2026-000001-X"),
    (lambda d: d.__setitem__("hashes", "not a list"), "the proof's hashes are not a list of base64 strings"),
    (lambda d: d["event"].__setitem__("data", ["not", "a", "dict"]), "is malformed"),
    (lambda d: d.__setitem__("event", None), "is malformed"),
    (lambda d: d["event"].__setitem__("at", "yesterday"), "is malformed"),
])
def test_hostile_proof_documents_fail_with_a_reason(world, tamper, detail):
    from verify.log_audit import LogInclusion
    from verify.log_source import RegistryLog
    from verify.status import RegistryStatus

    number = world["numbers"][1]
    doc = RegistryLog(world["registry"]).proof(number)
    tamper(doc)
    status = RegistryStatus(world["registry"], lambda: NOW).lookup(number)
    check = LogInclusion(Canned(doc), world["keys"].trust_list().log_keys).check(number, status)
    assert (check.outcome.value, check.reason.value) == ("failed", "log_inclusion_failed")
    assert detail in check.detail, check.detail


def test_auditor_state_that_cannot_be_read(world, tmp_path):
    (tmp_path / "state" / "checkpoint").mkdir(parents=True)  # a folder where the kept checkpoint should be
    keys = world["keys"]
    result = CliRunner().invoke(certverify, ["--trust-list", str(keys.trustlist_path), "--root", str(keys.root_cert_path),
                                             "log", "audit", "--registry", world["url"], "--state", str(tmp_path / "state")])
    assert result.exit_code == 1 and "the auditor's state is unreadable" in result.output


def test_seal_and_pdf_with_log_proof(issued):  # noqa: F811
    """Real issued documents: `certverify seal|pdf --log-proof` carry the inclusion check."""
    keys, registry = issued["keys"], issued["registry"]
    tlog.sign_checkpoint(registry, keys.log_signer(PASSPHRASE), now=NOW)
    folder = issued["folder"]
    base = ["--trust-list", str(keys.trustlist_path), "--root", str(keys.root_cert_path), "--registry",
            f"sqlite:///{folder / 'registry.sqlite3'}", "--at", "2026-11-24T10:00:00+07:00", "--log-proof"]
    seal = registry.get(issued["numbers"][0]).seal
    result = CliRunner().invoke(certverify, [*base, "seal", seal, "--json"], catch_exceptions=False)
    report = json.loads(result.output)
    assert result.exit_code == 0 and log_check(report)["reason"] == "log_inclusion_proven"
    pdf = folder / "check.pdf"
    pdf.write_bytes(issued["pdfs"][1])
    result = CliRunner().invoke(certverify, [*base, "pdf", str(pdf), "--json", "--workers", "1"], catch_exceptions=False)
    report = json.loads(result.output.splitlines()[0])
    assert result.exit_code == 0 and log_check(report)["reason"] == "log_inclusion_proven"
    assert report["verdict"] == "VALID"


def test_log_proof_against_a_witness_state_catches_a_fork(world, tmp_path):
    """A verifier who trusts a witness's kept checkpoint: a proof in a tree the witness never saw fails."""
    keys = world["keys"]
    state = tmp_path / "witness"
    assert audit_registry(world, state)[0] == 0
    base = ["--trust-list", str(keys.trustlist_path), "--root", str(keys.root_cert_path), "--registry", world["url"],
            "--at", "2026-11-24T10:00:00+07:00", "--log-state", str(state), "number", world["numbers"][0], "--json"]
    result = CliRunner().invoke(certverify, base, catch_exceptions=False)
    assert result.exit_code == 0 and log_check(json.loads(result.output))["reason"] == "log_inclusion_proven"
    # the history is rewritten and re-signed with the log key: the witness's checkpoint disagrees
    from tests.test_tlog import rewrite_history_from

    rewrite_history_from(world["registry"], 2, "rewritten")
    issue_one(world["registry"], "Later", NOW)
    tlog.sign_checkpoint(world["registry"], world["signer"], now=NOW)
    result = CliRunner().invoke(certverify, base, catch_exceptions=False)
    check = log_check(json.loads(result.output))
    assert result.exit_code == 1 and check["reason"] == "log_inclusion_failed"
    assert "is not consistent with the checkpoint of 7 events the witness kept: a fork" in check["detail"]


def audit_registry(world, state: Path) -> tuple[int, dict]:
    keys = world["keys"]
    result = CliRunner().invoke(certverify, ["--trust-list", str(keys.trustlist_path), "--root", str(keys.root_cert_path),
                                             "log", "audit", "--registry", world["url"], "--state", str(state), "--json"],
                                catch_exceptions=False)
    return result.exit_code, json.loads(result.output)


def test_holder_edited_behind_the_log_fails_the_inclusion_check(world):
    """The issue event carries the whole state (section 1): the registry's holder must be its holder."""
    with world["registry"].engine.begin() as conn:
        conn.execute(text("UPDATE certificates SET holder = 'Forged Name' WHERE number = :n"), {"n": world["numbers"][0]})
    code, report = verify_number(world, world["numbers"][0], world["url"])
    check = log_check(report)
    assert code == 1 and report["verdict"] == "INVALID"
    assert check["reason"] == "log_inclusion_failed"
    assert "is not the state its latest logged event (issue, event 1) commits to" in check["detail"]


def test_row_edited_after_a_status_change_fails_the_inclusion_check(world):
    """The latest event of this one is a suspension (only a digest of the state): the row's state,
    served with the proof, must have that digest."""
    number = world["numbers"][1]
    with world["registry"].engine.begin() as conn:
        conn.execute(text("UPDATE certificates SET scheme = 'Another scheme' WHERE number = :n"), {"n": number})
    code, report = verify_number(world, number, world["url"])
    check = log_check(report)
    assert code == 1 and check["reason"] == "log_inclusion_failed"
    assert "is not the state its latest logged event (suspend, event 7) commits to" in check["detail"]


def test_a_served_state_that_disagrees_with_the_page_fails(world):
    """A hostile service: the state it serves has the right digest, but the number look-up shows another holder."""
    from verify.log_audit import LogInclusion
    from verify.log_source import RegistryLog
    from verify.status import RegistryStatus

    number = world["numbers"][0]
    doc = RegistryLog(world["registry"]).proof(number)
    status = RegistryStatus(world["registry"], lambda: NOW).lookup(number)
    from dataclasses import replace

    shown = replace(status, holder="Someone Else")
    check = LogInclusion(Canned(doc), world["keys"].trust_list().log_keys).check(number, shown)
    assert check.reason.value == "log_inclusion_failed" and "with another holder" in check.detail


def test_entry_endpoint_withholds_an_applicants_record_but_proves_it(client, world):
    """An application's event carries the client's name and email: the public leaf document
    shows only its hash, and the auditor still proves its place in the signed tree."""
    from certgen.service.applications import NewApplication
    from tests.service_helpers import at, register
    from verify.log_source import entry_problem

    apps = register(world["registry"])
    apps.new(NewApplication("product-type1", "PT Rahasia Sekali", "website", email="pemilik@rahasia.example"),
             now=at("2026-11-02", 9), actor="ana")
    tlog.sign_checkpoint(world["registry"], world["signer"], now=NOW, folder=world["settings"].data_dir / "log")
    response = client.get("/api/v1/log/entry/7")
    assert response.status_code == 200
    doc = response.json()
    assert doc["event"]["redacted"] is True and doc["event"]["type"] == "application"
    assert "Rahasia" not in response.text and "pemilik@" not in response.text
    head = open_tree_head(doc["checkpoint"], world["keys"].trust_list().log_keys).head
    assert entry_problem(doc, head) is None
    forged = dict(doc, event=dict(doc["event"], hash="0" * 64))
    assert "not in the signed tree" in entry_problem(forged, head)
    hidden = dict(doc, event=dict(doc["event"], type="withdraw"))
    assert "content was withheld" in entry_problem(hidden, head)
    certificate = client.get("/api/v1/log/entry/6").json()  # a certificate's event stays readable
    assert certificate["event"]["type"] == "suspend" and "redacted" not in certificate["event"]
