"""The transparency log over the registry's events (docs/registry.md, "The Merkle tree").

Leaf i of the tree is event i+1 (events in `seq` order); the leaf is the 32 bytes of the
event's SHA-256 `hash`, so the leaf hash is SHA-256(0x00 || event hash). The tree's perfect
subtrees are kept in `log_nodes`, added when a checkpoint is signed (`sign_checkpoint`), which
then costs O(new events). Proofs read O(log^2 n) stored hashes, whatever the log's size.

A checkpoint (signed tree head, `certgen.note`) is stored in `tree_heads` and written as a file
under the data folder (`log/checkpoints/<size>.txt`, and `log/checkpoint` for the latest),
so that a database rolled back or forked is caught against what left it. `check_tree` is the
auditor's check of all of this, plugged into `verify_log`.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from ..errors import RegistryError
from ..note import CheckpointError, CheckpointProblem, LogSigner, TreeHead, open_tree_head, parse_tree_head, sign_tree_head
from ..trust import TrustList
from . import merkle
from .findings import LogProblem
from .replay import CERTIFICATE_EVENT_TYPES
from .tables import EventRow, LogNodeRow, TreeHeadRow

if TYPE_CHECKING:
    from .repository import Registry

_CHUNK = 2000
LATEST = "checkpoint"
FOLDER = "checkpoints"


@dataclass(frozen=True)
class StoredTreeHead:
    id: int
    size: int
    root_hash: str
    at: datetime
    note: str


# -- building the tree ----------------------------------------------------------------------

def _stored_size(conn: Connection | Session) -> int:
    top = conn.execute(select(func.max(LogNodeRow.id))).scalar()
    return 0 if top is None else top // 2 + 1  # the last leaf has the largest id (merkle.node_id)


def _fetcher(conn: Connection | Session):
    def fetch(ids: Sequence[int]) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for start in range(0, len(ids), 500):
            rows = conn.execute(select(LogNodeRow.id, LogNodeRow.hash).where(LogNodeRow.id.in_(ids[start:start + 500])))
            out.update((i, bytes(h)) for i, h in rows)
        return out
    return fetch


def _event_hashes(conn: Connection | Session, after: int, upto: int | None) -> Iterator[tuple[int, str]]:
    while True:
        query = select(EventRow.seq, EventRow.hash).where(EventRow.seq > after).order_by(EventRow.seq).limit(_CHUNK)
        if upto is not None:
            query = query.where(EventRow.seq <= upto)
        rows = [tuple(r) for r in conn.execute(query)]
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def _leaf(digest: object) -> bytes | None:
    """The leaf of an event: its 32-byte hash; None for a stored value that is not one."""
    try:
        raw = bytes.fromhex(digest) if isinstance(digest, str) else b""
    except ValueError:
        return None
    return raw if len(raw) == merkle.HASH_SIZE else None


def _printable(value: object) -> str:
    """A path or name for a message: control characters escaped (a terminal prints it)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value))[:300]


def extend_tree(conn: Connection | Session, upto: int | None = None) -> merkle.TreeBuilder:
    """Add the perfect subtrees of the events not yet in `log_nodes` (up to event `upto`), and
    return the tree. Refuses a log with a gap, or whose stored last leaf is no longer its event:
    a checkpoint never signs a log that does not check out."""
    size = _stored_size(conn)
    fetch = _fetcher(conn)
    ids = merkle.TreeBuilder.frontier_ids(size)
    nodes = fetch(ids)
    if len(nodes) != len(ids):
        raise RegistryError(f"the stored Merkle tree of {size} events lacks nodes; rebuild it (docs/registry.md)")
    builder = merkle.TreeBuilder(size, [nodes[i] for i in ids])
    if size:
        last = _leaf(conn.execute(select(EventRow.hash).where(EventRow.seq == size)).scalar())
        if last is None or merkle.leaf_hash(last) != fetch([merkle.node_id(0, size - 1)]).get(merkle.node_id(0, size - 1)):
            if conn.execute(select(func.count()).select_from(TreeHeadRow)).scalar():
                raise RegistryError(f"event {size} is no longer the leaf the Merkle tree holds: the log was rewritten")
            # nothing was signed over these nodes yet (a later migration rewrote the event
            # hashes, say): they are a cache of the events, rebuilt from them
            conn.execute(LogNodeRow.__table__.delete())
            return extend_tree(conn, upto)
    pending: list[dict] = []
    for seq, digest in _event_hashes(conn, size, upto):
        if seq != builder.size + 1:
            raise RegistryError(f"event {builder.size + 1} is missing (next is {seq}): the log has a gap")
        leaf = _leaf(digest)
        if leaf is None:
            raise RegistryError(f"event {seq} has no well-formed hash: the log was altered")
        pending.extend({"id": i, "hash": h} for i, h in builder.append(merkle.leaf_hash(leaf)))
        if len(pending) >= _CHUNK:
            conn.execute(insert(LogNodeRow), pending)
            pending = []
    if pending:
        conn.execute(insert(LogNodeRow), pending)
    return builder


