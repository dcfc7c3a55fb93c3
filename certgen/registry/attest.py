"""Bringing a registry issued before full-state events under the new rules (migration 0003_record_state).

Events written by the earlier code pinned only part of a certificate (kind, holder, the record,
PDF and card digests, the signer key id, the status and successor). Their hashes cannot change:
checkpoints signed them. So the upgrade keeps every old event as it is and appends, per
certificate that is not pending, one `attest` event carrying its full state as it stands, chained
after the old events. From then on `certgen log --verify` holds every column to that state,
and checks that the attested state agrees with every column the old history pins.

Before it attests anything, the upgrade checks the old log by the old rules (chain, chain head,
every row against the columns its old history pins) and refuses, naming the first break, when it
is already broken: attesting a row edited behind the log's back would launder the edit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from ..errors import RegistryError
from ..model import EventType, Status
from .chain import event_hash
from .history import CERTIFICATES, SUBJECTS, check_chain, check_head, check_subject, known_types
from .reader import LogReader
from .state import certificate_state, state_digest
from .tables import UTCDateTime

ACTOR = "migration 0003_record_state"
REASON = "full state attested at the upgrade to events that commit to the whole record"
_CHUNK = 1000

_events = sa.table("events", sa.column("seq", sa.Integer), sa.column("at", UTCDateTime()), sa.column("type", sa.String),
                   sa.column("number", sa.String), sa.column("actor", sa.String), sa.column("reason", sa.Text),
                   sa.column("data", sa.JSON), sa.column("prev_hash", sa.String), sa.column("hash", sa.String))
_head = sa.table("chain_head", sa.column("id", sa.Integer), sa.column("seq", sa.Integer), sa.column("hash", sa.String))


def attest_existing(conn: Connection, *, now: datetime) -> int:
    """Check the old log, then append one attest event per certificate that is not pending.
    Returns how many were appended. Raises `RegistryError` naming the break of a broken log."""
    if conn.dialect.name == "postgresql":  # the writers' lock (repository._write)
        conn.execute(sa.select(_head.c.seq).where(_head.c.id == 1).with_for_update())
    reader = LogReader(conn)
    chain = check_chain(reader, keep=set(), types=known_types(SUBJECTS))
    problems = chain.problems + check_head(reader.head(), chain.last_seq, chain.last_hash)
    problems += [p for p in check_subject(reader, CERTIFICATES).problems if p.code != "unpinned"]
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise RegistryError(f"migration 0003_record_state refused: the existing log is already broken at {problems[0]}{more}; "
                            "run certgen log --verify with the code it was written by, and repair or restore it first")
    seq, prev = chain.last_seq, chain.last_hash
    batch: list[dict[str, Any]] = []
    count = 0
    for row in reader.certificates():
        if row["status"] == Status.PENDING.value:
            continue
        state = certificate_state(row)
        data = {"state": state, "state_sha256": state_digest(state)}
        seq += 1
        digest = event_hash(prev, seq=seq, at=now, type=EventType.ATTEST.value, number=row["number"], actor=ACTOR,
                            reason=REASON, data=data)
        batch.append(dict(seq=seq, at=now, type=EventType.ATTEST.value, number=row["number"], actor=ACTOR, reason=REASON,
                          data=data, prev_hash=prev, hash=digest))
        prev = digest
        count += 1
        if len(batch) >= _CHUNK:
            conn.execute(_events.insert(), batch)
            batch = []
    if batch:
        conn.execute(_events.insert(), batch)
    conn.execute(_head.update().where(_head.c.id == 1).values(seq=seq, hash=prev))
    return count
