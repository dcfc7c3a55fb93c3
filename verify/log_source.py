"""Where the transparency log is read from, and the documents it answers with.

`RegistryLog` reads a registry database; `HttpLog` asks the verification service's
`/api/v1/log/...` endpoints (verify/web/log_routes.py), which serve the very documents built
here (`proof_document`, `entry_document`, `consistency_document`). Nothing read here is
trusted: `entry_problem` checks a leaf document against a signed tree head.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from typing import Any, Protocol

from certgen.errors import NotFoundError, NumberFormatError
from certgen.model import EventType
from certgen.note import TreeHead
from certgen.numbers import parse_number
from certgen.registry import Registry, merkle, tlog
from certgen.registry.chain import event_hash, iso
from certgen.registry.state import certificate_state

PROOF_FORMAT = "certverify-log-proof/1"
MAX_RESPONSE = 1 << 20


class LogUnavailable(Exception):
    """The log could not be asked, or gave no usable answer. `reason` is a short code
    (`not_in_registry`, `not_checkpointed`, `no_checkpoint`, `unavailable`, `malformed`)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class LogSource(Protocol):
    def checkpoint(self) -> bytes:
        """The latest checkpoint text."""

    def consistency(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes."""

    def proof(self, number: str) -> dict[str, Any]:
        """The inclusion proof document of a certificate's latest event (`proof_document`)."""

    def entry(self, index: int) -> dict[str, Any]:
        """Leaf `index` of the latest checkpoint, with its proof (`entry_document`)."""


# -- the documents, built from a registry (the web service serves exactly these) --------------

def proof_document(registry: Registry, number: str) -> dict[str, Any]:
    """Inclusion proof of `number`'s latest event in the latest checkpoint, with the event itself
    (so the verifier recomputes its hash), the checkpoint text (so it checks the signature) and
    the certificate row's state (so it checks the row is what the event commits to)."""
    try:
        canonical = str(parse_number(number))
    except NumberFormatError as exc:
        raise LogUnavailable("malformed", str(exc)) from None
    head = tlog.latest_tree_head(registry)
    if head is None:
        raise LogUnavailable("no_checkpoint", "the log has no signed checkpoint yet")
    seq = tlog.latest_event_seq(registry, canonical)
    if seq is None:
        raise LogUnavailable("not_in_registry", f"{canonical} has no event in the log")
    if seq > head.size:
        raise LogUnavailable("not_checkpointed", f"the latest event of {canonical} (event {seq}) is newer than the "
                                                 f"latest checkpoint ({head.size} events)")
    try:
        state = certificate_state(registry.get(canonical))
    except NotFoundError:
        state = None
    # the row's state as the registry holds it now: its digest must be the one the event commits to
    return {"number": canonical, **entry_document(registry, seq - 1, head), "state": state}


#: Events whose content the public may read: a certificate's life, which its public page shows
#: anyway, and the published trust lists (served at /api/v1/trustlist anyway). Every other event (the service standard's applications and complaints, with names,
#: addresses and contacts) is served as its hash only: its inclusion is still proven.
PUBLIC_EVENT_TYPES = frozenset({EventType.ISSUE, EventType.SUSPEND, EventType.REINSTATE, EventType.WITHDRAW,
                                EventType.REPLACE, EventType.ATTEST, EventType.REDEEM, EventType.TRUST_LIST})


def entry_document(registry: Registry, index: int, head: Any = None) -> dict[str, Any]:
    """Leaf `index` of the latest checkpoint's tree: the event, its inclusion proof and the
    checkpoint. An auditor asks for the last leaf to see the log still holds what was signed."""
    head = head or tlog.latest_tree_head(registry)
    if head is None:
        raise LogUnavailable("no_checkpoint", "the log has no signed checkpoint yet")
    if not 0 <= index < head.size:
        raise LogUnavailable("malformed", f"leaf {index} is not in the latest checkpoint ({head.size} events)")
    events = registry.events(after=index, limit=1)
    if not events or events[0].seq != index + 1:
        raise LogUnavailable("truncated", f"event {index + 1}, signed by the latest checkpoint, is not in the log: "
                                          "the log was truncated")
    event = events[0]
    if event.type in PUBLIC_EVENT_TYPES:
        # who acted: a salted commitment, not the staff member's name (older events: the name)
        shown = {"seq": event.seq, "at": iso(event.at), "type": event.type.value, "number": event.number,
                 **event.public_actor, "reason": event.reason, "data": dict(event.data),
                 "prev_hash": event.prev_hash, "hash": event.hash}
    else:  # an applicant's or complainant's record: its hash is proven, its content stays private
        shown = {"seq": event.seq, "type": event.type.value, "redacted": True,
                 "prev_hash": event.prev_hash, "hash": event.hash}
    return {
        "format": PROOF_FORMAT, "leaf_index": index, "tree_size": head.size,
        "event": shown,
        "hashes": [b64(h) for h in tlog.inclusion_proof(registry, index, head.size)],
        "checkpoint": head.note,
    }


def consistency_document(registry: Registry, first: int, second: int) -> dict[str, Any]:
    head = tlog.latest_tree_head(registry)
    if head is None:
        raise LogUnavailable("no_checkpoint", "the log has no signed checkpoint yet")
    if not 0 <= first <= second <= head.size:
        raise LogUnavailable("malformed", f"sizes must satisfy 0 <= from <= to <= {head.size} (the latest checkpoint)")
    return {"from": first, "to": second, "hashes": [b64(h) for h in tlog.consistency_proof(registry, first, second)]}


class RegistryLog:
    """The log read straight from a registry database. A database error (down, or rows an
    attacker made unreadable) becomes LogUnavailable, never a traceback."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _ask(self, build: Any, *args: Any) -> Any:
        try:
            return build(self.registry, *args)
        except LogUnavailable:
            raise
        except Exception as exc:
            raise LogUnavailable("unavailable", f"the registry cannot be read ({type(exc).__name__})") from None

    def checkpoint(self) -> bytes:
        head = self._ask(tlog.latest_tree_head)
        if head is None:
            raise LogUnavailable("no_checkpoint", "the log has no signed checkpoint yet")
        return head.note.encode()

    def consistency(self, first: int, second: int) -> list[bytes]:
        return proof_hashes(self._ask(consistency_document, first, second))

    def proof(self, number: str) -> dict[str, Any]:
        return self._ask(proof_document, number)

    def entry(self, index: int) -> dict[str, Any]:
        return self._ask(entry_document, index)


class HttpLog:
    """The log read from the verification service (`/api/v1/log/...`)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str) -> tuple[bytes, str]:
        url = f"{self.base_url}/api/v1/log/{path}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                data = response.read(MAX_RESPONSE + 1)
                if len(data) > MAX_RESPONSE:
                    raise LogUnavailable("malformed", f"{url}: the answer is larger than {MAX_RESPONSE} bytes")
                return data, response.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            try:
                answer = json.loads(exc.read(MAX_RESPONSE))
            except ValueError:
                answer = {}
            reason = answer.get("reason") if isinstance(answer, dict) else None
            raise LogUnavailable(reason or "unavailable", f"{url} answered {exc.code}: {answer.get('error', '') if isinstance(answer, dict) else ''}") from None
        except (OSError, ValueError) as exc:
            raise LogUnavailable("unavailable", f"{self.base_url} cannot be reached ({exc})") from None

    def _json(self, path: str) -> dict[str, Any]:
        data, _ = self._get(path)
        try:
            doc = json.loads(data)
        except ValueError:
            raise LogUnavailable("malformed", f"{self.base_url}: the answer to {path} is not JSON") from None
        if not isinstance(doc, dict):
            raise LogUnavailable("malformed", f"{self.base_url}: the answer to {path} is not a JSON object")
        return doc

    def checkpoint(self) -> bytes:
        data, _ = self._get("checkpoint")
        return data

    def consistency(self, first: int, second: int) -> list[bytes]:
        return proof_hashes(self._json(f"consistency?from={first}&to={second}"))

    def proof(self, number: str) -> dict[str, Any]:
        return self._json(f"proof/{urllib.parse.quote(number, safe='')}")

    def entry(self, index: int) -> dict[str, Any]:
        return self._json(f"entry/{index}")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def proof_hashes(doc: dict[str, Any]) -> list[bytes]:
    try:
        hashes = [base64.b64decode(h, validate=True) for h in doc["hashes"]]
    except (KeyError, TypeError, binascii.Error):
        raise LogUnavailable("malformed", "the proof's hashes are not a list of base64 strings") from None
    if any(len(h) != merkle.HASH_SIZE for h in hashes) or len(hashes) > 128:
        raise LogUnavailable("malformed", "the proof's hashes are not 32-byte hashes")
    return hashes


