from datetime import date, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from certgen.errors import NotFoundError, NumberFormatError, RegistryError, TransitionError
from certgen.model import EventType, Series, Status
from certgen.numbers import check_character
from certgen.registry import EffectiveStatus, NewCertificate, Registry, verify_log
from certgen.registry.tables import Base
from tests.conftest import NOW, PASSPHRASE
from tests.registry_helpers import issue_one, new_person


def test_reserve_allocates_gap_free_numbers_per_series(registry):
    items = [new_person(f"Orang {i}") for i in range(3)] + [
        NewCertificate(Series.TRAINING, "Peserta", "BIMTEK-K3", date(2026, 11, 20), None, {"x": 1})]
    certs = registry.reserve(items, now=NOW)
    assert [c.number[:14] for c in certs] == ["SK-2026-000001", "SK-2026-000002", "SK-2026-000003", "BT-2026-000001"]
    assert all(c.status is Status.PENDING for c in certs)
    assert registry.events() == []  # nothing is issued yet


def test_reserve_is_idempotent_by_batch_key(registry):
    first = registry.reserve([new_person("A", "row-1"), new_person("B", "row-2")], now=NOW)
    again = registry.reserve([new_person("B", "row-2"), new_person("C", "row-3")], now=NOW)
    assert again[0].number == first[1].number
    assert again[1].number.startswith("SK-2026-000003")
    assert registry.count() == 3


def test_issue_then_status_changes_write_chained_events(registry):
    cert = issue_one(registry, "Budi Santoso", NOW)
    assert cert.status is Status.ACTIVE and cert.effective_status(NOW) is EffectiveStatus.VALID
    registry.suspend(cert.number, reason="complaint under review", now=NOW, actor="staff")
    registry.reinstate(cert.number, reason="complaint unfounded", now=NOW, actor="staff")
    done = registry.withdraw(cert.number, reason="fraud", now=NOW, actor="staff")
    assert done.status is Status.WITHDRAWN and done.status_reason == "fraud"
    events = registry.events(cert.number)
    assert [e.type for e in events] == [EventType.ISSUE, EventType.SUSPEND, EventType.REINSTATE, EventType.WITHDRAW]
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:]))
    assert registry.head() == (4, events[-1].hash)


def _unchanged(registry, number, action):
    before_events, before = registry.events(), registry.get(number)
    with pytest.raises(TransitionError) as err:
        action()
    assert registry.events() == before_events and registry.get(number) == before
    return str(err.value)


def test_illegal_transitions_change_nothing(registry):
    cert = issue_one(registry, "Siti Aminah", NOW)
    assert "is active; it cannot be reinstated" in _unchanged(
        registry, cert.number, lambda: registry.reinstate(cert.number, reason="x", now=NOW, actor="s"))
    registry.withdraw(cert.number, reason="fraud", now=NOW, actor="s")
    assert "is withdrawn; it cannot be reinstated" in _unchanged(
        registry, cert.number, lambda: registry.reinstate(cert.number, reason="x", now=NOW, actor="s"))
    assert "is withdrawn; it cannot be suspended" in _unchanged(
        registry, cert.number, lambda: registry.suspend(cert.number, reason="x", now=NOW, actor="s"))
    assert "a reason is required" in _unchanged(
        registry, cert.number, lambda: registry.suspend(cert.number, reason="  ", now=NOW, actor="s"))


def test_expired_certificate_cannot_be_suspended_or_reinstated(registry):
    cert = issue_one(registry, "Agus", NOW, expires=date(2026, 11, 23))
    assert cert.effective_status(NOW) is EffectiveStatus.EXPIRED
    assert "expired on 2026-11-23" in _unchanged(
        registry, cert.number, lambda: registry.suspend(cert.number, reason="x", now=NOW, actor="s"))
    # valid through its last day in Jakarta: 23 Nov 23:59 WIB is 16:59 UTC
    assert cert.effective_status(datetime(2026, 11, 23, 16, 59, tzinfo=timezone.utc)) is EffectiveStatus.VALID
    assert registry.withdraw(cert.number, reason="fraud found later", now=NOW, actor="s").status is Status.WITHDRAWN


