"""Transparency log benchmark: the tree and its proofs at a million events.

    python benchmarks/bench_tlog.py [--events 1000000] [--samples 2000] [--folder DIR]

Builds an SQLite registry with N chained events (bulk-inserted with their real hashes), then:
* the first checkpoint: building and storing every perfect subtree (what migration 0004 does
  for an existing registry), and a checkpoint after 1,000 more events;
* an inclusion proof and a consistency proof from the stored subtrees: median, p99, max, and
  the same through the web service's routes (TestClient, in-process);
* `certverify number` with and without --log-proof (the web page does not use it);
* the tree part of `certgen log --verify` (recompute every node and root from the events);
* the size of `log_nodes` on disk.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certgen.keys import KeyStore  # noqa: E402
from certgen.model import Series  # noqa: E402
from certgen.numbers import CertificateNumber  # noqa: E402
from certgen.registry import Registry, merkle, tlog  # noqa: E402
from certgen.registry.chain import event_hash  # noqa: E402

PASSPHRASE = b"bench-passphrase"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)


def fill(registry: Registry, count: int) -> None:
    """Append `count` issue-like events with genuine chained hashes, straight into SQLite."""
    raw = registry.engine.raw_connection()
    cur = raw.cursor()
    cur.execute("BEGIN IMMEDIATE")
    seq, prev = cur.execute("SELECT seq, hash FROM chain_head").fetchone()
    rows = []
    for _ in range(count):
        seq += 1
        at = NOW + timedelta(seconds=seq)
        number = str(CertificateNumber.build(Series.PRODUCT_TYPE1, 2026, seq % 999_999 + 1))
        data = {"kind": "product", "record_sha256": "00" * 32}
        digest = event_hash(prev, seq=seq, at=at, type="issue", number=number, actor="bench", reason=None, data=data)
        rows.append((seq, at.replace(tzinfo=None).isoformat(sep=" "), "issue", number, "bench", None,
                     '{"kind":"product","record_sha256":"' + "00" * 32 + '"}', prev, digest))
        prev = digest
        if len(rows) == 20000:
            cur.executemany("INSERT INTO events (seq, at, type, number, actor, reason, data, prev_hash, hash) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            rows = []
    if rows:
        cur.executemany("INSERT INTO events (seq, at, type, number, actor, reason, data, prev_hash, hash) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    cur.execute("UPDATE chain_head SET seq = ?, hash = ?", (seq, prev))
    cur.execute("COMMIT")
    raw.close()


def note(out: dict, key: str, value: object) -> None:
    out[key] = value
    print(f"{key}: {value}", file=sys.stderr, flush=True)


def timed(fn, samples: int) -> dict[str, float]:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 3), "p99_ms": round(times[int(len(times) * 0.99) - 1], 3),
            "max_ms": round(times[-1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-log-"))
    keys = KeyStore(folder / "keys")
    keys.init(PASSPHRASE, now=NOW - timedelta(days=30))
    signer = keys.log_signer(PASSPHRASE)
    url = f"sqlite:///{folder / 'registry.sqlite3'}"
    registry = Registry.open(url)
    n = args.events
    out: dict[str, object] = {"events": n}

    start = time.perf_counter()
    fill(registry, n - 2)
    note(out, "fill_s", round(time.perf_counter() - start, 1))

    # two real certificates at the end, for the verification timing
    from tests.registry_helpers import issue_one

    number = issue_one(registry, "Bench Holder", NOW).number
    issue_one(registry, "Other Holder", NOW)

    start = time.perf_counter()
    head = tlog.sign_checkpoint(registry, signer, now=NOW, folder=folder / "log")
    note(out, "first_checkpoint_s", round(time.perf_counter() - start, 1))
    assert head.size == n

    fill(registry, 1000)
    start = time.perf_counter()
    head2 = tlog.sign_checkpoint(registry, signer, now=NOW, folder=folder / "log")
    note(out, "checkpoint_after_1000_more_ms", round((time.perf_counter() - start) * 1000, 1))
    size = head2.size

    rng = random.Random(7)
    root = bytes.fromhex(head2.root_hash)
    index = rng.randrange(size)
    proof = tlog.inclusion_proof(registry, index, size)
    leaf = registry.events(after=index, limit=1)[0].hash
    assert merkle.verify_inclusion(merkle.leaf_hash(bytes.fromhex(leaf)), index, size, proof, root)
    note(out, "inclusion_proof_hashes", len(proof))
    note(out, "inclusion_proof", timed(lambda: tlog.inclusion_proof(registry, rng.randrange(size), size), args.samples))
    note(out, "consistency_proof", timed(lambda: tlog.consistency_proof(registry, rng.randrange(1, size), size), args.samples))
    proof = tlog.consistency_proof(registry, n, size)
    assert merkle.verify_consistency(n, size, bytes.fromhex(head.root_hash), root, proof)
    note(out, "verify_inclusion_locally", timed(
        lambda: merkle.verify_inclusion(merkle.leaf_hash(bytes.fromhex(leaf)), index, size,
                                        tlog.inclusion_proof(registry, index, size), root), 200))

    from fastapi.testclient import TestClient

    from verify.log_audit import LogInclusion
    from verify.log_source import RegistryLog
    from verify.service import Verifier
    from verify.status import RegistryStatus
    from verify.web.app import create_app
    from verify.web.config import WebConfig

    client = TestClient(create_app(WebConfig(trust_list=keys.trustlist_path, root=keys.root_cert_path, registry_url=url,
                                             rate_limit_per_minute=0), now=lambda: NOW))
    assert client.get(f"/api/v1/log/proof/{number}").status_code == 200
    note(out, "http_proof_route", timed(lambda: client.get(f"/api/v1/log/proof/{number}"), 500))
    note(out, "http_consistency_route", timed(
        lambda: client.get("/api/v1/log/consistency", params={"from": rng.randrange(1, size), "to": size}), 500))
    note(out, "http_checkpoint_route", timed(lambda: client.get("/api/v1/log/checkpoint"), 500))

    trust = keys.trust_list()
    plain = Verifier(trust, RegistryStatus(registry, lambda: NOW), keys.root_certificate(), lambda: NOW)
    proving = Verifier(trust, RegistryStatus(registry, lambda: NOW), keys.root_certificate(), lambda: NOW,
                       log=LogInclusion(RegistryLog(registry), trust.log_keys))
    assert proving.verify_number(number).checks[-1].reason.value == "log_inclusion_proven"
    note(out, "verify_number", timed(lambda: plain.verify_number(number), 1000))
    note(out, "verify_number_with_log_proof", timed(lambda: proving.verify_number(number), 500))

    start = time.perf_counter()
    problems = tlog.check_tree(registry, trust, folder / "log")
    note(out, "check_tree_s", round(time.perf_counter() - start, 1))
    assert not problems, problems
    with registry.engine.connect() as conn:
        pages = conn.exec_driver_sql("SELECT count(*) FROM dbstat WHERE name = 'log_nodes'").scalar() if _has_dbstat(conn) else None
        page_size = conn.exec_driver_sql("PRAGMA page_size").scalar()
        nodes = conn.exec_driver_sql("SELECT count(*) FROM log_nodes").scalar()
    note(out, "log_nodes_rows", nodes)
    if pages:
        note(out, "log_nodes_mib", round(pages * page_size / 2**20, 1))
    files = [folder / "registry.sqlite3", folder / "registry.sqlite3-wal"]
    note(out, "database_mib", round(sum(f.stat().st_size for f in files if f.exists()) / 2**20, 1))
    import json

    print(json.dumps(out, indent=1))


def _has_dbstat(conn) -> bool:
    try:
        conn.exec_driver_sql("SELECT count(*) FROM dbstat LIMIT 1")
        return True
    except Exception:
        return False


if __name__ == "__main__":
    main()
