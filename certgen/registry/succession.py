"""Renewal and correction: how a successor certificate names what it replaces (pure, no database).

A successor is an ordinary certificate issued through the batch pipeline; its stored record
carries one extra key, `replaces`:

    record["replaces"] = {"number": "P1-2026-000012-K", "change": "correction" | "renewal",
                          "reason": "correction of client_name: misspelt name"}

The record enters every event of the successor by its SHA-256 (`state.record_sha256`), so the
link the public sees from the successor to the old certificate is under the log; the old
certificate's `replaced_by` column is in the state itself (set by the `replace` event, written in
the same transaction as the successor's `issue` event: `Registry.mark_issued_many`).

The successor's batch key is derived from the old number alone (`successor_key`): the registry
holds at most one successor per certificate (the batch key is unique), a rerun after a crash
finds the successor it started, and two processes replacing the same certificate at once get
the same one. docs/lifecycle.md is the user's description.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import NumberFormatError
from ..numbers import parse_number

#: The record key of a successor's link to the certificate it replaces.
REPLACES = "replaces"
CORRECTION = "correction"
RENEWAL = "renewal"
CHANGES = (CORRECTION, RENEWAL)


@dataclass(frozen=True)
class Replacement:
    """What a successor replaces, and why (the reason goes into the old certificate's `replace` event)."""

    #: The old certificate's number (canonical form).
    number: str
    #: correction (same validity) or renewal (new validity).
    change: str
    #: Why, as the log and the public page show it.
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"number": self.number, "change": self.change, "reason": self.reason}


def successor_key(old_number: str) -> str:
    """The batch key of the successor of `old_number` (64 hex characters, like content keys)."""
    return hashlib.sha256(f"successor of {old_number}".encode("utf-8")).hexdigest()


def replacement_of(record: Any) -> Replacement | None:
    """The `replaces` entry of a stored record, or None; a malformed entry (an edited row, caught
    by `certgen log --verify` through the record's digest) is None here, never an exception."""
    if not isinstance(record, Mapping):
        return None
    value = record.get(REPLACES)
    if not isinstance(value, Mapping):
        return None
    number, change, reason = value.get("number"), value.get("change"), value.get("reason")
    if not isinstance(number, str) or change not in CHANGES or not isinstance(reason, str):
        return None
    try:
        canonical = str(parse_number(number))
    except NumberFormatError:
        return None
    return Replacement(canonical, change, reason) if canonical == number else None


def with_replacement(record: Mapping[str, Any], replacement: Replacement | None) -> dict[str, Any]:
    """The record to store for a certificate: `record` itself, or with its `replaces` entry."""
    out = dict(record)
    if replacement is not None:
        out[REPLACES] = replacement.as_json()
    return out


def document_part(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a record certifies, for comparing a stored successor with the row asking for it: the
    `replaces` entry and the photo's file location (not its digest) left out."""
    return {k: v for k, v in record.items() if k not in (REPLACES, "photo")}


def replace_reason(change: str, changed: list[str], given: str | None) -> str:
    """The reason logged: the change, the fields it changed, and the staff's own words."""
    text = change + (f" of {', '.join(changed)}" if changed and change == CORRECTION else "")
    if change == RENEWAL and changed:
        text += f" ({', '.join(changed)})"
    given = (given or "").strip()
    return f"{text}: {given}" if given else text


__all__ = ["CHANGES", "CORRECTION", "RENEWAL", "REPLACES", "Replacement", "document_part", "replace_reason",
           "replacement_of", "successor_key", "with_replacement"]