def test_pending_certificate_cannot_change_status(registry):
    cert = registry.reserve([new_person("Pending")], now=NOW)[0]
    assert "not issued yet" in _unchanged(registry, cert.number,
                                          lambda: registry.suspend(cert.number, reason="x", now=NOW, actor="s"))


def test_issuing_twice_is_refused(registry):
    cert = issue_one(registry, "Dua Kali", NOW)
    with pytest.raises(TransitionError, match="not pending; it cannot be issued again"):
        registry.mark_issued(cert.number, pdf_sha256="cd" * 32, dsc_kid="00" * 8, now=NOW, actor="x")


def test_replace_links_the_successor(registry):
    old = issue_one(registry, "Lama", NOW)
    new = issue_one(registry, "Baru", NOW)
    replaced = registry.replace(old.number, new.number, reason="name corrected", now=NOW, actor="s")
    assert replaced.status is Status.REPLACED and replaced.replaced_by == new.number
    assert registry.events(old.number)[-1].data["successor"] == new.number
    with pytest.raises(TransitionError, match="cannot replace itself"):
        registry.replace(new.number, new.number, reason="x", now=NOW, actor="s")


def test_mistyped_number_is_rejected_before_lookup(registry):
    cert = issue_one(registry, "Rina", NOW)
    typo = cert.number[:-3] + ("9" if cert.number[-3] != "9" else "8") + cert.number[-2:]
    with pytest.raises(NumberFormatError, match="check character does not match"):
        registry.get(typo)
    with pytest.raises(NotFoundError, match="is not in the registry"):
        registry.get("SK-2026-000999-" + check_character("SK2026000999"))


# -- the auditor's check ----------------------------------------------------------------------

@pytest.fixture
def history(registry, keystore):
    """Ten certificates with some status changes and a checkpoint after the first eight events."""
    certs = [issue_one(registry, f"Orang {i}", NOW) for i in range(8)]
    registry.checkpoint(keystore.current_signer(PASSPHRASE, now=NOW), now=NOW)
    registry.suspend(certs[0].number, reason="audit", now=NOW, actor="s")
    registry.withdraw(certs[1].number, reason="fraud", now=NOW, actor="s")
    return certs


def _report(registry, keystore):
    return verify_log(registry, keystore.trust_list(), keystore.root_certificate())


def test_intact_log_verifies(registry, keystore, history):
    report = _report(registry, keystore)
    assert report.ok, report.problems
    assert (report.events, report.checkpoints, report.certificates) == (10, 1, 8)


def _sql(registry, statement, **params):
    with registry.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_altered_event_is_the_first_break(registry, keystore, history):
    _sql(registry, "UPDATE events SET reason = 'routine' WHERE seq = 10")
    report = _report(registry, keystore)
    assert str(report.first_break) == "event 10: content does not match its hash (withdraw of %s was altered)" % history[1].number


def test_deleted_event_is_named(registry, keystore, history):
    _sql(registry, "DELETE FROM events WHERE seq = 9")
    report = _report(registry, keystore)
    assert str(report.first_break) == "event 10: sequence jumps from 8 to 10: events are missing"


def test_rewritten_history_before_a_checkpoint_is_caught_by_it(registry, keystore, history):
    """An attacker recomputes the whole chain after changing event 3: only the checkpoint tells."""
    from certgen.registry.chain import GENESIS, event_hash
    _sql(registry, "UPDATE events SET actor = 'mallory' WHERE seq = 3")
    prev = GENESIS
    for ev in registry.events():
        digest = event_hash(prev, seq=ev.seq, at=ev.at, type=ev.type.value, number=ev.number, actor=ev.actor,
                            reason=ev.reason, data=ev.data, actor_salt=ev.actor_salt)
        _sql(registry, "UPDATE events SET prev_hash = :p, hash = :h WHERE seq = :s", p=prev, h=digest, s=ev.seq)
        prev = digest
    _sql(registry, "UPDATE chain_head SET hash = :h", h=prev)
    report = _report(registry, keystore)
    assert str(report.first_break) == "checkpoint 1 (event 8): signed a different hash for event 8: the history before it was rewritten"


def test_truncated_log_is_caught(registry, keystore, history):
    _sql(registry, "DELETE FROM events WHERE seq > 6")
    _sql(registry, "UPDATE chain_head SET seq = 6, hash = (SELECT hash FROM events WHERE seq = 6)")
    problems = [str(p) for p in _report(registry, keystore).problems]
    assert problems[0] == "checkpoint 1 (event 8): signed event 8, which is no longer in the log: the log was truncated"
    assert any("has no issue event" in p for p in problems)


