"""The hash chain of events and its signed checkpoints: pure functions, no database.

    hash(event) = SHA-256( prev_hash || canonical JSON of {seq, at, type, number, actor, reason, data} )

where `actor` is `actor_commitment(name, salt)` for every event with a salt (migration 0013) and
the name itself for older events;

with `prev_hash` the hex hash of the previous event (64 zeros before the first), and canonical
JSON meaning sorted keys, no spaces, UTF-8. A checkpoint signs
`{"format": "certgen-checkpoint/1", "seq": N, "hash": H, "at": T}`. docs/registry.md is normative.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any, Mapping

GENESIS = "0" * 64
_SALT = re.compile(r"[0-9a-f]{32}")
CHECKPOINT_FORMAT = "certgen-checkpoint/1"


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that every hash in the registry is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def iso(moment: datetime) -> str:
    """UTC time with microseconds, as hashed and signed."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def actor_commitment(actor: str, salt: str) -> str:
    """What the hashed event holds instead of the staff member's name: `sha256:` and the hex
    SHA-256 of the 16 salt bytes followed by the UTF-8 name. The random salt (kept in the
    registry, never published) stops anyone from testing guessed names against it; the hash
    binds the event to the one name the registry holds (docs/registry.md)."""
    return "sha256:" + hashlib.sha256(bytes.fromhex(salt) + actor.encode("utf-8")).hexdigest()


def is_actor_commitment(text: object) -> bool:
    """Whether `text` has the form of `actor_commitment` (never a name: certgen log --verify
    names an event whose actor is one without its salt)."""
    return (isinstance(text, str) and len(text) == 71 and text.startswith("sha256:")
            and all(c in "0123456789abcdef" for c in text[7:]))


def event_hash(prev_hash: str, *, seq: int, at: datetime, type: str, number: str, actor: str,
               reason: str | None, data: Mapping[str, Any], actor_salt: str | None = None) -> str:
    """With `actor_salt` (every event since migration 0013) the body's actor is the commitment
    to `actor`; without it (older events, or a public reader passing the commitment) `actor` as given."""
    if actor_salt is not None:
        # exactly 32 lower-case hex digits: bytes.fromhex skips white space, and a shorter salt
        # would let its last bytes pass for the front of another name under the same commitment
        if not _SALT.fullmatch(actor_salt):
            raise ValueError("an actor salt is 16 bytes in lower-case hex")
        actor = actor_commitment(actor, actor_salt)
    body = {"seq": seq, "at": iso(at), "type": type, "number": number, "actor": actor,
            "reason": reason, "data": dict(data)}
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(body)).hexdigest()


def record_digest(record: Mapping[str, Any]) -> str:
    """SHA-256 of a certificate record: the state's `record_sha256` (state.py)."""
    return hashlib.sha256(canonical_json(dict(record))).hexdigest()


def checkpoint_message(seq: int, hash: str, at: datetime) -> bytes:
    return canonical_json({"format": CHECKPOINT_FORMAT, "seq": seq, "hash": hash, "at": iso(at)})