# -- checkpoints -------------------------------------------------------------------------------

def sign_checkpoint(registry: Registry, signer: LogSigner, *, now: datetime, folder: Path | None = None) -> StoredTreeHead:
    """Sign the tree of every event so far with the log key; store it, and write it under
    `folder` (the data folder's `log/`) when given. Holds the writers' lock throughout, so the
    tree head names exactly the events committed before it; the files are written once it is committed."""
    with registry._write() as (session, head):
        builder = extend_tree(session, upto=head.seq)
        if builder.size != head.seq:
            raise RegistryError(f"the chain head names event {head.seq}, but the log has {builder.size} events")
        text = sign_tree_head(TreeHead(signer.name, builder.size, builder.root(), now,
                                       _newest_trust_list(session, builder.size)), signer)
        row = TreeHeadRow(size=builder.size, root_hash=builder.root().hex(), at=now, note=text)
        session.add(row)
        session.flush()
        stored = _stored(row)
    if folder is not None:  # after the commit: a file never names a checkpoint the database lacks
        write_checkpoint_file(folder, stored.size, stored.note)
    return stored


def _newest_trust_list(session: Session, upto: int) -> tuple[int, str] | None:
    """(seq, sha256 of the list) of the newest `trustlist` event among the first `upto`, for
    the checkpoint's anchor line (certgen.note.TreeHead.trust_list); None when there is none or
    its data is not a trust list (the audit names that event)."""
    from .reader import events, read_json
    from .trust_log import TRUST_KEY

    row = session.execute(select(events.c.seq, events.c.data).where(events.c.number == TRUST_KEY, events.c.seq <= upto)
                          .order_by(events.c.seq.desc()).limit(1)).first()
    if row is None:
        return None
    data = read_json(row[1])
    state = data.get("trust_list") if isinstance(data, dict) else None
    sha = state.get("sha256") if isinstance(state, dict) else None
    return (int(row[0]), sha) if isinstance(sha, str) and len(sha) == 64 else None


def write_checkpoint_file(folder: Path, size: int, text: str) -> Path:
    """`folder/checkpoints/<size>.txt`, and `folder/checkpoint` unless it holds a larger tree;
    each written to a temporary name and renamed."""
    target = folder / FOLDER / f"{size}.txt"
    _atomic_write(target, text.encode())
    latest = folder / LATEST
    with open(folder / ".lock", "a") as lock:  # two signers at once: the larger tree stays latest
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = parse_tree_head(latest.read_bytes())[0].size
        except (OSError, CheckpointError):
            current = -1
        if current <= size:
            _atomic_write(latest, text.encode())
    return target


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def tree_heads(registry: Registry) -> list[StoredTreeHead]:
    with registry._read() as session, session.begin():
        return [_stored(r) for r in session.scalars(select(TreeHeadRow).order_by(TreeHeadRow.size, TreeHeadRow.id))]


def latest_tree_head(registry: Registry) -> StoredTreeHead | None:
    """The checkpoint of the largest tree (the newest of those)."""
    with registry._read() as session, session.begin():
        row = session.scalars(select(TreeHeadRow).order_by(TreeHeadRow.size.desc(), TreeHeadRow.id.desc()).limit(1)).first()
        return _stored(row) if row else None


def _stored(row: TreeHeadRow) -> StoredTreeHead:
    return StoredTreeHead(row.id, row.size, row.root_hash, row.at, row.note)


# -- proofs ------------------------------------------------------------------------------------

def inclusion_proof(registry: Registry, index: int, size: int) -> list[bytes]:
    """RFC 9162 PATH(index, D[size]) from the stored subtrees (one query)."""
    with registry._read() as session, session.begin():
        return merkle.hashes_for(merkle.inclusion_ranges(index, size), _fetcher(session))


def consistency_proof(registry: Registry, first: int, second: int) -> list[bytes]:
    """RFC 9162 PROOF(first, D[second]) from the stored subtrees (one query)."""
    with registry._read() as session, session.begin():
        return merkle.hashes_for(merkle.consistency_ranges(first, second), _fetcher(session))


def latest_event_seq(registry: Registry, number: str) -> int | None:
    """Sequence number of the certificate's latest event of its own (a surveillance visit's event
    has the same number but commits to the visit, not to the certificate's state)."""
    with registry._read() as session, session.begin():
        return session.execute(select(func.max(EventRow.seq)).where(
            EventRow.number == number, EventRow.type.in_(sorted(CERTIFICATE_EVENT_TYPES)))).scalar()


# -- the check ---------------------------------------------------------------------------------

_PROBLEM_TEXT = {
    CheckpointProblem.UNKNOWN_KEY: "is not signed by the trust list's log key",
    CheckpointProblem.BAD_SIGNATURE: "signature does not verify: it was altered or forged",
    CheckpointProblem.MALFORMED: "is malformed",
}


