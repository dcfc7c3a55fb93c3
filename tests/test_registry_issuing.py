"""A batch group marked issued with Core statements (certgen/registry/issuing.py) writes exactly
what the ORM way writes: the same certificate rows, the same chained events and hashes, on
SQLite and on a real PostgreSQL; it refuses what the ORM way refuses, writing nothing; and a
group with a successor goes the ORM way, which marks the old certificate replaced."""

import dataclasses
import itertools
import uuid

import psycopg
import pytest
from sqlalchemy import select

from certgen.config import sqlite_url
from certgen.errors import NotFoundError, SuccessorDiscarded, TransitionError
from certgen.model import Status
from certgen.registry import Issued, Registry, repository, verify_log
from certgen.registry.discard import discard_successor
from certgen.registry.succession import Replacement, with_replacement
from certgen.registry.tables import CertificateRow, EventRow
from tests.conftest import NOW
from tests.registry_helpers import issue_one, new_person


def _deterministic_salts(monkeypatch):
    counter = itertools.count()
    monkeypatch.setattr(repository, "_actor_salt", lambda: f"{next(counter):032x}")


def _issue_group(registry: Registry, count: int) -> list:
    reserved = registry.reserve([new_person(f"Person {i}", key=f"k{i}") for i in range(count)], now=NOW)
    issued = [Issued(r.number, f"{i:02x}" * 32, f"{i + 1:02x}" * 32, f"seal {i}", f"card seal {i}")
              for i, r in enumerate(reserved)]
    return registry.mark_issued_many(issued[:count // 2], dsc_kid="ab" * 8, now=NOW, actor="tester") + \
        registry.mark_issued_many(issued[count // 2:], dsc_kid="ab" * 8, now=NOW, actor="tester")


def _dump(registry: Registry) -> tuple[list, list]:
    with registry.engine.connect() as conn:
        certificates = [dict(r) for r in conn.execute(select(CertificateRow.__table__)
                                                      .order_by(CertificateRow.number)).mappings()]
        events = [dict(r) for r in conn.execute(select(EventRow.__table__).order_by(EventRow.seq)).mappings()]
    return certificates, events


def _both_ways(url_core: str, url_orm: str, monkeypatch):
    _deterministic_salts(monkeypatch)
    core = Registry.open(url_core)
    returned_core = _issue_group(core, 9)
    _deterministic_salts(monkeypatch)
    monkeypatch.setattr(repository, "mark_issued_core", lambda *a, **k: None)  # the ORM way
    orm = Registry.open(url_orm)
    returned_orm = _issue_group(orm, 9)
    monkeypatch.undo()
    try:
        assert returned_core == returned_orm
        assert _dump(core) == _dump(orm)
        assert [c.status for c in returned_core] == [Status.ACTIVE] * 9
        assert all(c.card_edition == 1 and c.card_seal.startswith("card seal") for c in returned_core)
        return core
    finally:
        orm.close()


def test_core_and_orm_write_the_same_rows_and_events_on_sqlite(tmp_path, monkeypatch, keystore):
    core = _both_ways(sqlite_url(tmp_path / "core.sqlite3"), sqlite_url(tmp_path / "orm.sqlite3"), monkeypatch)
    try:
        report = verify_log(core, keystore.trust_list(), keystore.root_certificate())
        assert report.ok and report.events == 9
    finally:
        core.close()


def test_core_and_orm_write_the_same_rows_and_events_on_postgresql(postgres_url, monkeypatch, keystore):
    host = postgres_url.split("host=")[1].split("&")[0]  # a second database on the same server for the ORM way
    port = postgres_url.split("port=")[1]
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    other = f"postgresql+psycopg://postgres@/{name}?host={host}&port={port}"
    core = _both_ways(postgres_url, other, monkeypatch)
    try:
        report = verify_log(core, keystore.trust_list(), keystore.root_certificate())
        assert report.ok and report.events == 9
    finally:
        core.close()


def _refused_and_unchanged(registry: Registry, issued: list, error: type, match: str) -> None:
    before = _dump(registry)
    with pytest.raises(error, match=match):
        registry.mark_issued_many(issued, dsc_kid="ab" * 8, now=NOW, actor="tester")
    assert _dump(registry) == before


def _successor_of(number: str, name: str, key: str):
    person = new_person(name, key=key)
    return dataclasses.replace(person, record=with_replacement(person.record,
                                                               Replacement(number, "correction", "name corrected")))


def test_refusals_write_nothing(registry):
    done = issue_one(registry, "Already issued", NOW)
    pending = registry.reserve([new_person("Pending", key="p")], now=NOW)[0]
    discarded = registry.reserve([_successor_of(done.number, "Discarded", "d")], now=NOW)[0]
    discard_successor(registry, discarded.number, reason="typo in the name", now=NOW, actor="tester")
    fresh = Issued(pending.number, "cd" * 32)
    _refused_and_unchanged(registry, [fresh, Issued(done.number, "cd" * 32)], TransitionError, "not pending")
    _refused_and_unchanged(registry, [fresh, Issued("SK-2026-999999-X", "cd" * 32)], NotFoundError, "not in the registry")
    _refused_and_unchanged(registry, [fresh, Issued(discarded.number, "cd" * 32)], SuccessorDiscarded, "discarded")
    assert registry.get(pending.number).status is Status.PENDING


def test_a_group_with_a_successor_marks_the_old_certificate_replaced(registry, keystore):
    old = issue_one(registry, "Old name", NOW)
    successor = _successor_of(old.number, "New name", "s")
    plain = new_person("Plain", key="q")
    reserved = registry.reserve([plain, successor], now=NOW)
    registry.mark_issued_many([Issued(r.number, "ef" * 32) for r in reserved], dsc_kid="ab" * 8, now=NOW,
                              actor="tester")
    assert registry.get(old.number).status is Status.REPLACED
    assert [registry.get(r.number).status for r in reserved] == [Status.ACTIVE, Status.ACTIVE]
    report = verify_log(registry, keystore.trust_list(), keystore.root_certificate())
    assert report.ok, report.problems
