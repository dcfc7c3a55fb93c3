"""The hash chain of events and its signed checkpoints: pure functions, no database.

    hash(event) = SHA-256( prev_hash || canonical JSON of {seq, at, type, number, actor, reason, data} )

with `prev_hash` the hex hash of the previous event (64 zeros before the first), and canonical
JSON meaning sorted keys, no spaces, UTF-8. A checkpoint signs
`{"format": "certgen-checkpoint/1", "seq": N, "hash": H, "at": T}`. docs/registry.md is normative.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Mapping

GENESIS = "0" * 64
CHECKPOINT_FORMAT = "certgen-checkpoint/1"


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that every hash in the registry is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def iso(moment: datetime) -> str:
    """UTC time with microseconds, as hashed and signed."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(prev_hash: str, *, seq: int, at: datetime, type: str, number: str, actor: str,
               reason: str | None, data: Mapping[str, Any]) -> str:
    body = {"seq": seq, "at": iso(at), "type": type, "number": number, "actor": actor,
            "reason": reason, "data": dict(data)}
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(body)).hexdigest()


def record_digest(record: Mapping[str, Any]) -> str:
    """SHA-256 of a certificate record: the state's `record_sha256` (state.py)."""
    return hashlib.sha256(canonical_json(dict(record))).hexdigest()


def checkpoint_message(seq: int, hash: str, at: datetime) -> bytes:
    return canonical_json({"format": CHECKPOINT_FORMAT, "seq": seq, "hash": hash, "at": iso(at)})
