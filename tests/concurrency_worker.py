"""A process that writes to the registry in a loop; tests/test_registry_concurrency.py runs two."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone

from certgen.registry import Registry
from tests.registry_helpers import new_person


def main(url: str, name: str, rounds: int, start_at: float) -> None:
    registry = Registry.open(url)
    now = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
    while time.time() < start_at:
        time.sleep(0.001)
    for i in range(rounds):
        # one row of its own and one that the other process asks for too
        certs = registry.reserve([new_person(f"{name} {i}", f"{name}-{i}"), new_person(f"shared {i}", f"shared-{i}")], now=now)
        own = certs[0]
        registry.mark_issued(own.number, pdf_sha256=f"{i:064x}", dsc_kid="00" * 8, now=now, actor=name)
        registry.suspend(own.number, reason=f"round {i}", now=now, actor=name)
        time.sleep(0.01)  # as a real writer does other work (rendering) between transactions
    print("done", name)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
