"""The newest trust list the registry's log names, checked (docs/deploy.md, "Changes live").

A web instance takes its trust list from the log, not from the `trust_lists` rows: the newest
`trustlist` event carries the root-signed list (certgen.registry.trust_log), so a database
writer who deletes or edits rows cannot hide a newer list. What the event says is checked here:
its own hash, the list's digest and root signature, the issue time it names, and, when a signed
checkpoint already covers the event, the event's inclusion in that checkpoint (RFC 9162 proof
against the root signed by a log key of the trust list), so an event edited to name an older
list is caught once a checkpoint has signed the real one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from cryptography import x509

from certgen.errors import TrustListError
from certgen.note import CheckpointError, open_tree_head
from certgen.registry import Registry, merkle, tlog
from certgen.registry import live as registry_live
from certgen.registry.chain import event_hash, iso
from certgen.trust import TrustList


@dataclass(frozen=True)
class LoggedList:
    """The newest trust list the log names, and what checking it found."""

    #: Sequence number of its `trustlist` event.
    seq: int
    #: Its id in `trust_lists` and issue time, as the event names them.
    id: str
    issued_at: str
    sha256: str
    data: bytes
    #: The verified list; None when no logged list checks out.
    trust: TrustList | None
    #: Size of the signed checkpoint that proved the event's inclusion; None when none covers it yet.
    checkpoint: int | None
    #: What does not check out among the logged lists (the latest such), if anything.
    problem: str | None = None
    #: An older list logged after a newer one (the newer one is still the one named here).
    order_problem: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"event": self.seq, "id": self.id, "issued_at": self.issued_at, "sha256": self.sha256,
                "checkpoint": self.checkpoint, "problem": self.problem, "order_problem": self.order_problem}


def read_logged(registry: Registry, root: x509.Certificate, in_use: TrustList) -> LoggedList | None:
    """The newest list the log names that checks out (see the module docstring); None when the
    log names none. Every logged list is checked (a few a year). "Newest" is by the signed issue
    time, not by the place in the log: an older list logged after a newer one (which the
    publisher never writes) is named in `order_problem` and does not displace it. A list that
    does not check out (an event edited, rewritten after a checkpoint, a bogus one appended) is
    named in `problem`; it never hides a good newer list (a revocation still gets through). When
    none checks out, `trust` is None. Database errors propagate (the caller's check fails)."""
    lists, malformed = registry_live.logged_trust_lists(registry)
    problem = f"{malformed[-1]}: the log was altered" if malformed else None
    problem = problem or _events_missing(registry, tuple(in_use.log_keys))
    if not lists:
        return None if problem is None else LoggedList(0, "?", "?", "?", b"", None, None, problem)
    good: list[LoggedList] = []
    for logged in reversed(lists):  # newest in the log first: the problem named is the latest one
        checked = _checked(registry, root, in_use, logged)
        if checked.trust is None:
            problem = problem or checked.problem
        else:
            good.append(checked)
    problem = problem or _anchor_missing(registry, tuple(in_use.log_keys) + tuple(k for g in good for k in g.trust.log_keys),
                                         good)
    if not good:
        return replace(_checked(registry, root, in_use, lists[-1]), problem=problem)
    newest, order_problem = None, None
    for found in reversed(good):  # log order
        if newest is not None and found.issued_at <= newest.issued_at:
            order_problem = (f"event {found.seq} names trust list {found.id} issued at {found.issued_at}, not newer than "
                             f"list {newest.id} (event {newest.seq}, issued at {newest.issued_at}): an older list was "
                             "written into the log")
        else:
            newest = found
    assert newest is not None
    return replace(newest, problem=problem, order_problem=order_problem)


def _checked(registry: Registry, root: x509.Certificate, in_use: TrustList, logged) -> LoggedList:
    def refused(problem: str, checkpoint: int | None = None) -> LoggedList:
        return LoggedList(logged.seq, logged.id, logged.issued_at, logged.sha256, logged.data, None, checkpoint, problem)

    ev = logged.event
    if _hash(ev) != ev.hash:
        return refused(f"event {ev.seq} does not match its hash: the log was altered")
    if hashlib.sha256(logged.data).hexdigest() != logged.sha256:
        return refused(f"the list event {ev.seq} carries does not match its sha256: the log was altered")
    try:
        trust = TrustList.load_signed(logged.data, root)
    except TrustListError as exc:
        return refused(str(exc))
    if trust.issued_at is None or iso(trust.issued_at) != logged.issued_at:
        return refused(f"event {ev.seq} names the issue time {logged.issued_at}, but the signed list says "
                       f"{iso(trust.issued_at) if trust.issued_at else 'none'}")
    checkpoint, problem = _inclusion(registry, ev.seq, ev.hash, tuple(in_use.log_keys) + tuple(trust.log_keys))
    if problem is not None:
        return refused(problem, checkpoint)
    return LoggedList(logged.seq, logged.id, logged.issued_at, logged.sha256, logged.data, trust, checkpoint)


def _anchor_missing(registry: Registry, keys: tuple, good: list[LoggedList]) -> str | None:
    """The latest signed checkpoint names the newest trust-list event it covers (its `trustlist`
    line, certgen.note.TreeHead.trust_list): that event must be among the lists that check out,
    with that digest. An event rewritten in place to look like another kind (its stored hash
    left alone, so the tree still matches) would otherwise just vanish from the lists."""
    stored = tlog.latest_tree_head(registry)
    if stored is None or not keys:
        return None
    try:
        head = open_tree_head(stored.note, keys).head
    except CheckpointError:
        return None  # not a checkpoint of ours: the audit names it
    if head.trust_list is None:
        return None  # signed before checkpoints carried the anchor, or no list logged by then
    seq, sha = head.trust_list
    if any(g.seq == seq and g.sha256 == sha for g in good):
        return None
    return (f"the signed checkpoint of {head.size} events names trust list event {seq} (sha256 {sha[:16]}...), which the "
            "log no longer shows as that list: the log was altered")


def _events_missing(registry: Registry, keys: tuple) -> str | None:
    """Events deleted from under the chain head, or the head moved back below the latest signed
    checkpoint: a list event deleted with them (a revocation) would otherwise leave no trace to
    prove. One count over the event keys, run when the trust version moves and at start."""
    seq = registry.head()[0]  # first: events appended meanwhile are above it
    with registry.engine.connect() as conn:
        held = conn.execute(sa.text("SELECT count(*) FROM events WHERE seq <= :n"), {"n": seq}).scalar_one()
    if held != seq:
        return f"the log holds {held} of the {seq} events its chain head names: events were deleted behind the chain's back"
    stored = tlog.latest_tree_head(registry)
    if stored is not None and stored.size > seq and keys:
        try:
            open_tree_head(stored.note, keys)
        except CheckpointError:
            return None  # not a checkpoint of ours (the audit names it)
        return f"the latest checkpoint signs {stored.size} events, but the log has {seq}: events were deleted (a rollback)"
    return None


def _hash(ev) -> str | None:
    """The event's hash recomputed with its actor salt (chain.event_hash; every event since
    migration 0013 has one); None when a stored value cannot be hashed (an edited row)."""
    if not isinstance(ev.at, datetime):
        return None
    try:
        return event_hash(ev.prev_hash, seq=ev.seq, at=ev.at, type=ev.type, number=ev.number, actor=ev.actor,
                          reason=ev.reason, data=ev.data, actor_salt=ev.actor_salt)
    except (TypeError, ValueError):  # a salt of the wrong length, a value JSON cannot carry
        return None


def _inclusion(registry: Registry, seq: int, digest: str, keys: tuple) -> tuple[int | None, str | None]:
    """(checkpoint size, problem): the event's inclusion in the latest signed checkpoint, when one covers it."""
    stored = tlog.latest_tree_head(registry)
    events = registry.head()[0]
    if stored is not None and stored.size > events and keys:
        try:
            open_tree_head(stored.note, keys)
        except CheckpointError:
            pass  # not a checkpoint of ours: named below when it covers the event, by the audit anyway
        else:
            return stored.size, (f"the latest checkpoint signs {stored.size} events, but the log has {events}: events were "
                                 "deleted (a rollback)")
    if stored is None or stored.size < seq or not keys:
        return None, None  # not checkpointed yet (or no log key to check one with): the list's signature stands alone
    try:
        head = open_tree_head(stored.note, keys).head
    except CheckpointError as exc:
        return stored.size, f"the latest checkpoint (tree size {stored.size}) does not check out: {exc}"
    try:
        proof = tlog.inclusion_proof(registry, seq - 1, head.size)
    except KeyError:
        return head.size, (f"event {seq} cannot be proven in the signed checkpoint of {head.size} events: the stored tree "
                           "lacks nodes (run `certgen log --verify`)")
    try:
        included = merkle.verify_inclusion(merkle.leaf_hash(bytes.fromhex(digest)), seq - 1, head.size, proof, head.root)
    except ValueError:  # a hash that is not hex
        included = False
    if not included:
        return head.size, (f"event {seq} is not in the signed checkpoint of {head.size} events: the log was rewritten "
                           "after it was signed")
    return head.size, None
