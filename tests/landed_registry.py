"""Build a registry with whatever `certgen` is on the path: tests/test_log_migration.py runs it
with the landed code of commit e8c391b (schema 0002, events that pin part of the record), as a
deployed registry would have been written before migration 0003_record_state.

    python tests/landed_registry.py URL KEYS_DIR EXPECTED_PACKAGE_ROOT  -> JSON of the numbers
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta, timezone

import certgen
from certgen.keys import KeyStore
from certgen.model import PersonRecord, Series, record_to_json
from certgen.registry import Issued, NewCertificate, Registry

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
PASSPHRASE = b"test-passphrase-0"


def person(name: str, code: str) -> NewCertificate:
    record = PersonRecord(name=name, scheme_code=code, scheme_name="Pengawas Mutu Hasil Perikanan", scope="Pengawas mutu",
                          grant_date=date(2026, 11, 24), expiry_date=date(2029, 11, 23))
    return NewCertificate(Series.PERSON, record.holder, record.scheme, record.grant_date, record.expires,
                          record_to_json(record), f"key-{name}")


def main() -> None:
    url, keys_dir, root = sys.argv[1:4]
    if not certgen.__file__.startswith(root):
        raise SystemExit(f"expected certgen from {root}, got {certgen.__file__}")
    store = KeyStore(keys_dir)
    store.init(PASSPHRASE, now=NOW - timedelta(days=31))
    signer = store.current_signer(PASSPHRASE, now=NOW)
    registry = Registry.open(url)
    names = ["Ayu", "Budi", "Citra", "Dewi", "Eko", "Fajar"]
    numbers = [r.number for r in registry.reserve([person(n, "SKM-PTK-03/2024") for n in names], now=NOW)]
    registry.mark_issued_many([Issued(n, f"{i:02x}" * 32, f"{i + 32:02x}" * 32, f"https://verify.example/v/SEAL{i}")
                               for i, n in enumerate(numbers[:5])], dsc_kid=signer.kid.hex(), now=NOW, actor="staff")
    registry.checkpoint(signer, now=NOW)
    later = NOW + timedelta(days=1)
    registry.suspend(numbers[1], reason="complaint", now=later, actor="staff")
    registry.reinstate(numbers[1], reason="resolved", now=later + timedelta(hours=1), actor="staff")
    registry.withdraw(numbers[2], reason="fraud", now=later, actor="staff")
    registry.replace(numbers[3], numbers[4], reason="renewed", now=later, actor="staff")
    registry.checkpoint(signer, now=later + timedelta(hours=2))
    with registry.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    registry.close()  # the last connection to close folds SQLite's WAL into the file
    print(json.dumps({"numbers": numbers, "version": version}))


if __name__ == "__main__":
    main()
