"""Cost of one registry version check as a web worker pays it (verify.live.LiveState.poll),
on a SQLite registry where nothing changes: the check runs in a thread of its own, and the
request waits for it (its grace) while the registry is healthy. `--interval 0` is the worst
case (a check every request); the default deployment checks once a second per worker.

    python benchmarks/bench_live_check.py [--polls 3000]

Run it against an older checkout (PYTHONPATH) to compare: it measures whatever `verify.live` is
importable, with `background=True` when that code has it (as the web service uses it)."""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from certgen.config import sqlite_url
from certgen.keys import KeyStore
from certgen.registry import Registry
from certgen.trust import TrustList
from verify.live import LiveState


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=3000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-live-"))
    store = KeyStore(folder / "keys", kdf_iterations=1000)
    store.init(b"bench-passphrase-0", now=datetime(2026, 10, 24, tzinfo=timezone.utc))
    registry = Registry.open(sqlite_url(folder / "registry.sqlite3"))
    data, root = store.trustlist_path.read_bytes(), store.root_certificate()
    extra = {"background": True} if "background" in LiveState.__init__.__code__.co_varnames else {}
    state = LiveState(registry, root, data, TrustList.load_signed(data, root), interval=0, on_trust=lambda *a: None,
                      listeners=[], **extra)
    state.poll(force=True)
    getattr(state, "wait", lambda: None)()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(args.polls):
        state.poll()
    getattr(state, "wait", lambda: None)()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{args.polls} checks: {1e6 * wall / args.polls:.1f} us wall, {1e6 * cpu / args.polls:.1f} us CPU per check "
          f"({'thread' if extra else 'inline'})")
    registry.close()


if __name__ == "__main__":
    main()