def check_tree(registry: Registry, trust: TrustList, folder: Path | None = None) -> list[LogProblem]:
    """Every checkpoint (database rows, and the files under `folder`) signed by the trust list's
    log key and consistent with the tree recomputed from the events; the stored subtrees equal
    the recomputed ones; a checkpoint of more events than the database holds is a rollback,
    one with another root for the same events a fork. Returns LogProblems."""
    problems: list[LogProblem] = []
    signed: list[tuple[str, TreeHead]] = []
    file_texts = _read_files(folder, problems) if folder is not None else []  # before the rows: files follow commits
    for row in tree_heads(registry):
        where = f"checkpoint {row.id} (tree size {row.size})"
        head = _open(row.note, trust, where, problems)
        if head is None:
            continue
        if head.size != row.size or head.root.hex() != row.root_hash:
            problems.append(LogProblem(where, "its size or root column differs from the text that was signed", "tree_head_altered"))
        signed.append((where, head))
    in_db = {(h.size, h.root) for _, h in signed}
    files: list[tuple[str, TreeHead]] = []
    for where, text in file_texts:
        head = _open(text, trust, where, problems)
        if head is not None:
            files.append((where, head))
    problems.extend(_recompute(registry, signed + files))
    for where, head in files:
        if (head.size, head.root) not in in_db:
            problems.append(LogProblem(where, f"tree size {head.size} is not among the database's checkpoints: "
                                              "checkpoints were deleted from the database", "tree_head_deleted"))
    return problems


def _read_files(folder: Path, problems: list) -> list[tuple[str, bytes]]:
    out = []
    paths = sorted((folder / FOLDER).glob("*.txt")) + ([folder / LATEST] if (folder / LATEST).exists() else [])
    for path in paths:
        where = f"checkpoint file {_printable(path)}"
        try:
            out.append((where, path.read_bytes()[:64 * 1024]))
        except OSError as exc:
            problems.append(LogProblem(where, f"cannot be read ({exc.strerror})", "tree_head_unreadable"))
    return out


def _open(text: str | bytes, trust: TrustList, where: str, problems: list) -> TreeHead | None:
    try:
        return open_tree_head(text, trust.log_keys).head
    except CheckpointError as exc:
        problems.append(LogProblem(where, f"{_PROBLEM_TEXT[exc.problem]} ({exc})", f"tree_head_{exc.problem.value}"))
        return None


def _recompute(registry: Registry, heads: list[tuple[str, TreeHead]]) -> list[LogProblem]:
    problems: list[LogProblem] = []
    wanted = {h.size for _, h in heads}
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT} if 0 in wanted else {}
    builder = merkle.TreeBuilder()
    with registry._read() as session, session.begin():
        stored_size = _stored_size(session)
        fetch = _fetcher(session)
        made: list[tuple[int, bytes]] = []
        differing = 0
        for _seq, digest in _event_hashes(session, 0, None):
            leaf = _leaf(digest)  # a malformed hash (named by the chain check) still takes its place
            index = builder.size
            nodes = builder.append(merkle.leaf_hash(leaf if leaf is not None else str(digest).encode()))
            if index < stored_size:  # every node this leaf completes ends at it: stored only when the leaf is
                made.extend(nodes)
            if builder.size in wanted:
                roots[builder.size] = builder.root()
            if len(made) >= _CHUNK:
                differing += _compare(made, fetch)
                made = []
        differing += _compare(made, fetch)
    size = builder.size
    if differing:
        problems.append(LogProblem("Merkle tree", f"{differing} stored tree node(s) differ from the events: "
                                                  "proofs served from them would fail", "tree_nodes_altered"))
    for where, head in heads:
        if head.size > size:
            problems.append(LogProblem(where, f"signs a log of {head.size} events, but the database has {size}: "
                                              "the log was rolled back (events deleted)", "log_rolled_back"))
        elif roots[head.size] != head.root:
            problems.append(LogProblem(where, f"signs another root for the first {head.size} events than they have now: "
                                              "the history was rewritten (a fork)", "log_forked"))
        elif head.size > stored_size:
            problems.append(LogProblem(where, f"the stored tree has only {stored_size} leaves: proofs cannot be served",
                                       "tree_nodes_missing"))
    return problems


def _compare(made: list[tuple[int, bytes]], fetch) -> int:
    if not made:
        return 0
    stored = fetch([i for i, _ in made])
    return sum(1 for i, h in made if stored.get(i) != h)


def rebuild_tree(conn: Connection) -> int:
    """Drop and rebuild every stored subtree from the events (a migration that rewrites event
    hashes calls this). Returns the number of leaves."""
    conn.execute(LogNodeRow.__table__.delete())
    return extend_tree(conn).size


def tree_check(trust: TrustList, folder: Path | None = None) -> Callable[[object], list[LogProblem]]:
    """`check_tree` as a check plugged into `verify_log` (`extra_checks=[tree_check(trust, folder)]`)."""
    def transparency_log(facts: object) -> list[LogProblem]:
        return check_tree(facts.registry, trust, folder)  # type: ignore[attr-defined]
    return transparency_log
