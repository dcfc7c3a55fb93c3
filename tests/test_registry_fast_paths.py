"""The verification page's look-up on PostgreSQL: straight on psycopg, equal to the Core path,
and a connection the server dropped is replaced without a failed look-up (no pre-ping)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from certgen.errors import NotFoundError
from certgen.numbers import check_character
from certgen.registry import Registry
from tests.conftest import NOW
from tests.registry_helpers import issue_one, new_person


@pytest.fixture
def pg_registry(postgres_url):
    registry = Registry.open(postgres_url)
    yield registry
    registry.close()


def test_postgres_fast_lookup_equals_the_core_lookup(pg_registry):
    cert = issue_one(pg_registry, "Ni Wayan Sukerti Ö'Neil", NOW)
    pg_registry.suspend(cert.number, reason="audit", now=NOW + timedelta(seconds=1.5), actor="s")
    pending = pg_registry.reserve([new_person("Belum Terbit", expires=None)], now=NOW)[0]
    for _ in range(7):  # psycopg prepares the statement after a few uses: both forms checked
        for number in (cert.number, pending.number):
            assert pg_registry.get(number) == pg_registry.get_core(number)
    fast = pg_registry.get(cert.number)
    assert fast.status_changed_at == NOW + timedelta(seconds=1.5) and fast.status_changed_at.tzinfo is not None
    assert fast.record["holder"] == "Ni Wayan Sukerti Ö'Neil" and pg_registry.get(pending.number).expires is None
    with pytest.raises(NotFoundError):
        pg_registry.get("SK-2026-999999-" + check_character("SK2026999999"))


def test_a_connection_dropped_by_the_server_costs_no_failed_lookup(pg_registry):
    cert = issue_one(pg_registry, "Putu Setiawan", NOW)
    assert pg_registry.get(cert.number).holder == "Putu Setiawan"  # a pooled look-up connection now exists
    with pg_registry.engine.begin() as admin:  # the server ends every other session (a restart, a failover)
        admin.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    assert pg_registry.get(cert.number).holder == "Putu Setiawan"
    assert pg_registry.get(cert.number).holder == "Putu Setiawan"