def test_record_or_status_changed_behind_the_log(registry, keystore, history):
    _sql(registry, "UPDATE certificates SET status = 'active' WHERE number = :n", n=history[1].number)
    _sql(registry, "UPDATE certificates SET record = :r WHERE number = :n", r='{"holder": "Someone Else"}', n=history[2].number)
    problems = {str(p) for p in _report(registry, keystore).problems}
    assert f"certificate {history[1].number}: column status is 'active' in the table, but its history says 'withdrawn'" in problems
    assert any(p.startswith(f"certificate {history[2].number}: column record differs from its history (SHA-256 ") for p in problems)


def test_forged_checkpoint_signature(registry, keystore, history):
    _sql(registry, "UPDATE checkpoints SET seq = 9, hash = (SELECT hash FROM events WHERE seq = 9)")
    report = _report(registry, keystore)
    assert str(report.first_break) == "checkpoint 1 (event 9): signature does not verify: the checkpoint was altered"


def test_checkpoint_by_a_key_revoked_before_it(registry, keystore, history):
    kid = next(iter(keystore.trust_list().signers))
    trust = keystore.trust_list().revoke(kid, NOW - timedelta(hours=1), "compromise")
    report = verify_log(registry, trust, keystore.root_certificate())
    assert "when it was not trusted (key_revoked)" in str(report.first_break)


def test_checkpoint_signed_by_the_root(registry, keystore, history):
    registry.checkpoint(keystore.root_signer(PASSPHRASE), now=NOW)
    assert _report(registry, keystore).ok


# -- schema and backends ----------------------------------------------------------------------

def test_migrations_build_exactly_the_models(registry):
    with registry.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode(registry):
    with registry.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.postgres
def test_postgresql_backend(postgres_url, keystore):
    registry = Registry.open(postgres_url)
    try:
        with registry.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        cert = issue_one(registry, "Putu Ayu Widiastuti", NOW, key="pg-1")
        again = registry.reserve([new_person("Putu Ayu Widiastuti", "pg-1")], now=NOW)
        assert again[0].number == cert.number
        registry.suspend(cert.number, reason="audit", now=NOW, actor="s")
        registry.checkpoint(keystore.current_signer(PASSPHRASE, now=NOW), now=NOW)
        assert registry.get(cert.number).status is Status.SUSPENDED
        assert registry.get(cert.number).status_changed_at == NOW
        assert verify_log(registry, keystore.trust_list(), keystore.root_certificate()).ok
        # the migration is a no-op the second time
        Registry.open(postgres_url).close()
    finally:
        registry.close()


def test_sqlite_fast_lookup_equals_the_core_lookup(registry):
    cert = issue_one(registry, "Ni Wayan Sukerti Ö'Neil", NOW)
    registry.suspend(cert.number, reason="audit", now=NOW + timedelta(seconds=1.5), actor="s")
    pending = registry.reserve([new_person("Belum Terbit", expires=None)], now=NOW)[0]
    for number in (cert.number, pending.number):
        assert registry.get(number) == registry.get_core(number)
    fast = registry.get(cert.number)
    assert fast.status_changed_at == NOW + timedelta(seconds=1.5) and fast.status_changed_at.tzinfo is not None
    assert fast.record["holder"] == "Ni Wayan Sukerti Ö'Neil" and registry.get(pending.number).expires is None


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file::memory:?uri=true",
                                 "sqlite:///file:registry?mode=memory&uri=true"])
def test_an_in_memory_sqlite_registry_is_refused_with_a_clear_error(url):
    """Each connection to an in-memory SQLite database gets its own empty one: a batch's sync
    thread used to fail with "no such table: chain_head". Refused when opened, saying why."""
    with pytest.raises(RegistryError, match="in-memory SQLite database: each connection gets its own empty one"):
        Registry.open(url)


def test_a_file_registry_named_like_memory_is_still_a_file(tmp_path):
    path = tmp_path / "memory.sqlite3"
    registry = Registry.open(f"sqlite:///{path}")
    try:
        assert path.is_file() and registry.head() is not None
    finally:
        registry.close()
