"""Every public fact under the log: each column of each table edited behind the log's back, rows
deleted, events reordered or duplicated; each case must be named with its specific break."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from certgen.model import EventType, Status
from certgen.registry import Issued, LogProblem, Registry, verify_log
from certgen.registry.chain import GENESIS, canonical_json, event_hash
from certgen.registry.reader import read_json, read_time
from certgen.registry.state import STATE_KEYS, certificate_state, state_digest
from tests.conftest import NOW, PASSPHRASE
from tests.registry_helpers import new_person

LATER = NOW + timedelta(hours=1)

# -- the canonical state: golden vectors (docs/registry.md) -----------------------------------

GOLDEN_ROW = dict(
    number="SK-2026-000001-E", series="SK", kind="person", holder="Ni Wayan Sukerti Ö'Neil", scheme="SKM-PTK-03/2024",
    granted=date(2026, 11, 24), expires=date(2029, 11, 23),
    record={"scheme": "SKM-PTK-03/2024", "holder": "Ni Wayan Sukerti Ö'Neil"}, status="active", status_reason=None,
    status_changed_at=datetime(2026, 11, 24, 10, 0, tzinfo=timezone(timedelta(hours=7))), replaced_by=None,
    dsc_kid="0011223344556677", pdf_sha256="ab" * 32, card_sha256=None, seal="https://verify.example/v/6BFOXN",
    issued_at=datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc), batch_key=None, created_at=NOW - timedelta(days=3))
GOLDEN_RECORD = '{"holder":"Ni Wayan Sukerti Ö\'Neil","scheme":"SKM-PTK-03/2024"}'
GOLDEN_STATE = (
    '{"batch_key":null,"card_sha256":null,"dsc_kid":"0011223344556677","expires":"2029-11-23","granted":"2026-11-24",'
    '"holder":"Ni Wayan Sukerti Ö\'Neil","issued_at":"2026-11-24T03:00:00.000000Z","kind":"person",'
    '"number":"SK-2026-000001-E","pdf_sha256":"' + "ab" * 32 + '",'
    '"record_sha256":"7c5fc143bd74d0b7f28dc0150466cd28f489075d8e9bbdfef4e0c2af02b1fe2f","replaced_by":null,'
    '"scheme":"SKM-PTK-03/2024","seal_sha256":"020cd65cbb66b297319f2fc4b7e44d7fb2ffeb22ed28582430401b6273770f3d",'
    '"series":"SK","status":"active","status_changed_at":"2026-11-24T03:00:00.000000Z","status_reason":null}')
GOLDEN_STATE_SHA256 = "415a8501917aea6f3b4a6f41ac5d8aef257c50ec2326759f8c03dce0aa782a0a"


def test_state_golden_vector():
    state = certificate_state(GOLDEN_ROW)
    assert hashlib.sha256(GOLDEN_RECORD.encode()).hexdigest() == state["record_sha256"]
    assert hashlib.sha256(b"https://verify.example/v/6BFOXN").hexdigest() == state["seal_sha256"]
    assert canonical_json(state).decode() == GOLDEN_STATE
    assert state_digest(state) == hashlib.sha256(GOLDEN_STATE.encode()).hexdigest() == GOLDEN_STATE_SHA256
    assert "created_at" not in state and set(state) == set(STATE_KEYS)


def test_issue_event_golden_vector():
    """The issue event as the registry writes it, hashed as docs/registry.md says."""
    state = certificate_state(GOLDEN_ROW)
    data = {"state": state, "state_sha256": GOLDEN_STATE_SHA256}
    body = ('{"actor":"tester","at":"2026-11-24T03:00:00.000000Z","data":{"state":' + GOLDEN_STATE + ',"state_sha256":"'
            + GOLDEN_STATE_SHA256 + '"},"number":"SK-2026-000001-E","reason":null,"seq":1,"type":"issue"}')
    expected = hashlib.sha256(GENESIS.encode() + body.encode()).hexdigest()
    assert event_hash(GENESIS, seq=1, at=NOW, type="issue", number="SK-2026-000001-E", actor="tester", reason=None,
                      data=data) == expected == "6a66858bdfa3ac1b1407553e6ff8adf1e488c1fbf80e1208ff1d392acfc6cb4d"


def test_every_state_column_changes_the_digest():
    base = state_digest(certificate_state(GOLDEN_ROW))
    for column in [c for c in GOLDEN_ROW if c != "created_at"]:
        changed = dict(GOLDEN_ROW)
        changed[column] = {"x": 1} if column == "record" else ("2030-01-01" if GOLDEN_ROW[column] is None else "X")
        assert state_digest(certificate_state(changed)) != base, column
    assert state_digest(certificate_state(GOLDEN_ROW | {"created_at": NOW})) == base


def test_reader_values_are_the_written_values():
    """SQLite stores times and JSON as text; the auditor reads them back to the same state."""
    assert read_time("2026-11-24 03:00:00.000000") == NOW
    assert read_time("2026-11-24T03:00:00+07:00") == "2026-11-24T03:00:00+07:00"  # not how the registry writes: stays raw
    assert read_json('{"a": 1}') == {"a": 1} and read_json("not json") == "not json"


# -- a registry with some history -------------------------------------------------------------

SEAL = "https://verify.example/v/"


def build(registry: Registry, keystore) -> dict[str, str]:
    """Five certificates: active, suspended, withdrawn, replaced (by the fifth), and one pending;
    a checkpoint after the issue events."""
    items = [new_person(f"Orang {i}", key=f"k{i}") for i in range(6)]
    numbers = [r.number for r in registry.reserve(items, now=NOW)]
    registry.mark_issued_many([Issued(n, f"{i:02x}" * 32, f"{i + 16:02x}" * 32, SEAL + f"SEAL{i}") for i, n in enumerate(numbers[:5])],
                              dsc_kid="0011223344556677", now=NOW, actor="tester")
    registry.checkpoint(keystore.current_signer(PASSPHRASE, now=NOW), now=NOW)
    registry.suspend(numbers[1], reason="audit", now=LATER, actor="staff")
    registry.withdraw(numbers[2], reason="fraud", now=LATER, actor="staff")
    registry.replace(numbers[3], numbers[4], reason="renewed", now=LATER, actor="staff")
    return {"active": numbers[0], "suspended": numbers[1], "withdrawn": numbers[2], "replaced": numbers[3],
            "successor": numbers[4], "pending": numbers[5]}


def problems(registry, keystore, **kwargs) -> list[LogProblem]:
    return verify_log(registry, keystore.trust_list(), keystore.root_certificate(), **kwargs).problems


def sql(registry, statement, **params):
    with registry.engine.begin() as conn:
        conn.execute(text(statement), params)


def rechain(registry, start: int = 1):
    """What an attacker with write access does after editing events: recompute every hash from
    `start` on and the chain head, so the chain itself links again."""
    with registry.snapshot() as reader:
        events = list(reader.events())
    prev, last = GENESIS, 0
    for ev in events:
        if ev.seq >= start:
            digest = event_hash(prev, seq=ev.seq, at=ev.at, type=ev.type, number=ev.number, actor=ev.actor,
                                reason=ev.reason, data=ev.data, actor_salt=ev.actor_salt)
            sql(registry, "UPDATE events SET prev_hash = :p, hash = :h WHERE seq = :s", p=prev, h=digest, s=ev.seq)
        prev, last = (digest if ev.seq >= start else ev.hash), ev.seq
    sql(registry, "UPDATE chain_head SET seq = :s, hash = :h", s=last, h=prev)


@pytest.fixture
def built(registry, keystore):
    return build(registry, keystore)


def test_intact_registry(registry, keystore, built):
    report = verify_log(registry, keystore.trust_list(), keystore.root_certificate())
    assert report.ok, report.problems
    assert (report.events, report.checkpoints, report.certificates) == (8, 1, 6)
    issue = registry.events(built["active"])[0]
    assert issue.data["state"] == certificate_state(registry.get(built["active"]))
    suspend = registry.events(built["suspended"])[-1]
    assert suspend.data == {"from": "active", "to": "suspended",
                            "state_sha256": state_digest(certificate_state(registry.get(built["suspended"])))}


# (column, which certificate, new SQL value, what the history says)
CERTIFICATE_EDITS = [
    ("holder", "active", "'Someone Else'", "'Orang 0'"),
    ("kind", "active", "'training'", "'person'"),
    ("series", "active", "'BT'", "'SK'"),
    ("scheme", "active", "'SKM-OTHER'", "'SKM-PTK-03/2024'"),
    ("granted", "active", "'2020-01-01'", "'2026-11-24'"),
    ("expires", "active", "'2099-12-31'", "'2029-11-23'"),
    ("expires", "active", "NULL", "'2029-11-23'"),
    ("status", "withdrawn", "'active'", "'withdrawn'"),
    ("status_reason", "suspended", "'routine check'", "'audit'"),
    ("status_changed_at", "suspended", "'2026-11-24 03:00:00.000000'", "'2026-11-24T04:00:00.000000Z'"),
    ("replaced_by", "replaced", "NULL", None),
    ("dsc_kid", "active", "'ffeeddccbbaa9988'", "'0011223344556677'"),
    ("issued_at", "active", "'2026-11-25 03:00:00.000000'", "'2026-11-24T03:00:00.000000Z'"),
    ("batch_key", "active", "'k9'", "'k0'"),
]
DIGEST_EDITS = [("record", "active", """'{"holder": "Someone Else"}'"""), ("seal", "active", f"'{SEAL}FORGED'"),
                ("pdf_sha256", "active", "'" + "ee" * 32 + "'"), ("card_sha256", "active", "NULL")]


@pytest.mark.parametrize("column,which,value,history", CERTIFICATE_EDITS)
def test_each_certificate_column_edited_is_named(registry, keystore, built, column, which, value, history):
    number = built[which]
    sql(registry, f"UPDATE certificates SET {column} = {value} WHERE number = :n", n=number)
    found = problems(registry, keystore)
    if column == "series":  # the number series check sees a BT certificate with no counter, and SK one short
        assert {p.code for p in found[1:]} == {"series_missing", "series_gap"}
        found = found[:1]
    assert [(p.where, p.code, p.column) for p in found] == [(f"certificate {number}", "column_differs", column)]
    if history is not None:
        assert found[0].what.endswith(f"in the table, but its history says {history}")
    else:
        assert found[0].what == f"column replaced_by is empty in the table, but its history says '{built['successor']}'"


@pytest.mark.parametrize("column,which,value", DIGEST_EDITS)
def test_digest_columns_edited_are_named(registry, keystore, built, column, which, value):
    number = built[which]
    sql(registry, f"UPDATE certificates SET {column} = {value} WHERE number = :n", n=number)
    found = problems(registry, keystore)
    assert [(p.where, p.code, p.column) for p in found] == [(f"certificate {number}", "column_differs", column)]
    if column in ("record", "seal"):
        assert found[0].what.startswith(f"column {column} differs from its history (SHA-256 ")


def test_first_edit_example_from_the_docs(registry, keystore, built):
    sql(registry, "UPDATE certificates SET holder = 'X' WHERE number = :n", n=built["active"])
    assert str(problems(registry, keystore)[0]) == (f"certificate {built['active']}: column holder is 'X' in the table, "
                                                    "but its history says 'Orang 0'")


def test_number_year_and_serial_columns(registry, keystore, built):
    sql(registry, "UPDATE certificates SET year = 2025 WHERE number = :n", n=built["active"])
    found = {(p.where, p.code, p.column) for p in problems(registry, keystore)}
    assert (f"certificate {built['active']}", "number_mismatch", "year") in found
    assert ("number series SK/2025", "series_missing", "last_serial") in found


def test_number_changed(registry, keystore, built):
    old, new = built["active"], "SK-2026-000099-" + _check("SK2026000099")
    sql(registry, "UPDATE certificates SET number = :new WHERE number = :n", new=new, n=old)
    found = {(p.where, p.code) for p in problems(registry, keystore)}
    assert {(f"certificate {old}", "history_without_row"), (f"certificate {new}", "no_history"),
            (f"certificate {new}", "number_mismatch")} <= found


def _check(payload):
    from certgen.numbers import check_character
    return check_character(payload)


def test_created_at_is_outside_the_state(registry, keystore, built):
    """Documented choice: the time a number was reserved is read by no one the public sees."""
    sql(registry, "UPDATE certificates SET created_at = '2001-01-01 00:00:00.000000' WHERE number = :n", n=built["active"])
    assert problems(registry, keystore) == []


def test_pending_row_edited(registry, keystore, built):
    sql(registry, f"UPDATE certificates SET seal = '{SEAL}X' WHERE number = :n", n=built["pending"])
    assert [(p.code, p.column) for p in problems(registry, keystore)] == [("pending_not_blank", "seal")]


def test_issued_row_set_back_to_pending(registry, keystore, built):
    sql(registry, "UPDATE certificates SET status = 'pending' WHERE number = :n", n=built["withdrawn"])
    found = [(p.code, p.column) for p in problems(registry, keystore)]
    assert ("pending_with_events", None) in found and ("pending_not_blank", "seal") in found


def test_hostile_values_are_named_not_raised(registry, keystore, built):
    sql(registry, "UPDATE certificates SET granted = 'garbage', record = 'not json', holder = :h WHERE number = :n",
        h="Evil\x1b[2J\u202e", n=built["active"])
    found = {p.column: str(p) for p in problems(registry, keystore)}
    assert found["granted"].endswith("column granted is 'garbage' in the table, but its history says '2026-11-24'")
    assert "record" in found and "\x1b" not in found["holder"] and "\\x1b[2J\\u202e" in found["holder"]


# -- deleted rows -----------------------------------------------------------------------------

def test_deleted_certificate_row(registry, keystore, built):
    sql(registry, "DELETE FROM certificates WHERE number = :n", n=built["withdrawn"])
    found = problems(registry, keystore)
    assert (f"certificate {built['withdrawn']}", "history_without_row") in {(p.where, p.code) for p in found}
    assert "number series SK/2026: 6 numbers were handed out but 5 rows exist: serial(s) 3 were deleted" in map(str, found)


def test_deleted_pending_row(registry, keystore, built):
    sql(registry, "DELETE FROM certificates WHERE number = :n", n=built["pending"])
    assert [str(p) for p in problems(registry, keystore)] == [
        "number series SK/2026: 6 numbers were handed out but 5 rows exist: serial(s) 6 were deleted"]


def test_row_without_history(registry, keystore, built):
    sql(registry, "DELETE FROM events WHERE number = :n", n=built["active"])  # event 1
    sql(registry, "UPDATE events SET seq = -seq")
    sql(registry, "UPDATE events SET seq = -seq - 1")
    rechain(registry)
    found = problems(registry, keystore)
    assert str(found[0]) == "checkpoint 1 (event 5): signed a different hash for event 5: the history before it was rewritten"
    assert f"certificate {built['active']}: is active, but the log has no issue event for it" in map(str, found)


@pytest.mark.parametrize("seq,code,where", [(3, "events_missing", "event 4"), (8, "head_mismatch", "chain head")])
def test_deleted_event(registry, keystore, built, seq, code, where):
    sql(registry, "DELETE FROM events WHERE seq = :s", s=seq)
    found = problems(registry, keystore)
    assert (found[0].where, found[0].code) == (where, code)


@pytest.mark.parametrize("column,value,code", [
    ("seq", "1000", "events_missing"), ("at", "'2026-11-24 05:00:00.000000'", "event_altered"),
    ("type", "'withdraw'", "event_altered"), ("type", "'bogus'", "event_altered"), ("number", "'SK-2026-000005-X'", "event_altered"),
    ("actor", "'mallory'", "event_altered"), ("reason", "'nothing'", "event_altered"),
    ("actor_salt", "'" + "0" * 32 + "'", "event_altered"), ("actor_salt", "NULL", "event_altered"),
    ("actor_salt", "'not hex'", "event_altered"),
    ("data", """'{"from": "active", "to": "active"}'""", "event_altered"), ("prev_hash", "'" + "0" * 64 + "'", "chain_broken"),
    ("hash", "'" + "1" * 64 + "'", "event_altered")])
def test_each_event_column_edited_is_named(registry, keystore, built, column, value, code):
    sql(registry, f"UPDATE events SET {column} = {value} WHERE seq = 6")
    found = problems(registry, keystore)
    where = "event 7" if column == "seq" else "event 6"
    assert (found[0].where, found[0].code) == (where, code), found


def test_unknown_event_type_is_named_not_raised(registry, keystore, built):
    sql(registry, "UPDATE events SET type = 'bogus' WHERE seq = 6")
    rechain(registry, 6)
    found = [(p.where, p.code) for p in problems(registry, keystore)]
    assert ("event 6", "unknown_event_type") in found
    with pytest.raises(Exception, match="event 6 has an unknown type 'bogus'"):
        registry.events()


@pytest.mark.parametrize("column,value,code", [("seq", "0", "head_mismatch"), ("hash", "'" + "2" * 64 + "'", "head_mismatch")])
def test_chain_head_edited(registry, keystore, built, column, value, code):
    sql(registry, f"UPDATE chain_head SET {column} = {value}")
    assert [(p.where, p.code) for p in problems(registry, keystore)] == [("chain head", code)]


def test_chain_head_deleted(registry, keystore, built):
    sql(registry, "DELETE FROM chain_head")
    assert [(p.where, p.code) for p in problems(registry, keystore)] == [("chain head", "head_missing")]


@pytest.mark.parametrize("column,value,code", [
    ("seq", "4", "checkpoint_altered"), ("hash", "'" + "3" * 64 + "'", "checkpoint_altered"),
    ("at", "'2026-11-24 03:00:01.000000'", "checkpoint_altered"), ("kid", "'0102030405060708'", "checkpoint_untrusted"),
    ("kid", "'zz'", "checkpoint_altered"), ("alg", "'XX'", "checkpoint_altered"),
    ("signature", "'AAAA'", "checkpoint_altered"), ("signature", "'not base64!'", "checkpoint_altered")])
def test_each_checkpoint_column_edited_is_named(registry, keystore, built, column, value, code):
    sql(registry, f"UPDATE checkpoints SET {column} = {value}")
    found = problems(registry, keystore)
    assert [(p.where.split(" (")[0], p.code) for p in found] == [("checkpoint 1", code)]


@pytest.mark.parametrize("statement,message", [
    ("UPDATE number_series SET last_serial = 4", "number series SK/2026: counter is at 4, but serial 6 exists: the next "
                                                 "numbers would be handed out twice"),
    ("UPDATE number_series SET last_serial = 8", "number series SK/2026: 8 numbers were handed out but 6 rows exist: "
                                                 "serial(s) 7, 8 were deleted"),
    ("DELETE FROM number_series", "number series SK/2026: has 6 certificates but no counter row in number_series")])
def test_number_series_edited(registry, keystore, built, statement, message):
    sql(registry, statement)
    assert [str(p) for p in problems(registry, keystore)] == [message]


# -- reordered, duplicated, rolled back -------------------------------------------------------

def test_reordered_events_are_named(registry, keystore, built):
    sql(registry, "UPDATE events SET seq = -1 WHERE seq = 6")
    sql(registry, "UPDATE events SET seq = 6 WHERE seq = 8")
    sql(registry, "UPDATE events SET seq = 8 WHERE seq = -1")
    found = [str(p) for p in problems(registry, keystore)]
    assert found[:2] == ["event 6: is out of order: it follows event 7 in the chain, not event 5: events were reordered",
                         "event 6: was written as event 8 and moved here: events were reordered"]


def test_reordered_and_rechained_events_are_named_by_the_replay(registry, keystore, built):
    """A suspend moved before the issue of its certificate, the chain recomputed (only the
    checkpoint would tell): the replay names it."""
    issue_seq = registry.events(built["suspended"])[0].seq
    sql(registry, "UPDATE events SET seq = -1 WHERE seq = :s", s=issue_seq)
    sql(registry, "UPDATE events SET seq = :s WHERE seq = 6", s=issue_seq)
    sql(registry, "UPDATE events SET seq = 6 WHERE seq = -1")
    rechain(registry)
    found = {(p.where, p.code) for p in problems(registry, keystore)}
    assert (f"event {issue_seq}", "out_of_order") in found


def test_duplicated_events_are_named(registry, keystore, built):
    for ev in (registry.events(built["active"])[0], registry.events(built["suspended"])[-1]):
        seq, head = registry.head()
        digest = event_hash(head, seq=seq + 1, at=ev.at, type=ev.type.value, number=ev.number, actor=ev.actor,
                            reason=ev.reason, data=ev.data, actor_salt=ev.actor_salt)
        with registry.engine.begin() as conn:
            conn.execute(text("INSERT INTO events (seq, at, type, number, actor, reason, data, prev_hash, hash, actor_salt) "
                              "SELECT :s, at, type, number, actor, reason, data, :p, :h, actor_salt FROM events WHERE seq = :o"),
                         dict(s=seq + 1, p=head, h=digest, o=ev.seq))
            conn.execute(text("UPDATE chain_head SET seq = :s, hash = :h"), dict(s=seq + 1, h=digest))
    found = [str(p) for p in problems(registry, keystore)]
    assert found == [f"event 9: a second issue of {built['active']} (event 1 issued it): a duplicated event",
                     f"event 10: suspend of {built['suspended']} starts from 'active', but its history has it 'suspended' "
                     "by then: an event was duplicated, reordered or removed",
                     f"event 10: suspend of {built['suspended']} is not allowed from 'suspended'"]


def test_rollback_of_the_newest_checkpoint_is_named(registry, keystore, built):
    """The attack of issue 9: a second checkpoint after more issues and a withdrawal; the attacker
    deletes it, the events after the first checkpoint, resets the chain head and the rows. What
    the database alone still shows: the rows issued meanwhile have no history, or their numbers
    are missing. (Signed tree heads outside the database catch a complete rollback.)"""
    more = registry.reserve([new_person("Baru", key="late")], now=LATER)[0].number
    registry.mark_issued_many([Issued(more, "cd" * 32, None, SEAL + "LATE")], dsc_kid="0011223344556677", now=LATER, actor="t")
    registry.withdraw(built["active"], reason="forged", now=LATER, actor="staff")
    registry.checkpoint(keystore.current_signer(PASSPHRASE, now=LATER), now=LATER)
    first = registry.checkpoints()[0]
    sql(registry, "DELETE FROM checkpoints WHERE id = 2")
    sql(registry, "DELETE FROM events WHERE seq > :s", s=first.seq)
    sql(registry, "UPDATE chain_head SET seq = :s, hash = :h", s=first.seq, h=first.hash)
    sql(registry, "UPDATE certificates SET status = 'active' WHERE status != 'pending'")
    found = {(p.where, p.code, p.column) for p in problems(registry, keystore)}
    assert (f"certificate {built['active']}", "column_differs", "status_reason") in found  # the withdrawal's reason stayed
    assert (f"certificate {built['suspended']}", "column_differs", "status_changed_at") in found
    sql(registry, "UPDATE certificates SET status_reason = NULL, replaced_by = NULL, "
                  "status_changed_at = '2026-11-24 03:00:00.000000'")
    sql(registry, "DELETE FROM certificates WHERE number = :n", n=more)
    assert [str(p) for p in problems(registry, keystore)] == [
        "number series SK/2026: 7 numbers were handed out but 6 rows exist: serial(s) 7 were deleted"]


def test_extra_checks_plug_in(registry, keystore, built):
    seen = []

    def tree_heads(facts):
        seen.append((facts.events, facts.last_seq, facts.last_hash == registry.head()[1]))
        return [LogProblem("tree head 3", "is not consistent with the log", "tree_head_fork")]

    def broken(facts):
        facts.reader.conn.execute(text("SELECT * FROM no_such_table"))  # fails inside the audit's snapshot

    found = problems(registry, keystore, extra_checks=[tree_heads, broken])
    assert seen == [(8, 8, True)]
    assert [p.where for p in found] == ["tree head 3", "check broken"]
    assert found[1].code == "check_failed" and "could not run: " in found[1].what and "no_such_table" in found[1].what


def test_status_changes_refuse_issue_and_attest(registry, built):
    from certgen.errors import TransitionError
    for change in (EventType.ISSUE, EventType.ATTEST):
        with pytest.raises(TransitionError, match=f"{change.value} is not a status change"):
            registry.change_status(built["active"], change, reason="x", now=LATER, actor="s")
    assert registry.get(built["active"]).status is Status.ACTIVE


def test_cli_json_names_where_and_what(keystore, cli, settings):
    from certgen.cli import main as certgen
    target = Registry.open(settings.registry_url)  # the CLI's registry; its key store is a fresh one
    try:
        cert = build(target, keystore)
        with target.engine.begin() as conn:
            conn.execute(text("UPDATE certificates SET holder = 'X' WHERE number = :n"), {"n": cert["active"]})
            conn.execute(text("DELETE FROM checkpoints"))  # signed with the session keys, not the CLI's
    finally:
        target.close()
    result = cli(certgen, ["log", "--verify", "--json"])
    assert result.exit_code == 1
    verdict = json.loads(result.output)
    assert verdict["problems"] == [{"where": f"certificate {cert['active']}", "code": "column_differs", "column": "holder",
                                    "what": "column holder is 'X' in the table, but its history says 'Orang 0'"}]
    text_out = cli(certgen, ["log", "--verify"]).output
    assert f"LOG BROKEN: first break at certificate {cert['active']}: column holder is 'X'" in text_out


# -- the same on PostgreSQL -------------------------------------------------------------------

@pytest.mark.postgres
def test_core_cases_on_postgresql(postgres_url, keystore):
    registry = Registry.open(postgres_url)
    try:
        built = build(registry, keystore)
        assert problems(registry, keystore) == []
        for column, which, value, history in CERTIFICATE_EDITS:
            number = built[which]
            with registry.engine.connect() as conn:
                before = conn.execute(text(f"SELECT {column} FROM certificates WHERE number = :n"), {"n": number}).scalar()
            sql(registry, f"UPDATE certificates SET {column} = {value} WHERE number = :n", n=number)
            found = problems(registry, keystore)
            assert (found[0].where, found[0].code, found[0].column) == (f"certificate {number}", "column_differs", column)
            assert all(p.code.startswith("series_") for p in found[1:]), found
            sql(registry, f"UPDATE certificates SET {column} = :v WHERE number = :n", v=before, n=number)
        sql(registry, "UPDATE certificates SET record = CAST(:r AS json) WHERE number = :n", r='{"holder": "X"}', n=built["active"])
        assert [(p.code, p.column) for p in problems(registry, keystore)] == [("column_differs", "record")]
        sql(registry, "DELETE FROM certificates WHERE number = :n", n=built["active"])
        sql(registry, "UPDATE events SET seq = -1 WHERE seq = 6")
        sql(registry, "UPDATE events SET seq = 6 WHERE seq = 8")
        sql(registry, "UPDATE events SET seq = 8 WHERE seq = -1")
        def broken(facts):
            facts.reader.conn.execute(text("SELECT * FROM no_such_table"))

        found = {(p.where, p.code) for p in problems(registry, keystore, extra_checks=[broken])}
        assert {("check broken", "check_failed"), ("event 6", "events_reordered"), (f"certificate {built['active']}", "history_without_row"),
                ("number series SK/2026", "series_gap")} <= found
    finally:
        registry.close()


@pytest.mark.parametrize("statement,where,code", [
    ("UPDATE events SET reason = x'00ff' WHERE seq = 6", "event 6", "event_altered"),
    ("UPDATE events SET prev_hash = '\u202e' WHERE seq = 6", "event 6", "chain_broken"),
    ("UPDATE events SET data = '[1, 2]' WHERE seq = 6", "event 6", "event_altered"),
    ("UPDATE events SET at = 'yesterday' WHERE seq = 6", "event 6", "event_altered"),
    ("UPDATE checkpoints SET signature = 12345", "checkpoint 1 (event 5)", "checkpoint_altered"),
    ("UPDATE certificates SET record = x'00ff' WHERE status = 'active'", None, "column_differs"),
    ("UPDATE number_series SET last_serial = 'many'", "number series SK/2026", "series_garbled"),
])
def test_values_no_column_should_hold_are_named_not_raised(registry, keystore, built, statement, where, code):
    """Found by writing blobs, numbers, control characters and non-JSON into every column."""
    sql(registry, statement)
    first = problems(registry, keystore)[0]
    assert (first.code, first.where if where else None) == (code, where)


def test_log_listing_escapes_what_the_database_holds(keystore, cli, settings):
    from certgen.cli import main as certgen
    target = Registry.open(settings.registry_url)
    try:
        cert = build(target, keystore)
        with target.engine.begin() as conn:
            conn.execute(text("UPDATE events SET reason = :r WHERE seq = 6"), {"r": "ok\x1b]0;pwned\x07"})
    finally:
        target.close()
    out = cli(certgen, ["log"]).output
    assert "\x1b" not in out and "ok\\x1b]0;pwned\\x07" in out and cert["suspended"] in out


def test_a_new_subject_kind_plugs_in_its_own_replayer(registry, keystore, built):
    """A later subject kind (as issue 11's applications and complaints did) plugs in its own
    replayer, merged with its own rows; without it its types are named as unknown."""
    from certgen.registry.history import SUBJECTS, Subject
    from certgen.registry.replay import History

    seq, head = registry.head()
    data = {"stage": "submitted"}
    digest = event_hash(head, seq=seq + 1, at=LATER, type="inspection", number="APP-1", actor="clerk", reason=None, data=data)
    sql(registry, "INSERT INTO events (seq, at, type, number, actor, reason, data, prev_hash, hash) "
                  "VALUES (:s, '2026-11-24 04:00:00.000000', 'inspection', 'APP-1', 'clerk', NULL, :d, :p, :h)",
        s=seq + 1, d='{"stage": "submitted"}', p=head, h=digest)
    sql(registry, "UPDATE chain_head SET seq = :s, hash = :h", s=seq + 1, h=digest)
    assert [(p.where, p.code) for p in problems(registry, keystore)] == [(f"event {seq + 1}", "unknown_event_type")]

    replayed = []

    def replay(key, events):
        replayed.append((key, [e.data for e in events]))
        return History(key, state={"stage": events[-1].data["stage"]})

    def check(row, history):
        if history is None or history.state != {"stage": row["stage"]}:
            return [LogProblem(f"application {row['number']}", "stage differs", "column_differs", "stage")]
        return []

    rows = [("APP-1", {"number": "APP-1", "stage": "paid"})]
    inspections = Subject("inspection", frozenset({"inspection"}), lambda reader: iter(rows), replay, check, "application")
    found = problems(registry, keystore, subjects=[*SUBJECTS, inspections])
    assert replayed == [("APP-1", [data])]
    assert [str(p) for p in found] == ["application APP-1: stage differs"]


def test_one_certificate_against_its_history(registry, keystore, built):
    """The look-up sized check: one row, its own events."""
    from certgen.registry import verify_certificate
    assert all(verify_certificate(registry, n) == [] for n in built.values())
    sql(registry, "UPDATE certificates SET expires = '2099-12-31' WHERE number = :n", n=built["suspended"])
    assert [str(p) for p in verify_certificate(registry, built["suspended"])] == [
        f"certificate {built['suspended']}: column expires is '2099-12-31' in the table, but its history says '2029-11-23'"]
    sql(registry, "DELETE FROM certificates WHERE number = :n", n=built["withdrawn"])
    assert [p.code for p in verify_certificate(registry, built["withdrawn"])] == ["history_without_row"]
    assert verify_certificate(registry, "SK-2026-000777-X") == []  # unknown to both: nothing to compare
