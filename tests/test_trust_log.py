"""Published trust lists under the log (certgen.registry.trust_log, verify.logged_trust): a
database writer who deletes, edits, adds or replays trust list rows is named by `certgen log
--verify`, and cannot make a web instance, even a freshly started one with an older file, use an
older signed list (docs/registry.md, "Trust lists in the log"; docs/deploy.md, "Changes live")."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from certgen.cli import main as certgen
from certgen.config import sqlite_url
from certgen.errors import TrustListError
from certgen.keys import KeyStore
from certgen.registry import Registry, live, tlog
from certgen.registry.audit import verify_log
from certgen.registry.chain import event_hash
from certgen.registry.tlog import check_tree
from certgen.trust import TrustList
from tests.conftest import NOW, PASSPHRASE
from tests.test_live_state import _issue
from verify.live import LiveRegistryStatus, LiveState
from verify.report import Reason
from verify.service import Verifier

LATER = NOW + timedelta(minutes=5)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_registry(request, tmp_path):
    url = sqlite_url(tmp_path / "r.sqlite3") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    registry = Registry.open(url)
    yield registry
    registry.close()


def _sql(registry: Registry, *statements: str, **params) -> None:
    with registry.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


def _two_lists(registry: Registry, store) -> tuple[bytes, bytes, object]:
    """The key store's first list, and a later one revoking its signer, both published; the
    signer's seal of a certificate issued before; returns (first, revoked, seal)."""
    root = store.root_certificate()
    first = store.trustlist_path.read_bytes()
    signer = store.current_signer(PASSPHRASE, now=NOW)
    _, seal = _issue(registry, signer, "Ani")
    live.publish_trust_list(registry, first, root, now=NOW, actor="t")
    store.revoke(signer.kid.hex(), at=NOW - timedelta(days=1), reason="kunci bocor")
    revoked = store.signed_trust_list(PASSPHRASE, now=LATER)
    live.publish_trust_list(registry, revoked, root, now=LATER, actor="t")
    return first, revoked, seal


def _problems(registry: Registry, store) -> list[tuple[str, str, str | None]]:
    report = verify_log(registry, store.trust_list(), store.root_certificate())
    return [(p.where, p.code, p.column) for p in report.problems]


def _fresh_instance(registry: Registry, store, data: bytes) -> tuple[LiveState, Verifier]:
    """A web worker just started from the trust list file `data`."""
    root = store.root_certificate()
    trust = TrustList.load_signed(data, root)
    verifier = Verifier(trust, LiveRegistryStatus(registry, lambda: NOW), root, lambda: NOW)
    state = LiveState(registry, root, data, trust, interval=0, on_trust=lambda d, t, k: verifier.use_trust(t, k),
                      listeners=[verifier.status])
    state.poll()
    return state, verifier


def test_each_published_list_is_an_event_carrying_the_list(registry, fresh_keystore):
    first, revoked, _seal = _two_lists(registry, fresh_keystore)
    events = [e for e in registry.events() if e.type.value == "trustlist"]
    assert [(e.number, e.data["list"].encode(), e.data["trust_list"]["id"]) for e in events] == [
        ("trustlist", first, "1"), ("trustlist", revoked, "2")]
    assert events[1].data["trust_list"]["issued_at"] == "2026-11-24T03:05:00.000000Z"
    assert _problems(registry, fresh_keystore) == []
    assert live.latest_logged_trust_list(registry).data == revoked


@pytest.mark.parametrize("statements, expected", [
    (["DELETE FROM trust_lists WHERE id = 2"], [("trust list 2", "history_without_row", None)]),
    (["DELETE FROM trust_lists"], [("trust list 1", "history_without_row", None), ("trust list 2", "history_without_row", None)]),
    (["UPDATE trust_lists SET data = replace(data, 'A', 'B') WHERE id = 2"], [("trust list 2", "column_differs", "data")]),
    (["UPDATE trust_lists SET issued_at = '2030-01-01 00:00:00' WHERE id = 1"], [("trust list 1", "column_differs", "issued_at")]),
    (["UPDATE trust_lists SET actor = 'someone' WHERE id = 2"], [("trust list 2", "column_differs", "actor")]),
    (["INSERT INTO trust_lists (id, issued_at, sha256, data, published_at, actor) "
      "VALUES (3, '2031-01-01 00:00:00', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', '', "
      "'2031-01-01 00:00:00', 'x')"], [("trust list 3", "no_history", None)]),
], ids=["newest-deleted", "all-deleted", "list-edited", "issue-time-edited", "actor-edited", "row-added"])
def test_log_verify_names_a_trust_list_row_deleted_edited_or_added(any_registry, fresh_keystore, statements, expected):
    _two_lists(any_registry, fresh_keystore)
    _sql(any_registry, *statements)
    assert _problems(any_registry, fresh_keystore) == expected


