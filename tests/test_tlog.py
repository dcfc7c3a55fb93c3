"""The transparency log end to end: checkpoints signed by the log key, files under the data
folder, and the attacks of issue 9 (rollback, truncation, fork, re-signing with another key),
each named by `certgen log --verify` AND by `certverify log audit`."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import timedelta
from unittest.mock import patch
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from certgen.cli import main as certgen
from certgen.keys import KeyStore
from certgen.note import LogSigner, TreeHead, open_tree_head, parse_tree_head, sign_tree_head
from certgen.registry import Registry, merkle, tlog
from certgen.registry.chain import event_hash
from certgen.trust import TrustList
from tests.conftest import NOW, PASSPHRASE
from tests.test_log_migration import landed_code, landed_sqlite, old_registry  # noqa: F401 - fixtures
from tests.registry_helpers import issue_one
from verify.cli import main as certverify


@pytest.fixture
def reg(settings):
    registry = Registry.open(settings.registry_url)
    yield registry
    registry.close()


@pytest.fixture
def log_signer(fresh_keystore):
    return fresh_keystore.log_signer(PASSPHRASE)


def sign(registry, signer, settings, *, files=True, now=NOW):
    return tlog.sign_checkpoint(registry, signer, now=now, folder=settings.data_dir / "log" if files else None)


def log_verify(cli) -> tuple[int, dict]:
    result = cli(certgen, ["log", "--verify", "--json"])
    return result.exit_code, json.loads(result.output)


def audit(keystore: KeyStore, state: Path, *source: str) -> tuple[int, dict]:
    result = CliRunner().invoke(certverify, ["--trust-list", str(keystore.trustlist_path), "--root", str(keystore.root_cert_path),
                                             "log", "audit", *source, "--state", str(state), "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.output)


def sql(registry: Registry, *statements: str) -> None:
    with registry.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def events_root(registry: Registry, size: int | None = None) -> bytes:
    hashes = [bytes.fromhex(e.hash) for e in registry.iter_events()]
    return merkle.root_of(hashes[:size])


def rewrite_history_from(registry: Registry, seq: int, reason: str) -> None:
    """What an insider with write access does: change event `seq`, then recompute the chain after it."""
    events = registry.events()
    prev = events[seq - 2].hash if seq > 1 else "0" * 64
    with registry.engine.begin() as conn:
        for e in events[seq - 1:]:
            new_reason = reason if e.seq == seq else e.reason
            digest = event_hash(prev, seq=e.seq, at=e.at, type=e.type.value, number=e.number, actor=e.actor,
                                reason=new_reason, data=e.data, actor_salt=e.actor_salt)
            conn.execute(text("UPDATE events SET reason = :r, prev_hash = :p, hash = :h WHERE seq = :s"),
                         {"r": new_reason, "p": prev, "h": digest, "s": e.seq})
            prev = digest
        conn.execute(text("UPDATE chain_head SET hash = :h"), {"h": prev})
        conn.execute(text("DELETE FROM log_nodes"))
        conn.execute(text("DELETE FROM tree_heads"))
        tlog.rebuild_tree(conn)


def withdraw_all(registry: Registry, numbers: list[str]) -> None:
    for number in numbers:
        registry.withdraw(number, reason="fraud", now=NOW, actor="tester")


def problems(report: dict) -> list[str]:
    return [f"{p['where']}: {p['what']}" for p in report["problems"]]


def codes(report: dict) -> set[str]:
    return {p["code"] for p in report["problems"]}


# -- the happy path ---------------------------------------------------------------------------

def test_checkpoint_command_signs_the_tree_and_writes_files(cli, reg, settings, fresh_keystore):
    numbers = [issue_one(reg, f"Holder {i}", NOW).number for i in range(3)]
    reg.suspend(numbers[0], reason="audit", now=NOW, actor="tester")
    result = cli(certgen, ["checkpoint"])
    assert result.exit_code == 0 and "tree of 4 events" in result.output
    head = tlog.latest_tree_head(reg)
    folder = settings.data_dir / "log"
    assert (folder / "checkpoints" / "4.txt").read_text() == head.note == (folder / "checkpoint").read_text()
    signed = open_tree_head(head.note, fresh_keystore.trust_list().log_keys).head
    assert (signed.origin, signed.size, signed.root) == ("verifikasi.example.id/log", 4, events_root(reg))
    lines = head.note.split("\n")
    assert lines[1:4] == ["4", base64.b64encode(signed.root).decode(),
                          "time 2026-11-24T03:00:00.000000Z"]
    assert lines[4] == "" and lines[5].startswith("\u2014 verifikasi.example.id/log ")
    code, report = log_verify(cli)
    assert code == 0 and report["checkpoints"] == 1, report


def test_latest_file_is_not_replaced_by_a_smaller_tree(tmp_path, log_signer):
    small = sign_tree_head(TreeHead(log_signer.name, 3, b"\x01" * 32, NOW), log_signer)
    large = sign_tree_head(TreeHead(log_signer.name, 9, b"\x02" * 32, NOW), log_signer)
    tlog.write_checkpoint_file(tmp_path, 9, large)
    tlog.write_checkpoint_file(tmp_path, 3, small)
    assert (tmp_path / "checkpoint").read_text() == large
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["3.txt", "9.txt"]


def test_proofs_from_the_stored_tree_check_against_the_checkpoint(reg, settings, log_signer):
    for i in range(5):
        issue_one(reg, f"Holder {i}", NOW)
    first = sign(reg, log_signer, settings)
    for i in range(5, 13):
        issue_one(reg, f"Holder {i}", NOW)
    second = sign(reg, log_signer, settings)
    root1, root2 = bytes.fromhex(first.root_hash), bytes.fromhex(second.root_hash)
    assert root2 == events_root(reg)
    proof = tlog.consistency_proof(reg, 5, 13)
    assert merkle.verify_consistency(5, 13, root1, root2, proof)
    for index, event in enumerate(reg.iter_events()):
        path = tlog.inclusion_proof(reg, index, 13)
        assert merkle.verify_inclusion(merkle.leaf_hash(bytes.fromhex(event.hash)), index, 13, path, root2)


def test_signing_refuses_a_log_with_a_gap_or_rewritten_under_the_tree(reg, settings, log_signer):
    for i in range(4):
        issue_one(reg, f"Holder {i}", NOW)
    sign(reg, log_signer, settings)
    issue_one(reg, "Holder 4", NOW)
    issue_one(reg, "Holder 5", NOW)
    sql(reg, "DELETE FROM events WHERE seq = 5")
    with pytest.raises(Exception, match="event 5 is missing"):
        sign(reg, log_signer, settings)
    sql(reg, "UPDATE events SET hash = 'ab' || substr(hash, 3) WHERE seq = 4")
    with pytest.raises(Exception, match="event 4 is no longer the leaf"):
        sign(reg, log_signer, settings)


def test_unsigned_tree_nodes_are_rebuilt_when_the_events_changed_under_them(reg, settings, log_signer):
    """A migration after 0004 that rewrites event hashes: no tree head signs the old nodes yet,
    so the next checkpoint rebuilds them from the events."""
    for i in range(5):
        issue_one(reg, f"Holder {i}", NOW)
    with reg.engine.begin() as conn:
        tlog.extend_tree(conn)
    rewrite_history_from(reg, 2, "rewritten by a migration")
    with reg.engine.begin() as conn:
        conn.execute(text("UPDATE log_nodes SET hash = X'" + "11" * 32 + "' WHERE id = 8"))  # the last leaf now stale
    head = sign(reg, log_signer, settings)
    assert head.size == 5 and bytes.fromhex(head.root_hash) == events_root(reg)


# -- the log key --------------------------------------------------------------------------------

def test_log_key_is_encrypted_private_and_named_by_the_trust_list(fresh_keystore):
    path = fresh_keystore.log_key_path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in path.read_bytes()
    trust = TrustList.load_signed(fresh_keystore.trustlist_path.read_bytes(), fresh_keystore.root_certificate())
    assert trust.log_keys == (fresh_keystore.log_key(),)
    with pytest.raises(Exception, match="wrong passphrase"):
        fresh_keystore.log_signer(b"not-the-passphrase")


def test_old_trust_list_without_log_keys_still_loads(fresh_keystore):
    root_key = fresh_keystore._load_private(fresh_keystore.root_key_path, PASSPHRASE)
    old = TrustList(fresh_keystore.trust_list().signers).to_signed_json(root_key, fresh_keystore.root_certificate(), NOW)
    assert b"log_keys" not in old
    assert TrustList.load_signed(old, fresh_keystore.root_certificate()).log_keys == ()


def test_init_log_adds_a_log_key_to_an_older_key_folder(cli, fresh_keystore):
    state = json.loads(fresh_keystore.state_path.read_text())
    del state["log"]
    fresh_keystore.state_path.write_text(json.dumps(state))
    fresh_keystore.log_key_path.unlink()
    assert cli(certgen, ["checkpoint"]).exit_code == 0  # falls back to the DSC-signed chain head
    result = cli(certgen, ["keys", "init-log", "--origin", "registry.example.id/log"])
    assert result.exit_code == 0, result.output
    trust = TrustList.load_signed(fresh_keystore.trustlist_path.read_bytes(), fresh_keystore.root_certificate())
    assert [k.name for k in trust.log_keys] == ["registry.example.id/log"]
    again = cli(certgen, ["keys", "init-log"])
    assert again.exit_code == 1 and "a log key exists already" in again.output


# -- attacks, each named by both checkers ----------------------------------------------------------

def test_rollback_deleting_checkpoints_and_events(cli, reg, settings, fresh_keystore, log_signer, tmp_path):
    """Issue 9's rollback: the newest checkpoint and the events after the one before are deleted,
    the chain head rewritten and the statuses set back. The files and the auditor remember."""
    url = ["--registry", settings.registry_url]
    numbers = [issue_one(reg, f"Holder {i}", NOW).number for i in range(4)]
    sign(reg, log_signer, settings)
    assert audit(fresh_keystore, tmp_path / "auditor", *url)[1]["outcome"] == "first"
    withdraw_all(reg, numbers[:3])
    sign(reg, log_signer, settings)
    assert audit(fresh_keystore, tmp_path / "auditor", *url)[1]["outcome"] == "extended"
    sql(reg, "DELETE FROM tree_heads WHERE size = 7", "DELETE FROM events WHERE seq > 4",
        "UPDATE chain_head SET seq = 4, hash = (SELECT hash FROM events WHERE seq = 4)",
        "UPDATE certificates SET status = 'active', status_reason = NULL")
    code, report = log_verify(cli)
    assert code == 1
    folder = settings.data_dir / "log"
    assert (f"checkpoint file {folder / 'checkpoints' / '7.txt'}: signs a log of 7 events, but the database has 4: "
            "the log was rolled back (events deleted)") in problems(report)
    assert any(p.startswith(f"checkpoint file {folder / 'checkpoint'}: signs a log of 7 events") for p in problems(report))
    assert "log_rolled_back" in codes(report)
    code, result = audit(fresh_keystore, tmp_path / "auditor", *url)
    assert (code, result["outcome"]) == (4, "rollback")
    assert result["detail"] == "the log shrank from 7 to 4 events: a rollback"
    assert Path(result["evidence"]).read_text() == tlog.latest_tree_head(reg).note


def test_truncated_log_below_its_checkpoint(cli, reg, settings, fresh_keystore, log_signer, tmp_path):
    url = ["--registry", settings.registry_url]
    for i in range(6):
        issue_one(reg, f"Holder {i}", NOW)
    sign(reg, log_signer, settings)
    assert audit(fresh_keystore, tmp_path / "auditor", *url)[0] == 0
    sql(reg, "DELETE FROM events WHERE seq > 4", "UPDATE chain_head SET seq = 4, hash = (SELECT hash FROM events WHERE seq = 4)")
    code, report = log_verify(cli)
    assert code == 1
    assert ("checkpoint 1 (tree size 6): signs a log of 6 events, but the database has 4: "
            "the log was rolled back (events deleted)") in problems(report)
    assert "log_rolled_back" in codes(report)
    code, result = audit(fresh_keystore, tmp_path / "auditor", *url)
    assert (code, result["outcome"]) == (4, "truncated")
    assert "event 6, signed by the latest checkpoint, is not in the log" in result["detail"]


def test_history_rewritten_and_resigned_with_the_log_key_is_a_fork(cli, reg, settings, fresh_keystore, log_signer, tmp_path):
    """An insider who also holds the log key rewrites event 2 and signs the new tree: the files
    under the data folder and every auditor still hold the old root."""
    url = ["--registry", settings.registry_url]
    numbers = [issue_one(reg, f"Holder {i}", NOW).number for i in range(3)]
    withdraw_all(reg, numbers[:2])
    sign(reg, log_signer, settings)
    assert audit(fresh_keystore, tmp_path / "auditor", *url)[0] == 0
    rewrite_history_from(reg, 4, "never mind")
    sign(reg, log_signer, settings, files=False)
    code, report = log_verify(cli)
    assert code == 1
    assert (f"checkpoint file {settings.data_dir / 'log' / 'checkpoints' / '5.txt'}: signs another root for the first 5 "
            "events than they have now: the history was rewritten (a fork)") in problems(report)
    assert "log_forked" in codes(report)
    code, result = audit(fresh_keystore, tmp_path / "auditor", *url)
    assert (code, result["outcome"]) == (5, "fork")
    assert result["detail"] == "two different trees of 5 events are signed: a fork"
    # and once it grows, the consistency proof from the old tree fails
    issue_one(reg, "Holder 9", NOW)
    sign(reg, log_signer, settings, files=False)
    code, result = audit(fresh_keystore, tmp_path / "auditor", *url)
    assert (code, result["outcome"]) == (5, "fork")
    assert "does not extend the tree of 5 accepted before" in result["detail"]


def test_two_registries_signed_by_the_same_log_key_are_a_fork(settings, fresh_keystore, log_signer, tmp_path):
    a = Registry.open(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    b = Registry.open(f"sqlite:///{tmp_path / 'b.sqlite3'}")
    for i in range(5):
        issue_one(a, f"Alice {i}", NOW)
        issue_one(b, f"Bob {i}", NOW)
    tlog.sign_checkpoint(a, log_signer, now=NOW)
    tlog.sign_checkpoint(b, log_signer, now=NOW)
    state = tmp_path / "auditor"
    assert audit(fresh_keystore, state, "--registry", f"sqlite:///{tmp_path / 'a.sqlite3'}")[1]["outcome"] == "first"
    code, result = audit(fresh_keystore, state, "--registry", f"sqlite:///{tmp_path / 'b.sqlite3'}")
    assert (code, result["outcome"]) == (5, "fork")
    issue_one(b, "Bob 5", NOW)
    tlog.sign_checkpoint(b, log_signer, now=NOW)
    code, result = audit(fresh_keystore, state, "--registry", f"sqlite:///{tmp_path / 'b.sqlite3'}")
    assert (code, result["outcome"]) == (5, "fork")


def test_history_resigned_with_a_key_that_is_not_the_log_key(cli, reg, settings, fresh_keystore, log_signer, tmp_path):
    url = ["--registry", settings.registry_url]
    numbers = [issue_one(reg, f"Holder {i}", NOW).number for i in range(3)]
    withdraw_all(reg, numbers[:1])
    sign(reg, log_signer, settings)
    assert audit(fresh_keystore, tmp_path / "auditor", *url)[0] == 0
    rewrite_history_from(reg, 4, "a different reason")
    impostor = LogSigner(log_signer.name, Ed25519PrivateKey.generate())  # same name, another key
    sign(reg, impostor, settings, files=False)
    code, report = log_verify(cli)
    assert code == 1
    assert any(p.startswith("checkpoint 1 (tree size 4): is not signed by the trust list's log key") for p in problems(report))
    assert "tree_head_unknown_key" in codes(report)
    code, result = audit(fresh_keystore, tmp_path / "auditor", *url)
    assert (code, result["outcome"]) == (3, "unknown_key")
    assert "not a log key of the trust list" in result["detail"]


def test_altered_checkpoint_text_is_a_bad_signature(cli, reg, settings, fresh_keystore, log_signer, tmp_path):
    for i in range(3):
        issue_one(reg, f"Holder {i}", NOW)
    head = sign(reg, log_signer, settings)
    forged = head.note.replace("\n3\n", "\n2\n", 1)
    sql(reg, f"UPDATE tree_heads SET note = '{forged}'")
    code, report = log_verify(cli)
    assert code == 1 and any(p.startswith("checkpoint 1 (tree size 3): signature does not verify") for p in problems(report))
    code, result = audit(fresh_keystore, tmp_path / "auditor", "--registry", settings.registry_url)
    assert (code, result["outcome"]) == (3, "bad_signature")


def test_checkpoints_deleted_from_the_database_are_named_by_their_files(cli, reg, settings, log_signer):
    for i in range(3):
        issue_one(reg, f"Holder {i}", NOW)
    sign(reg, log_signer, settings)
    sql(reg, "DELETE FROM tree_heads")
    code, report = log_verify(cli)
    assert code == 1
    assert (f"checkpoint file {settings.data_dir / 'log' / 'checkpoints' / '3.txt'}: tree size 3 is not among the "
            "database's checkpoints: checkpoints were deleted from the database") in problems(report)


def test_edited_tree_nodes_are_named(cli, reg, settings, log_signer):
    for i in range(4):
        issue_one(reg, f"Holder {i}", NOW)
    sign(reg, log_signer, settings)
    sql(reg, "UPDATE log_nodes SET hash = X'" + "00" * 32 + "' WHERE id = 1")
    code, report = log_verify(cli)
    assert code == 1
    assert "Merkle tree: 1 stored tree node(s) differ from the events: proofs served from them would fail" in problems(report)


def test_auditor_unchanged_and_unavailable(reg, settings, fresh_keystore, log_signer, tmp_path):
    url = ["--registry", settings.registry_url]
    code, result = audit(fresh_keystore, tmp_path / "auditor", *url)
    assert (code, result["outcome"]) == (1, "unavailable") and "no signed checkpoint" in result["detail"]
    issue_one(reg, "Holder", NOW)
    sign(reg, log_signer, settings)
    assert audit(fresh_keystore, tmp_path / "auditor", *url)[1]["outcome"] == "first"
    code, result = audit(fresh_keystore, tmp_path / "auditor", *url)
    assert (code, result["outcome"]) == (0, "unchanged")
    assert parse_tree_head((tmp_path / "auditor" / "checkpoint").read_bytes())[0].size == 1


# -- migration ------------------------------------------------------------------------------------

def registry_at_0002(url: str, keystore: KeyStore) -> None:
    """A registry made with the schema before the transparency log (revision 0002): ten events
    and a v1 checkpoint signed by the DSC."""
    from alembic import command
    from alembic.config import Config

    from certgen.registry import engine as engine_mod

    engine = engine_mod.make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(engine_mod.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        # today's Registry writes the columns of 0010_card_editions and 0013_actor_commitment (all null
        # here: events as the code before 0012 wrote them, the name in the hash): lend them for the writes
        for column in ("card_edition INTEGER", "card_seal TEXT"):
            connection.exec_driver_sql(f"ALTER TABLE certificates ADD COLUMN {column}")
        connection.exec_driver_sql("ALTER TABLE events ADD COLUMN actor_salt VARCHAR(32)")
    old = Registry(engine)
    with patch("certgen.registry.repository._actor_salt", lambda: None):
        numbers = [issue_one(old, f"Holder {i}", NOW).number for i in range(9)]
        old.withdraw(numbers[0], reason="fraud", now=NOW, actor="tester")
        old.checkpoint(keystore.current_signer(PASSPHRASE, now=NOW), now=NOW)
    with engine.begin() as connection:
        for column in ("card_edition", "card_seal"):
            connection.exec_driver_sql(f"ALTER TABLE certificates DROP COLUMN {column}")
        connection.exec_driver_sql("ALTER TABLE events DROP COLUMN actor_salt")
    engine.dispose()


@pytest.mark.postgres
def test_migration_on_postgresql(postgres_url, fresh_keystore, log_signer, tmp_path):
    registry_at_0002(postgres_url, fresh_keystore)
    upgraded = Registry.open(postgres_url)
    try:
        head = tlog.sign_checkpoint(upgraded, log_signer, now=NOW, folder=tmp_path / "log")
        assert head.size == 19 and bytes.fromhex(head.root_hash) == events_root(upgraded)
        assert tlog.check_tree(upgraded, fresh_keystore.trust_list(), tmp_path / "log") == []
    finally:
        upgraded.close()


def test_migration_builds_the_tree_of_an_existing_registry(tmp_path, fresh_keystore, log_signer, cli, settings):
    """The registry of `registry_at_0002`, upgraded in place."""
    registry_at_0002(settings.registry_url, fresh_keystore)
    upgraded = Registry.open(settings.registry_url)
    size = len(upgraded.events())  # 10, and one attest event per issued certificate (migration 0003)
    assert size == 19
    stored = tlog.inclusion_proof(upgraded, 3, size)
    assert merkle.verify_inclusion(merkle.leaf_hash(bytes.fromhex(upgraded.events()[3].hash)), 3, size, stored,
                                   events_root(upgraded))
    head = sign(upgraded, log_signer, settings)
    assert head.size == size and bytes.fromhex(head.root_hash) == events_root(upgraded)
    code, report = log_verify(cli)
    assert code == 0 and report["checkpoints"] == 2, report  # the v1 checkpoint still verifies


# -- the note format ------------------------------------------------------------------------------

def test_checkpoint_parser_names_what_is_wrong(log_signer):
    good = sign_tree_head(TreeHead(log_signer.name, 12, b"\x07" * 32, NOW), log_signer)
    keys = [log_signer.public]
    assert open_tree_head(good.encode(), keys).head.size == 12
    cases = {
        good.replace("\n12\n", "\n012\n"): "line 2: tree size '012' is not a decimal number",
        good.replace("\n\n", "\n"): "no blank line",
        good.replace("time 2026", "time 1026x"): "line 4: time",
        good.replace(good.split("\n")[2], "AAAA"): "line 3: root hash is not the base64 of 32 bytes",
        good.split("\n\n")[0] + "\n\n": "carries no signature",
        good.replace("\u2014 ", "- "): "is not '\u2014 name base64'",
        good.rstrip("\n"): "no final newline",
        good.replace("12", "1\x002"): "control characters",
        "x" * 9000: "larger than 8192 bytes",
    }
    for text, message in cases.items():
        with pytest.raises(Exception, match=None) as caught:
            open_tree_head(text, keys)
        assert message in str(caught.value), (message, str(caught.value))
        assert caught.value.problem.value == "malformed"


def test_checkpoint_signature_and_key_checks(log_signer):
    good = sign_tree_head(TreeHead(log_signer.name, 12, b"\x07" * 32, NOW), log_signer)
    keys = [log_signer.public]
    with pytest.raises(Exception) as caught:
        open_tree_head(good.replace("\n12\n", "\n13\n"), keys)
    assert caught.value.problem.value == "bad_signature"
    other = LogSigner("another.example/log", Ed25519PrivateKey.generate())
    with pytest.raises(Exception) as caught:
        open_tree_head(sign_tree_head(TreeHead(other.name, 12, b"\x07" * 32, NOW), other), keys)
    assert caught.value.problem.value == "unknown_key"
    # a trusted key signing another log's origin: refused
    wrong_origin = sign_tree_head(TreeHead("another.example/log", 12, b"\x07" * 32, NOW), log_signer)
    with pytest.raises(Exception) as caught:
        open_tree_head(wrong_origin, keys)
    assert caught.value.problem.value == "bad_signature" and "is signed by the key of log" in str(caught.value)
    # an extra signature by an unknown key (a witness cosignature, say) is ignored
    cosigned = good + f"\u2014 witness.example {base64.b64encode(b'abcd' + bytes(64)).decode()}\n"
    assert open_tree_head(cosigned, keys).head.size == 12
    assert open_tree_head(good, keys).head.time == NOW
    assert open_tree_head(sign_tree_head(TreeHead(log_signer.name, 0, merkle.EMPTY_ROOT, NOW + timedelta(days=1)), log_signer),
                          keys).head.size == 0


def test_documented_example_checkpoint_byte_for_byte():
    """docs/registry.md, "Text form": the test key is the private key bytes 0..31."""
    from datetime import datetime, timezone

    signer = LogSigner("verifikasi.example.id/log", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    root = merkle.root_of([i.to_bytes(32, "big") for i in range(3)])
    text_ = sign_tree_head(TreeHead(signer.name, 3, root, datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)), signer)
    doc = (Path(__file__).parent.parent / "docs" / "registry.md").read_text()
    assert signer.public.vkey == "verifikasi.example.id/log+0e407cdc+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
    assert signer.public.vkey in doc
    assert "\n".join("    " + line if line else "" for line in text_.rstrip("\n").split("\n")) in doc


def test_an_issuing_batch_ends_with_a_signed_tree_head(tmp_path, fresh_keystore, log_signer):
    from certgen.batch import BatchOptions, IssueEnvironment, run_batch
    from certgen.model import DocumentKind
    from tests.test_batch import URL, person_rows

    registry = Registry.open(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    folder = tmp_path / "data" / "log"
    env = IssueEnvironment(registry=registry, signer=fresh_keystore.current_signer(PASSPHRASE, now=NOW),
                           chain=[fresh_keystore.root_certificate()], verify_url=URL, now=lambda: NOW, actor="tester",
                           sign_tree_head=lambda: tlog.sign_checkpoint(registry, log_signer, now=NOW, folder=folder))
    summary = run_batch(BatchOptions(DocumentKind.PERSON, person_rows(tmp_path / "in", 2), tmp_path / "out", workers=1), env)
    assert summary.issued == 2
    head = tlog.latest_tree_head(registry)
    assert head.size == 2 and (folder / "checkpoint").read_text() == head.note
    assert bytes.fromhex(head.root_hash) == events_root(registry)
    registry.close()


@pytest.mark.postgres
def test_tree_and_checks_on_postgresql(postgres_url, fresh_keystore, log_signer, tmp_path):
    registry = Registry.open(postgres_url)
    try:
        for i in range(11):
            issue_one(registry, f"Holder {i}", NOW)
        first = tlog.sign_checkpoint(registry, log_signer, now=NOW, folder=tmp_path / "log")
        issue_one(registry, "Holder 11", NOW)
        second = tlog.sign_checkpoint(registry, log_signer, now=NOW, folder=tmp_path / "log")
        assert bytes.fromhex(second.root_hash) == events_root(registry)
        assert merkle.verify_consistency(11, 12, bytes.fromhex(first.root_hash), bytes.fromhex(second.root_hash),
                                         tlog.consistency_proof(registry, 11, 12))
        assert tlog.check_tree(registry, fresh_keystore.trust_list(), tmp_path / "log") == []
    finally:
        registry.close()


def test_a_malformed_event_hash_is_named_not_a_crash(cli, reg, settings, log_signer):
    for i in range(3):
        issue_one(reg, f"Holder {i}", NOW)
    sign(reg, log_signer, settings)
    issue_one(reg, "Holder 3", NOW)
    sql(reg, "UPDATE events SET hash = 'not hex at all' WHERE seq = 2", "UPDATE events SET hash = 'zz' WHERE seq = 4")
    code, report = log_verify(cli)
    assert code == 1
    assert any(p.startswith("checkpoint 1 (tree size 3): signs another root") for p in problems(report)), problems(report)
    with pytest.raises(Exception, match="event 4 has no well-formed hash"):
        sign(reg, log_signer, settings)
    assert cli(certgen, ["checkpoint"]).exit_code == 1


def test_a_hostile_file_name_is_escaped(cli, reg, settings, log_signer):
    issue_one(reg, "Holder", NOW)
    sign(reg, log_signer, settings)
    (settings.data_dir / "log" / "checkpoints" / "\x1b[2Jevil.txt").write_text("garbage")
    code, report = log_verify(cli)
    assert code == 1 and any("\\x1b[2Jevil.txt: is malformed" in p for p in problems(report)), problems(report)


def test_witnesses_comparing_checkpoints_catch_a_split_view(fresh_keystore, log_signer, tmp_path):
    """The service shows witness A one tree and witness B another (two databases, one log key):
    each alone sees a consistent log; B given A's kept checkpoint names the split view."""
    urls = {name: f"sqlite:///{tmp_path / name}.sqlite3" for name in ("a", "b")}
    logs = {name: Registry.open(url) for name, url in urls.items()}
    for i in range(4):
        for name, registry in logs.items():
            issue_one(registry, f"{name} {i}", NOW)
    for registry in logs.values():
        tlog.sign_checkpoint(registry, log_signer, now=NOW)
    assert audit(fresh_keystore, tmp_path / "A", "--registry", urls["a"])[0] == 0
    assert audit(fresh_keystore, tmp_path / "B", "--registry", urls["b"])[0] == 0
    peer = ["--peer", str(tmp_path / "A" / "checkpoint")]
    code, result = audit(fresh_keystore, tmp_path / "B", "--registry", urls["b"], *peer)
    assert (code, result["outcome"]) == (5, "fork") and "a split view" in result["detail"]
    # a peer who kept an earlier checkpoint of the same log is consistent with it
    issue_one(logs["a"], "a 4", NOW)
    tlog.sign_checkpoint(logs["a"], log_signer, now=NOW)
    code, result = audit(fresh_keystore, tmp_path / "A2", "--registry", urls["a"], *peer)
    assert (code, result["outcome"]) == (0, "first")
    for registry in logs.values():
        registry.close()


