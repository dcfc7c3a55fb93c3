"""A registry written the way the landed code (commit e8c391b) wrote it, without that code: schema
0002 by Alembic, rows and events in the old format by plain SQL. The same certificates, times and
changes as tests/landed_registry.py; test_log_migration.py checks the two agree row for row and
event for event wherever that commit is in the checkout, and uses this one where it is not."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from certgen.keys import KeyStore
from certgen.model import EventType
from certgen.numbers import CertificateNumber
from certgen.registry.chain import GENESIS, checkpoint_message, event_hash, record_digest
from certgen.registry.engine import MIGRATIONS, make_engine
from certgen.registry.tables import UTCDateTime

from tests.landed_registry import NOW, PASSPHRASE, person

_certificates = sa.table("certificates", *(sa.column(n, t) for n, t in [
    ("number", sa.String), ("series", sa.String), ("year", sa.Integer), ("serial", sa.Integer), ("kind", sa.String),
    ("holder", sa.String), ("scheme", sa.String), ("granted", sa.Date), ("expires", sa.Date), ("record", sa.JSON),
    ("status", sa.String), ("status_reason", sa.Text), ("status_changed_at", UTCDateTime()), ("replaced_by", sa.String),
    ("dsc_kid", sa.String), ("pdf_sha256", sa.String), ("card_sha256", sa.String), ("seal", sa.Text),
    ("batch_key", sa.String), ("created_at", UTCDateTime()), ("issued_at", UTCDateTime())]))
_events = sa.table("events", *(sa.column(n, t) for n, t in [
    ("seq", sa.Integer), ("at", UTCDateTime()), ("type", sa.String), ("number", sa.String), ("actor", sa.String),
    ("reason", sa.Text), ("data", sa.JSON), ("prev_hash", sa.String), ("hash", sa.String)]))
_head = sa.table("chain_head", sa.column("id", sa.Integer), sa.column("seq", sa.Integer), sa.column("hash", sa.String))
_series = sa.table("number_series", sa.column("series", sa.String), sa.column("year", sa.Integer),
                   sa.column("last_serial", sa.Integer))
_checkpoints = sa.table("checkpoints", *(sa.column(n, t) for n, t in [
    ("seq", sa.Integer), ("hash", sa.String), ("at", UTCDateTime()), ("kid", sa.String), ("alg", sa.String),
    ("signature", sa.Text)]))


class _Log:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn, self.seq, self.hash = conn, 0, GENESIS

    def append(self, type: EventType, number: str, actor: str, reason: str | None, data: dict[str, Any], at: datetime) -> None:
        self.seq += 1
        digest = event_hash(self.hash, seq=self.seq, at=at, type=type.value, number=number, actor=actor, reason=reason, data=data)
        self.conn.execute(_events.insert().values(seq=self.seq, at=at, type=type.value, number=number, actor=actor,
                                                  reason=reason, data=data, prev_hash=self.hash, hash=digest))
        self.conn.execute(_head.update().where(_head.c.id == 1).values(seq=self.seq, hash=digest))
        self.hash = digest

    def change(self, number: str, change: EventType, frm: str, to: str, reason: str, at: datetime,
               successor: str | None = None) -> None:
        data: dict[str, Any] = {"from": frm, "to": to}
        values: dict[str, Any] = dict(status=to, status_reason=reason, status_changed_at=at)
        if successor:
            data["successor"] = values["replaced_by"] = successor
        self.conn.execute(_certificates.update().where(_certificates.c.number == number).values(**values))
        self.append(change, number, "staff", reason, data, at)


def build_replica(url: str, keys_dir: Path) -> list[str]:
    store = KeyStore(keys_dir)
    store.init(PASSPHRASE, now=NOW - timedelta(days=31))
    signer = store.current_signer(PASSPHRASE, now=NOW)
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
    names = ["Ayu", "Budi", "Citra", "Dewi", "Eko", "Fajar"]
    with engine.begin() as conn:
        log, numbers = _Log(conn), []
        for serial, name in enumerate(names, 1):
            item = person(name, "SKM-PTK-03/2024")
            number = str(CertificateNumber.build(item.series, 2026, serial))
            numbers.append(number)
            conn.execute(_certificates.insert().values(
                number=number, series=item.series.value, year=2026, serial=serial, kind=item.series.kind.value,
                holder=item.holder, scheme=item.scheme, granted=item.granted, expires=item.expires, record=dict(item.record),
                status="pending", status_changed_at=NOW, batch_key=item.batch_key, created_at=NOW))
        conn.execute(_series.insert().values(series="SK", year=2026, last_serial=len(names)))
        kid = signer.kid.hex()
        for i, number in enumerate(numbers[:5]):
            row = conn.execute(sa.select(_certificates).where(_certificates.c.number == number)).one()
            values = dict(status="active", status_changed_at=NOW, issued_at=NOW, pdf_sha256=f"{i:02x}" * 32,
                          card_sha256=f"{i + 32:02x}" * 32, seal=f"https://verify.example/v/SEAL{i}", dsc_kid=kid)
            conn.execute(_certificates.update().where(_certificates.c.number == number).values(**values))
            log.append(EventType.ISSUE, number, "staff", None,
                       {"kind": row.kind, "holder": row.holder, "record_sha256": record_digest(row.record),
                        "pdf_sha256": values["pdf_sha256"], "card_sha256": values["card_sha256"], "dsc_kid": kid}, NOW)
        _checkpoint(conn, signer, log, NOW)
        later = NOW + timedelta(days=1)
        log.change(numbers[1], EventType.SUSPEND, "active", "suspended", "complaint", later)
        log.change(numbers[1], EventType.REINSTATE, "suspended", "active", "resolved", later + timedelta(hours=1))
        log.change(numbers[2], EventType.WITHDRAW, "active", "withdrawn", "fraud", later)
        log.change(numbers[3], EventType.REPLACE, "active", "replaced", "renewed", later, successor=numbers[4])
        _checkpoint(conn, signer, log, later + timedelta(hours=2))
    engine.dispose()
    return numbers


def _checkpoint(conn: sa.Connection, signer: Any, log: _Log, at: datetime) -> None:
    signature = signer.sign(checkpoint_message(log.seq, log.hash, at))
    conn.execute(_checkpoints.insert().values(seq=log.seq, hash=log.hash, at=at, kid=signer.kid.hex(), alg=signer.alg.jose_name,
                                              signature=base64.b64encode(signature).decode("ascii")))