def test_certgen_log_verify_names_the_deleted_newest_list(cli, settings):
    assert cli(certgen, ["keys", "rotate"]).exit_code == 0
    status = cli(certgen, ["trust", "status"])
    assert status.exit_code == 0 and "the log names list 1 as the newest (event 1, issued at 2026-11-24T03:00:00.000000Z" in \
        status.output
    registry = Registry.open(settings.registry_url)
    try:
        _sql(registry, "DELETE FROM trust_lists")
    finally:
        registry.close()
    result = cli(certgen, ["log", "--verify", "--json"])
    report = json.loads(result.output)
    assert result.exit_code == 1 and [(p["where"], p["code"]) for p in report["problems"]] == [
        ("trust list 1", "history_without_row")]
    assert "issued at 2026-11-24T03:00:00.000000Z is named by event 1 but has no row: it was deleted" in \
        report["problems"][0]["what"]
    status = cli(certgen, ["trust", "status"])
    assert status.exit_code == 1 and "the log names list 1 as the newest (event 1" in status.output
    assert "the newest row of trust_lists is not the newest list the log names: rows were deleted" in status.output


def test_a_fresh_instance_with_an_older_file_takes_the_newest_list_the_log_names(registry, fresh_keystore):
    """The attack of the issue: the newest rows deleted, an instance started from the file of
    before the revocation. It reads the revoking list from the log and names the deleted rows."""
    first, revoked, seal = _two_lists(registry, fresh_keystore)
    tlog.sign_checkpoint(registry, fresh_keystore.log_signer(PASSPHRASE), now=LATER)
    _sql(registry, "DELETE FROM trust_lists")
    state, verifier = _fresh_instance(registry, fresh_keystore, first)
    assert verifier.verify_seal(seal).checks[0].reason is Reason.SEAL_KEY_REVOKED
    assert state.trust.issued_at == LATER and not state.outdated
    assert state.logged.checkpoint == registry.head()[0] and state.logged.problem is None
    assert "trust_lists has no row: rows were deleted behind the log's back" in state.problem
    # only the newest rows deleted: the older row left is named as not the list the log names
    _sql(registry, "INSERT INTO trust_lists (id, issued_at, sha256, data, published_at, actor) "
                   "VALUES (1, :i, :s, :d, :i, 't')", i=datetime(2026, 10, 24), s=hashlib.sha256(first).hexdigest(),
         d=first.decode())
    state, verifier = _fresh_instance(registry, fresh_keystore, first)
    assert verifier.verify_seal(seal).checks[0].reason is Reason.SEAL_KEY_REVOKED
    assert "published trust list 1 (issued at 2026-10-24 00:00:00Z) is not the newest list the log names (list 2" in state.problem


def test_a_replayed_older_list_is_refused_by_the_publisher_after_rows_were_deleted(registry, fresh_keystore):
    first, _revoked, _seal = _two_lists(registry, fresh_keystore)
    _sql(registry, "DELETE FROM trust_lists")
    with pytest.raises(TrustListError, match="is not newer than the newest one the log names .issued at "
                                             "2026-11-24T03:05:00.000000Z.: refusing to roll"):
        live.publish_trust_list(registry, first, fresh_keystore.root_certificate(), now=LATER, actor="t")