def test_concurrent_issuers_and_signers_keep_one_consistent_tree(settings, fresh_keystore, log_signer):
    """Two writers (own connections) each issuing and signing checkpoints at once: the tree and
    every checkpoint and file check out, and the latest file names the largest tree."""
    import threading

    folder = settings.data_dir / "log"
    Registry.open(settings.registry_url).close()
    errors: list[BaseException] = []

    def work(name: str) -> None:
        registry = Registry.open(settings.registry_url, migrate=False)
        try:
            for i in range(6):
                issue_one(registry, f"{name} {i}", NOW)
                tlog.sign_checkpoint(registry, log_signer, now=NOW, folder=folder)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            registry.close()

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    registry = Registry.open(settings.registry_url)
    heads = tlog.tree_heads(registry)
    assert len(heads) == 12 and heads[-1].size == 12
    assert tlog.check_tree(registry, fresh_keystore.trust_list(), folder) == []
    assert parse_tree_head((folder / "checkpoint").read_bytes())[0].size == 12
    registry.close()


def test_a_registry_issued_by_the_landed_code_gets_its_tree(old_registry, tmp_path):  # noqa: F811
    """A registry written by the landed code (commit e8c391b, schema 0002), upgraded in place by
    0003 (attest events) and 0004 (the tree); its key folder gets a log key with init-log."""
    url, keys, numbers = old_registry
    registry = Registry.open(url)
    try:
        events = registry.events()
        assert sum(e.type.value == "attest" for e in events) == 5
        keys.init_log(PASSPHRASE, now=NOW, origin="registry.example.id/log")
        head = tlog.sign_checkpoint(registry, keys.log_signer(PASSPHRASE), now=NOW, folder=tmp_path / "log")
        assert head.size == len(events) and bytes.fromhex(head.root_hash) == events_root(registry)
        trust = TrustList.load_signed(keys.trustlist_path.read_bytes(), keys.root_certificate())
        from certgen.registry import verify_log

        report = verify_log(registry, trust, keys.root_certificate(), extra_checks=[tlog.tree_check(trust, tmp_path / "log")])
        assert report.ok, report.problems
        index = [e.number for e in events].index(numbers[2])
        proof = tlog.inclusion_proof(registry, index, head.size)
        assert merkle.verify_inclusion(merkle.leaf_hash(bytes.fromhex(events[index].hash)), index, head.size, proof,
                                       bytes.fromhex(head.root_hash))
    finally:
        registry.close()