def entry_problem(doc: dict[str, Any], head: TreeHead) -> str | None:
    """Why a leaf document does not prove its event in `head`, or None."""
    event, index, size = doc["event"], int(doc["leaf_index"]), int(doc["tree_size"])
    if size != head.size:
        return f"the proof is for {size} events, the checkpoint signs {head.size}"
    if event.get("redacted") is True:  # a private record: only its hash and place in the log are shown
        if str(event.get("type")) in {t.value for t in PUBLIC_EVENT_TYPES}:
            return f"event {index + 1} is a certificate event but its content was withheld"
        if int(event["seq"]) != index + 1 or not _is_hex_hash(event.get("hash")):
            return f"event {index + 1} does not match its hash"
        if not merkle.verify_inclusion(merkle.leaf_hash(bytes.fromhex(event["hash"])), index, size, proof_hashes(doc), head.root):
            return f"event {index + 1} is not in the signed tree of {size} events (the proof fails)"
        return None
    # who acted: the salted commitment the hash covers (docs/registry.md), or an older event's name
    if ("actor" in event) == ("actor_commitment" in event):
        return f"event {index + 1} must show exactly one of actor and actor_commitment"
    actor = str(event["actor_commitment"] if "actor_commitment" in event else event["actor"])
    recomputed = event_hash(str(event["prev_hash"]), seq=int(event["seq"]),
                            at=datetime.strptime(event["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc),
                            type=str(event["type"]), number=str(event["number"]), actor=actor,
                            reason=event["reason"], data=dict(event["data"]))
    if recomputed != event["hash"] or int(event["seq"]) != index + 1:
        return f"event {index + 1} does not match its hash"
    if not merkle.verify_inclusion(merkle.leaf_hash(bytes.fromhex(event["hash"])), index, size, proof_hashes(doc), head.root):
        return f"event {index + 1} is not in the signed tree of {size} events (the proof fails)"
    return None


def _is_hex_hash(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