def _rewrite_last_event_to_carry(registry: Registry, data: bytes) -> int:
    """What a writer with the database but not the log key can do: make the newest trust list
    event name an older, validly signed list, its hash recomputed and the chain head moved."""
    (ev,) = [e for e in registry.events() if e.type.value == "trustlist"][-1:]
    body = dict(ev.data)
    state = dict(body["trust_list"])
    state.update(sha256=hashlib.sha256(data).hexdigest(), issued_at="2026-10-24T00:00:00.000000Z")
    from certgen.registry.trust_log import state_digest

    body.update(trust_list=state, state_sha256=state_digest(state), list=data.decode())
    digest = event_hash(ev.prev_hash, seq=ev.seq, at=ev.at, type=ev.type.value, number=ev.number, actor=ev.actor,
                        reason=ev.reason, data=body, actor_salt=ev.actor_salt)
    with registry.engine.begin() as conn:
        conn.execute(text("UPDATE events SET data = :d, hash = :h WHERE seq = :s"),
                     {"d": json.dumps(body), "h": digest, "s": ev.seq})
        conn.execute(text("UPDATE chain_head SET hash = :h WHERE id = 1"), {"h": digest})
        conn.execute(text("DELETE FROM trust_lists WHERE id = 2"))
    return ev.seq


def test_an_event_rewritten_to_name_an_older_list_is_caught_by_the_signed_checkpoint(registry, fresh_keystore, tmp_path):
    from fastapi.testclient import TestClient

    from verify.web.app import create_app
    from verify.web.config import WebConfig

    first, _revoked, seal = _two_lists(registry, fresh_keystore)
    tlog.sign_checkpoint(registry, fresh_keystore.log_signer(PASSPHRASE), now=LATER)
    seq = _rewrite_last_event_to_carry(registry, first)
    state, verifier = _fresh_instance(registry, fresh_keystore, first)
    assert state.outdated and state.logged.problem == (f"event {seq} is not in the signed checkpoint of {seq} events: the log "
                                                       "was rewritten after it was signed")
    assert f"a trust list the log names does not check out: event {seq} is not in the signed checkpoint" in state.problem
    # the web service says so in /api/v1/health, as not ready
    (tmp_path / "trustlist.json").write_bytes(first)
    config = WebConfig(trust_list=tmp_path / "trustlist.json", root=fresh_keystore.root_cert_path,
                       registry_url=str(registry.engine.url), rate_limit_per_minute=0)
    with TestClient(create_app(config, now=lambda: NOW)) as client:
        response = client.get("/api/v1/health")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "degraded" and body["trust_list"]["outdated"] is True
    assert body["trust_list"]["log"]["event"] == seq - 1 and body["trust_list"]["log"]["checkpoint"] == seq  # the good one
    assert "the log was rewritten after it was signed" in body["trust_list_problem"]
    # and the auditor names the rewrite: the checkpoint signed another root for these events
    codes = [p.code for p in check_tree(registry, fresh_keystore.trust_list())]
    assert "log_forked" in codes


def test_an_event_edited_without_its_hash_is_refused(registry, fresh_keystore):
    first, _revoked, _seal = _two_lists(registry, fresh_keystore)
    _sql(registry, "UPDATE events SET actor = 'x' WHERE number = 'trustlist' AND seq = (SELECT max(seq) FROM events)")
    state, _verifier = _fresh_instance(registry, fresh_keystore, first)
    assert state.outdated and state.logged.problem == f"event {registry.head()[0]} does not match its hash: the log was altered"


def test_a_refusal_stays_named_through_a_database_outage_until_a_good_newer_list(registry, fresh_keystore):
    first, revoked, seal = _two_lists(registry, fresh_keystore)
    root = fresh_keystore.root_certificate()
    state, verifier = _fresh_instance(registry, fresh_keystore, revoked)
    _sql(registry, "INSERT INTO trust_lists (id, issued_at, sha256, data, published_at, actor) VALUES "
                   "(3, :i, 'ff', :d, :i, 'intruder')", i=datetime(2031, 1, 1), d=first.decode())
    state.poll()
    refusal = state.problem
    assert refusal.startswith("published trust list 3 (issued at 2031-01-01 00:00:00Z)")
    _sql(registry, "ALTER TABLE chain_head RENAME TO gone_head")  # the database stops answering the check
    state.poll()
    assert not state.ok and state.problem == f"{refusal}; registry version check failed: OperationalError"
    _sql(registry, "ALTER TABLE gone_head RENAME TO chain_head")
    state.poll()
    assert state.ok and state.problem == refusal  # the outage is over; the refusal is still named
    _sql(registry, "DELETE FROM trust_lists WHERE id = 3")
    newer = fresh_keystore.signed_trust_list(PASSPHRASE, now=LATER + timedelta(minutes=1))
    live.publish_trust_list(registry, newer, root, now=LATER, actor="t")
    state.poll()
    assert state.ok and state.problem is None and state.trust_sha256 == live.latest_trust_list(registry).sha256


