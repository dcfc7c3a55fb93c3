"""What the harnesses record besides crashes: inputs that reached a catch-all boundary (an
exception no specific check anticipated) or that cost more than the budget. Each distinct
kind is written once to FUZZ_FINDINGS (default /tmp/fuzz-findings) with the input, so that
it can become a regression test."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

FOLDER = Path(os.environ.get("FUZZ_FINDINGS", "/tmp/fuzz-findings"))
_seen: set[str] = set()


def record(target: str, kind: str, data: bytes) -> None:
    """Keep the first input of each (target, kind)."""
    key = f"{target}:{kind}"
    if key in _seen:
        return
    _seen.add(key)
    FOLDER.mkdir(parents=True, exist_ok=True)
    name = f"{target}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
    (FOLDER / f"{name}.bin").write_bytes(data)
    with open(FOLDER / "index.txt", "a", encoding="utf-8") as index:
        index.write(f"{name}.bin\t{target}\t{kind}\n")
