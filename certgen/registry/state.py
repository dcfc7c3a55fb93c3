"""The canonical state of a certificate row: what every event commits to (pure, no database).

    state        = {number, series, kind, holder, scheme, granted, expires, record_sha256, status,
                    status_reason, status_changed_at, replaced_by, dsc_kid, pdf_sha256, card_sha256,
                    seal_sha256, issued_at, batch_key}      every value a string or null
                   + {card_edition, card_seal_sha256}        person certificates with card editions
    state_sha256 = SHA-256( canonical JSON of state )

Dates are `YYYY-MM-DD`, times `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC), the record and the seal
enter by their SHA-256 (the record's canonical JSON, the seal text's UTF-8), so an event stays
small. Every column a verdict, the public page, the API, the status list or the seal reads is
in it; `created_at` is not (docs/registry.md says why). The card keys (migration
0010_card_editions) are in a state only when `card_edition` is set: a state without them is
exactly the state events written before committed to. docs/registry.md is normative; the golden
vectors are in tests/test_log_state.py.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import date, datetime
from typing import Any, Mapping

from .chain import canonical_json, iso, record_digest

#: The state's keys, in the order problems are reported.
STATE_KEYS: tuple[str, ...] = (
    "number", "series", "kind", "holder", "scheme", "granted", "expires", "record_sha256", "status",
    "status_reason", "status_changed_at", "replaced_by", "dsc_kid", "pdf_sha256", "card_sha256", "seal_sha256",
    "issued_at", "batch_key",
)
#: State key -> the table column it stands for (the same name unless it is a digest).
COLUMN_OF: dict[str, str] = {key: key for key in STATE_KEYS} | {"record_sha256": "record", "seal_sha256": "seal"}
#: Keys holding a digest of a column rather than its value.
DIGEST_KEYS = frozenset({"record_sha256", "seal_sha256"})
_PLAIN_KEYS = tuple(key for key in STATE_KEYS if key not in DIGEST_KEYS)
#: Optional keys: a certificate with a card edition (docs/issuing.md, "Card editions") has both,
#: any other neither, so the states (and digests) of everything else are unchanged.
CARD_KEYS: tuple[str, ...] = ("card_edition", "card_seal_sha256")
COLUMN_OF.update({"card_edition": "card_edition", "card_seal_sha256": "card_seal"})
DIGEST_KEYS = DIGEST_KEYS | {"card_seal_sha256"}
#: The columns a status change sets (the rest stay as the issue event fixed them).
STATUS_KEYS = ("status", "status_reason", "status_changed_at", "replaced_by")


def record_sha256(record: Any) -> str:
    """SHA-256 of the record's canonical JSON (an unreadable stored record is hashed as its text)."""
    if isinstance(record, Mapping):
        return record_digest(record)
    if isinstance(record, str):
        return hashlib.sha256(b"unreadable:" + record.encode("utf-8", "surrogatepass")).hexdigest()
    return hashlib.sha256(canonical_json(record)).hexdigest()


def seal_sha256(seal: str | None) -> str | None:
    return None if seal is None else hashlib.sha256(str(seal).encode("utf-8", "surrogatepass")).hexdigest()


def _text(value: Any) -> str | None:
    """One column value as the state writes it. A value the reader could not parse arrives as
    its raw text and stays that text, so it differs from what the history says."""
    if value is None or type(value) is str:  # the common case first: this is on the issuing hot path
        return value
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def certificate_state(values: Mapping[str, Any] | Any) -> dict[str, str | None]:
    """The canonical state of a certificate from a mapping or an object with the table's column
    names (an ORM row, a `Certificate`, a row the auditor read)."""
    get = values.get if isinstance(values, dict) or isinstance(values, Mapping) else values.__getattribute__
    state = {key: _text(get(key)) for key in _PLAIN_KEYS}
    state["record_sha256"] = record_sha256(get("record"))
    state["seal_sha256"] = seal_sha256(get("seal"))
    out = {key: state[key] for key in STATE_KEYS}
    edition = _card_value(get, "card_edition")
    if edition is not None:
        out["card_edition"] = _text(edition)
        out["card_seal_sha256"] = seal_sha256(_card_value(get, "card_seal"))
    return out


def _card_value(get: Any, name: str) -> Any:
    """A card column, None where the values come from before migration 0010 (no such key)."""
    try:
        return get(name)
    except (KeyError, AttributeError):
        return None


def state_digest(state: Mapping[str, Any]) -> str:
    """`state_sha256`: SHA-256 of the state's canonical JSON."""
    return hashlib.sha256(canonical_json(dict(state))).hexdigest()


def is_state(value: Any) -> bool:
    """A well-formed state: exactly the state's keys, every value a string or null."""
    return (isinstance(value, Mapping) and set(value) - set(CARD_KEYS) == set(STATE_KEYS)
            and len(set(value) & set(CARD_KEYS)) in (0, len(CARD_KEYS))
            and all(v is None or isinstance(v, str) for v in value.values()))


def differences(table: Mapping[str, Any], history: Mapping[str, Any],
                keys: tuple[str, ...] = STATE_KEYS) -> list[str]:
    """The state keys (in `STATE_KEYS` order, then the card keys) where the two states differ."""
    return [key for key in (*keys, *CARD_KEYS) if table.get(key) != history.get(key)]