_PUBLISHER = """
import sys, time
from pathlib import Path
from cryptography import x509
from certgen.errors import TrustListError
from certgen.keys import KeyStore
from certgen.registry import Registry, live
from datetime import datetime, timezone
url, root, start = sys.argv[1], x509.load_pem_x509_certificate(Path(sys.argv[2]).read_bytes()), float(sys.argv[3])
registry = Registry.open(url, migrate=False)
while time.time() < start:
    time.sleep(0.001)
for path in sys.argv[4:]:
    try:
        live.publish_trust_list(registry, Path(path).read_bytes(), root, now=datetime.now(timezone.utc), actor="p")
        print("published", path)
    except TrustListError as exc:
        print("refused", path, exc)
"""


def test_two_publishing_processes_log_only_ever_newer_lists(postgres_url, fresh_keystore, tmp_path):
    """Two processes publish four lists into one PostgreSQL at once (1 and 3, 2 and 4): whatever
    the interleaving, the log names strictly newer lists, the newest is the last, the log is intact."""
    registry = Registry.open(postgres_url)
    files = []
    for i in range(4):
        path = tmp_path / f"list{i + 1}.json"
        path.write_bytes(fresh_keystore.signed_trust_list(PASSPHRASE, now=NOW + timedelta(seconds=i)))
        files.append(str(path))
    start = time.time() + 1.5
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    runs = [subprocess.Popen([sys.executable, "-c", _PUBLISHER, postgres_url, str(fresh_keystore.root_cert_path), str(start),
                              *files[which::2]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for which in (0, 1)]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    lines = [line for out, _err in outputs for line in out.splitlines()]
    assert len(lines) == 4 and all(line.startswith(("published", "refused")) for line in lines)
    assert all("is not newer than the one published" in line for line in lines if line.startswith("refused"))
    logged = [e.data["trust_list"]["issued_at"] for e in registry.events() if e.type.value == "trustlist"]
    assert logged == sorted(set(logged)) and logged[-1] == "2026-11-24T03:00:03.000000Z"
    assert _problems(registry, fresh_keystore) == []
    registry.close()


def test_migration_0012_logs_the_lists_published_before_it(tmp_path, fresh_keystore):
    from alembic import command
    from alembic.config import Config

    from certgen.registry import engine as engine_mod

    url = sqlite_url(tmp_path / "old.sqlite3")
    engine = engine_mod.make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(engine_mod.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0011_live_state")
    data = fresh_keystore.trustlist_path.read_bytes()
    with engine.begin() as conn:  # what the code of 0011 published: a row, no event
        conn.execute(text("INSERT INTO trust_lists (issued_at, sha256, data, published_at, actor) VALUES "
                          "('2026-10-24 00:00:00.000000', :s, :d, '2026-11-24 03:00:00.000000', 'staff')"),
                     {"s": hashlib.sha256(data).hexdigest(), "d": data.decode()})
    engine.dispose()
    registry = Registry.open(url)  # migrates to head
    try:
        (event,) = registry.events()
        assert (event.type.value, event.actor, event.data["list"].encode()) == ("trustlist", "migration 0012_trust_log", data)
        assert event.data["trust_list"] == {"id": "1", "issued_at": "2026-10-24T00:00:00.000000Z",
                                            "sha256": hashlib.sha256(data).hexdigest(),
                                            "published_at": "2026-11-24T03:00:00.000000Z", "actor": "staff"}
        assert _problems(registry, fresh_keystore) == []
    finally:
        registry.close()


def _append_event(registry: Registry, body: dict) -> int:
    """A writer with the database appends a well-chained `trustlist` event of its own."""
    seq, prev = registry.head()
    at = LATER + timedelta(minutes=1)
    digest = event_hash(prev, seq=seq + 1, at=at, type="trustlist", number="trustlist", actor="x", reason=None, data=body)
    with registry.engine.begin() as conn:
        conn.execute(text("INSERT INTO events (seq, at, type, number, actor, reason, data, prev_hash, hash) VALUES "
                          "(:s, :a, 'trustlist', 'trustlist', 'x', NULL, :d, :p, :h)"),
                     {"s": seq + 1, "a": at.replace(tzinfo=None), "d": json.dumps(body), "p": prev, "h": digest})
        conn.execute(text("UPDATE chain_head SET seq = :s, hash = :h WHERE id = 1"), {"s": seq + 1, "h": digest})
    return seq + 1


def test_an_older_list_appended_to_the_log_is_named_and_does_not_displace_the_newer(registry, fresh_keystore):
    from certgen.registry.trust_log import state_digest

    first, _revoked, seal = _two_lists(registry, fresh_keystore)
    state = {"id": "3", "issued_at": "2026-10-24T00:00:00.000000Z", "sha256": hashlib.sha256(first).hexdigest(),
             "published_at": "2026-11-24T03:06:00.000000Z", "actor": "x"}
    seq = _append_event(registry, {"trust_list": state, "state_sha256": state_digest(state), "list": first.decode()})
    live_state, verifier = _fresh_instance(registry, fresh_keystore, first)
    assert verifier.verify_seal(seal).checks[0].reason is Reason.SEAL_KEY_REVOKED  # the newer list is used
    assert not live_state.outdated and live_state.logged.seq == seq - 1
    assert (f"event {seq} names trust list 3 issued at 2026-10-24T00:00:00.000000Z, not newer than list 2 (event {seq - 1}, "
            "issued at 2026-11-24T03:05:00.000000Z): an older list was written into the log") in live_state.problem
    assert _problems(registry, fresh_keystore) == [(f"event {seq}", "trust_list_not_newer", "issued_at"),
                                                   ("trust list 3", "history_without_row", None)]


def test_a_log_cut_below_its_checkpoint_is_named_by_the_instance(registry, fresh_keystore):
    """The newest trust list event deleted with the log cut back to before it: the signed
    checkpoint still names more events, so the instance cannot take what is left as the newest."""
    first, _revoked, seal = _two_lists(registry, fresh_keystore)
    tlog.sign_checkpoint(registry, fresh_keystore.log_signer(PASSPHRASE), now=LATER)
    (before,) = [e for e in registry.events() if e.seq == registry.head()[0] - 1]
    _sql(registry, "DELETE FROM events WHERE seq = :s", "UPDATE chain_head SET seq = :p, hash = :h WHERE id = 1",
         "DELETE FROM trust_lists WHERE id = 2", s=before.seq + 1, p=before.seq, h=before.hash)
    state, verifier = _fresh_instance(registry, fresh_keystore, first)
    assert state.outdated and state.logged.problem == (f"the latest checkpoint signs {before.seq + 1} events, but the log "
                                                       f"has {before.seq}: events were deleted (a rollback)")
    assert verifier.verify_seal(seal).verdict.value == "VALID"  # the old list stays in use, and health says why not to trust it


def test_a_checkpoint_whose_tree_nodes_are_gone_is_named_as_unprovable(registry, fresh_keystore):
    first, _revoked, _seal = _two_lists(registry, fresh_keystore)
    tlog.sign_checkpoint(registry, fresh_keystore.log_signer(PASSPHRASE), now=LATER)
    _sql(registry, "DELETE FROM log_nodes")
    state, _verifier = _fresh_instance(registry, fresh_keystore, first)
    assert state.outdated and state.logged.problem.endswith("the stored tree lacks nodes (run `certgen log --verify`)")


def test_the_publishers_floor_is_the_newest_list_the_log_names_wherever_it_stands(registry, fresh_keystore):
    """An older list appended to the log after the newest (and the rows deleted) does not lower
    what the publisher refuses: the newest issue time of every logged list is the floor."""
    from certgen.registry.trust_log import state_digest

    first, _revoked, _seal = _two_lists(registry, fresh_keystore)
    state = {"id": "3", "issued_at": "2026-10-24T00:00:00.000000Z", "sha256": hashlib.sha256(first).hexdigest(),
             "published_at": "2026-11-24T03:06:00.000000Z", "actor": "x"}
    _append_event(registry, {"trust_list": state, "state_sha256": state_digest(state), "list": first.decode()})
    _sql(registry, "DELETE FROM trust_lists")
    root_key = fresh_keystore._load_private(fresh_keystore.root_key_path, PASSPHRASE)
    between = fresh_keystore.trust_list().to_signed_json(root_key, fresh_keystore.root_certificate(),
                                                         NOW + timedelta(minutes=1))  # older than the revoking list
    with pytest.raises(TrustListError, match="not newer than the newest one the log names .issued at 2026-11-24T03:05"):
        live.publish_trust_list(registry, between, fresh_keystore.root_certificate(), now=LATER, actor="t")


def test_an_appended_event_naming_a_far_future_list_does_not_stop_publishing(registry, fresh_keystore):
    """A database writer cannot block the next revocation by logging a bogus list "issued" in 9999."""
    from certgen.registry.trust_log import state_digest

    first, revoked, _seal = _two_lists(registry, fresh_keystore)
    state = {"id": "3", "issued_at": "9999-01-01T00:00:00.000000Z", "sha256": hashlib.sha256(revoked).hexdigest(),
             "published_at": "2026-11-24T03:06:00.000000Z", "actor": "x"}
    _append_event(registry, {"trust_list": state, "state_sha256": state_digest(state), "list": revoked.decode()})
    newer = fresh_keystore.signed_trust_list(PASSPHRASE, now=LATER + timedelta(minutes=5))
    published, new = live.publish_trust_list(registry, newer, fresh_keystore.root_certificate(), now=LATER, actor="t")
    assert new and published.id == 3
    # ... nor hide it from an instance: it takes the good newer list, and names the bogus event
    state, _verifier = _fresh_instance(registry, fresh_keystore, first)
    assert state.trust_sha256 == hashlib.sha256(newer).hexdigest() and state.outdated
    assert "event 4 names the issue time 9999-01-01T00:00:00.000000Z, but the signed list says 2026-11-24T03:05" in state.problem


def test_a_list_logged_with_an_actor_salt_checks_out_for_an_instance(registry, fresh_keystore):
    """Every event since migration 0013 hashes a commitment to its actor: an instance that
    recomputed the hash without the salt refused every newly published list (a revocation
    never reached it)."""
    from verify.logged_trust import read_logged

    _first, revoked, _seal = _two_lists(registry, fresh_keystore)
    assert all(e.actor_salt for e in registry.events() if e.type.value == "trustlist")
    in_use = fresh_keystore.trust_list()
    logged = read_logged(registry, fresh_keystore.root_certificate(), in_use)
    assert logged is not None and logged.problem is None and logged.data == revoked
    assert logged.trust is not None and logged.trust.issued_at == LATER


def test_a_planted_event_with_a_malformed_actor_salt_is_named_not_raised(registry, fresh_keystore):
    """A writer sets a good list's event salt to something event_hash refuses: the instance
    names the event and keeps the good older list, it does not fail on every check."""
    from verify.logged_trust import read_logged

    first, _revoked, seal = _two_lists(registry, fresh_keystore)
    seq = registry.head()[0]
    _sql(registry, "UPDATE events SET actor_salt = 'zz' WHERE seq = :s", s=seq)
    logged = read_logged(registry, fresh_keystore.root_certificate(), fresh_keystore.trust_list())
    assert logged is not None and logged.seq < seq and logged.trust is not None
    assert f"event {seq} does not match its hash: the log was altered" in logged.problem
    assert ("event " + str(seq), "event_altered") in [(w, c) for w, c, _ in _problems(registry, fresh_keystore)]


@pytest.mark.parametrize("statements", [
    ["DELETE FROM events WHERE seq = 3", "DELETE FROM trust_lists WHERE id = 2"],
    ["DELETE FROM events WHERE number = 'trustlist'", "DELETE FROM trust_lists"],
], ids=["newest-list-event-deleted", "every-list-event-deleted"])
def test_a_list_event_deleted_under_a_checkpoint_does_not_bring_back_a_revoked_key(registry, fresh_keystore, statements):
    """The revoking list's event row deleted (with its trust_lists row), the chain head left as
    it was, a signed checkpoint covering it: a fresh instance started from the older file read
    only the older list, proved it in the checkpoint, and answered a revoked signer's seal as
    valid with a healthy status. Events missing below the head are a problem it names."""
    _first, _revoked, seal = _two_lists(registry, fresh_keystore)
    assert registry.head()[0] == 3
    tlog.sign_checkpoint(registry, fresh_keystore.log_signer(PASSPHRASE), now=LATER)
    _sql(registry, *statements)
    state, verifier = _fresh_instance(registry, fresh_keystore, _first)
    assert state.outdated
    assert "the log holds 1 of the 3 events its chain head names" in state.problem or \
        "the log holds 2 of the 3 events its chain head names" in state.problem
    assert "events were deleted" in state.problem


def test_a_log_cut_back_with_its_head_under_a_checkpoint_is_named_when_it_names_no_list(registry, fresh_keystore):
    """Every list event deleted and the chain head moved back onto what is left: the signed
    checkpoint of more events names the rollback even though no list event is left to prove."""
    first, _revoked, _seal = _two_lists(registry, fresh_keystore)
    tlog.sign_checkpoint(registry, fresh_keystore.log_signer(PASSPHRASE), now=LATER)
    (event,) = [e for e in registry.events() if e.seq == 1]
    _sql(registry, "DELETE FROM events WHERE seq > 1", "DELETE FROM trust_lists",
         "UPDATE chain_head SET seq = 1, hash = :h WHERE id = 1", h=event.hash)
    state, _verifier = _fresh_instance(registry, fresh_keystore, first)
    assert state.outdated and "the latest checkpoint signs 3 events, but the log has 1" in state.problem


def test_a_list_event_rewritten_in_place_under_a_checkpoint_is_named_by_the_checkpoints_anchor(registry, fresh_keystore):
    """A writer turns the revoking list's event into another kind in place (type and number
    changed, its stored hash left, so the signed tree still matches) and deletes its row. The
    checkpoint's `trustlist` line names that event: a fresh instance from the older file says so."""
    first, revoked, seal = _two_lists(registry, fresh_keystore)
    tlog.sign_checkpoint(registry, fresh_keystore.log_signer(PASSPHRASE), now=LATER)
    stored = tlog.latest_tree_head(registry)
    seq = max(e.seq for e in registry.events() if e.type.value == "trustlist")
    assert f"\ntrustlist {seq} {hashlib.sha256(revoked).hexdigest()}\n" in stored.note  # the signed anchor
    numbers = [e.number for e in registry.events() if e.type.value == "issue"]
    with registry.engine.begin() as conn:
        conn.execute(text("UPDATE events SET type = 'attest', number = :n WHERE seq = :s"), {"n": numbers[0], "s": seq})
        conn.execute(text("DELETE FROM trust_lists WHERE id = 2"))
    state, _verifier = _fresh_instance(registry, fresh_keystore, first)
    assert state.outdated
    assert (f"the signed checkpoint of {stored.size} events names trust list event {seq}" in state.problem
            and "the log was altered" in state.problem), state.problem


def test_the_checkpoint_anchor_is_parsed_and_a_bad_one_refused():
    from datetime import datetime, timezone

    from certgen.note import CheckpointError, TreeHead, parse_tree_head

    head = TreeHead("log.example", 7, b"\x01" * 32, datetime(2026, 11, 30, tzinfo=timezone.utc), (5, "a" * 64))
    text_ = head.body() + "\n\u2014 log.example AAAAAAAA\n"
    assert parse_tree_head(text_)[0].trust_list == (5, "a" * 64)
    for bad in ("trustlist 9 " + "a" * 64, "trustlist 5 " + "A" * 64, "trustlist 5", "trustlist x " + "a" * 64):
        with pytest.raises(CheckpointError):
            parse_tree_head(head.body().replace("trustlist 5 " + "a" * 64, bad) + "\n\u2014 log.example AAAAAAAA\n")


def test_a_keys_command_anchors_the_list_it_publishes_in_a_signed_checkpoint(cli, settings):
    """`certgen keys revoke` publishes the revoking list and signs a checkpoint at once (the
    passphrase is in the environment), so its `trustlist` line names that list's event."""
    first = KeyStore(settings.keys_dir).signers()[0].kid.hex()
    assert cli(certgen, ["keys", "rotate"]).exit_code == 0
    result = cli(certgen, ["keys", "revoke", first, "--at", "2026-11-20T09:00:00+07:00", "--reason", "laptop stolen"])
    assert result.exit_code == 0, result.output
    assert "(anchors the new trust list)" in result.output
    registry = Registry.open(settings.registry_url)
    try:
        lists = [e for e in registry.events() if e.type.value == "trustlist"]
        published = (settings.keys_dir / "trustlist.json").read_bytes()
        assert lists and lists[-1].data["list"].encode() == published
        stored = tlog.latest_tree_head(registry)
        assert f"\ntrustlist {lists[-1].seq} {hashlib.sha256(published).hexdigest()}\n" in stored.note
    finally:
        registry.close()
