import json
from dataclasses import replace
from datetime import timedelta

from click.testing import CliRunner

from certgen.cli import main as certgen
from certgen.cli_support import AppContext
from certgen.keys import KeyStore
from certgen.registry import Registry
from tests.conftest import NOW, PASSPHRASE
from tests.registry_helpers import issue_one
from verify.cli import main as certverify


def test_keys_init_refuses_existing_keys(cli, settings):
    before = {p.name: p.read_bytes() for p in settings.keys_dir.iterdir()}
    result = cli(certgen, ["keys", "init"])
    assert result.exit_code == 1
    assert "keys already exist; refusing to overwrite them" in result.output
    assert {p.name: p.read_bytes() for p in settings.keys_dir.iterdir()} == before


def test_keys_init_in_an_empty_folder(cli, settings, tmp_path):
    empty = replace(settings, keys_dir=tmp_path / "newkeys")
    app = AppContext(settings=empty, now=lambda: NOW, environ={"CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode()})
    result = CliRunner().invoke(certgen, ["keys", "init", "--algorithm", "ec-p256"], obj=app)
    assert result.exit_code == 0, result.output
    store = KeyStore(empty.keys_dir)
    assert len(store.signers()) == 1 and store.trustlist_path.exists()


def test_rotate_revoke_and_trustlist_checked_by_certverify(cli, settings):
    first = KeyStore(settings.keys_dir).signers()[0].kid.hex()
    assert cli(certgen, ["keys", "rotate"]).exit_code == 0
    result = cli(certgen, ["keys", "revoke", first, "--at", "2026-11-20T09:00:00+07:00", "--reason", "laptop stolen"])
    assert result.exit_code == 0, result.output
    assert "revoked from 2026-11-20 02:00:00Z" in result.output
    listing = cli(certgen, ["keys", "list"]).output
    assert f"{first}" in listing and "revoked 2026-11-20 02:00Z (laptop stolen)" in listing
    checked = cli(certverify, ["--trust-list", str(settings.keys_dir / "trustlist.json"),
                               "--root", str(settings.keys_dir / "root.cert.pem"), "trustlist"])
    assert checked.exit_code == 0, checked.output
    assert f"{first}  2026-10-23..2036-10-21  revoked from 2026-11-20 02:00Z (laptop stolen)" in checked.output


def test_tampered_trust_list_is_an_error_for_certverify(cli, settings):
    path = settings.keys_dir / "trustlist.json"
    data = json.loads(path.read_text())
    data["signature"] = data["signature"][:-4] + ("AAAA" if not data["signature"].endswith("AAAA") else "BBBB")
    path.write_text(json.dumps(data))
    result = cli(certverify, ["--trust-list", str(path), "--root", str(settings.keys_dir / "root.cert.pem"), "trustlist"])
    assert result.exit_code == 1
    assert "trust list signature does not verify with the root certificate" in result.output


def test_wrong_passphrase_via_cli(cli):
    result = cli(certgen, ["keys", "rotate"], passphrase=b"wrong-passphrase")
    assert result.exit_code == 1 and "root.key.pem: wrong passphrase" in result.output


def test_missing_passphrase_without_a_terminal(cli):
    result = cli(certgen, ["keys", "rotate"], passphrase=None)
    assert result.exit_code == 1 and "set CERTGEN_KEY_PASSPHRASE" in result.output


def test_revoke_time_without_zone_is_refused(cli, settings):
    kid = KeyStore(settings.keys_dir).signers()[0].kid.hex()
    result = cli(certgen, ["keys", "revoke", kid, "--at", "2026-11-20T09:00:00", "--reason", "x"])
    assert result.exit_code == 2 and "has no time zone" in result.output


def test_show_suspend_reinstate_withdraw_and_log(cli, settings):
    registry = Registry.open(settings.registry_url)
    cert = issue_one(registry, "Wayan Sudarsana", NOW - timedelta(days=1))
    result = cli(certgen, ["suspend", cert.number.lower(), "--reason", "complaint received"])
    assert result.exit_code == 0 and f"{cert.number}: suspended" in result.output
    result = cli(certgen, ["show", cert.number])
    assert "status          suspended" in result.output and "suspend   by tester: complaint received" in result.output
    assert cli(certgen, ["reinstate", cert.number, "--reason", "resolved"]).exit_code == 0
    assert cli(certgen, ["withdraw", cert.number, "--reason", "fraud"]).exit_code == 0
    result = cli(certgen, ["reinstate", cert.number, "--reason", "oops"])
    assert result.exit_code == 1 and f"{cert.number} is withdrawn; it cannot be reinstated" in result.output
    shown = json.loads(cli(certgen, ["show", cert.number, "--json"]).output)
    assert shown["status"] == "withdrawn" and [e["type"] for e in shown["events"]] == ["issue", "suspend", "reinstate", "withdraw"]
    assert cli(certgen, ["checkpoint"]).exit_code == 0
    result = cli(certgen, ["log", "--verify"])
    assert result.exit_code == 0 and "log intact: 4 events, 1 signed checkpoints, 1 certificates" in result.output
    with registry.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE events SET reason = 'nothing' WHERE seq = 2")
    result = cli(certgen, ["log", "--verify"])
    assert result.exit_code == 1
    assert f"LOG BROKEN: first break at event 2: content does not match its hash (suspend of {cert.number} was altered)" in result.output
    verdict = json.loads(cli(certgen, ["log", "--verify", "--json"]).output)
    assert verdict["ok"] is False and verdict["first_break"].startswith("event 2:")


def test_mistyped_number_in_cli(cli, settings):
    registry = Registry.open(settings.registry_url)
    cert = issue_one(registry, "Made", NOW)
    typo = cert.number[:8] + cert.number[9] + cert.number[8] + cert.number[10:]
    if typo == cert.number:
        typo = cert.number[:-1] + ("X" if cert.number[-1] != "X" else "Y")
    result = cli(certgen, ["show", typo])
    assert result.exit_code == 1 and "check character does not match" in result.output


def test_certverify_seal_offline(cli, settings, signer):
    from certgen.seal import seal_text, sign_seal
    from tests.test_seal import person_claims
    store = KeyStore(settings.keys_dir)
    own = store.current_signer(PASSPHRASE, now=NOW)
    text = seal_text(sign_seal(person_claims(), own), "https://verifikasi.example.id/v/")
    args = ["--trust-list", str(store.trustlist_path), "--root", str(store.root_cert_path), "--at", "2026-11-24T10:00:00+07:00"]
    result = cli(certverify, [*args, "seal", text])
    assert result.exit_code == 1  # valid seal, but only VALID (status checked) exits 0
    assert result.output.startswith("INDETERMINATE — status not checked (no registry given)")
    assert "seal: seal_valid: seal valid" in result.output
    foreign = seal_text(sign_seal(person_claims(), signer), "https://verifikasi.example.id/v/")
    result = cli(certverify, [*args, "seal", foreign, "--json"])
    assert result.exit_code == 1 and json.loads(result.output)["checks"][0]["reason"] == "seal_unknown_signer"


def test_reports_are_listed_for_staff(cli, settings):
    registry = Registry.open(settings.registry_url)
    registry.add_report(message="Kartu palsu dijual online", number="SK-2026-000001-E", verdict="INVALID", now=NOW)
    result = cli(certgen, ["reports"])
    assert result.exit_code == 0 and "SK-2026-000001-E [INVALID] new: Kartu palsu dijual online" in result.output
    assert json.loads(cli(certgen, ["reports", "--json"]).output)[0]["message"] == "Kartu palsu dijual online"


def test_issue_reports_invalid_rows_before_asking_for_the_passphrase(cli, tmp_path):
    """Without CERTGEN_KEY_PASSPHRASE someone would be asked for it: the row errors come first,
    and nothing is issued."""
    import csv

    from tests.documents import SAMPLES

    with open(SAMPLES / "person.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:3]
    rows[1]["expiry_date"] = "2020-01-01"
    data = tmp_path / "persons.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = cli(certgen, ["issue", "person", str(data), "--photos", str(SAMPLES)], passphrase=None)
    assert result.exit_code == 1
    assert "persons.csv: row 3, column expiry_date" in result.output
    assert "passphrase" not in result.output
    assert not (tmp_path / "data" / "issued").exists()
    # valid rows and no passphrase: now the missing passphrase is the problem
    rows[1]["expiry_date"] = rows[0]["expiry_date"]
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = cli(certgen, ["issue", "person", str(data), "--photos", str(SAMPLES)], passphrase=None)
    assert result.exit_code == 1 and "no key passphrase" in result.output
