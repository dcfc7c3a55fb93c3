"""Costs of the service standard's operations (docs/benchmarks.md, "Service standard").

    python benchmarks/bench_service.py [--apps 300]

Measures, on a fresh SQLite registry in a temporary folder: registering applications one per
transaction; a whole life (10 library steps: new, attach, complete, payment, paid, execution,
evaluate, decide, a certificate linked); one `certgen app show` through the CLI (in-process,
opening the registry each time as the command does); the yearly report over all of them; the
log check (`verify_service_log`); an apology letter (seal, letter PDF, PAdES signature, registry).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from click.testing import CliRunner  # noqa: E402

from certgen.batch import IssueEnvironment  # noqa: E402
from certgen.cli import main  # noqa: E402
from certgen.cli_support import AppContext  # noqa: E402
from certgen.config import Settings, sqlite_url  # noqa: E402
from certgen.keys import KeyStore  # noqa: E402
from certgen.registry import Registry  # noqa: E402
from certgen.service import letters  # noqa: E402
from certgen.service.complaints import Complaints  # noqa: E402
from certgen.service.log import verify_service_log  # noqa: E402
from certgen.service.report import build_report  # noqa: E402
from tests.service_helpers import at, closed_application, register  # noqa: E402


def main_bench(count: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-service-"))
    registry = Registry.open(sqlite_url(folder / "registry.sqlite3"))
    apps = register(registry)
    started = time.perf_counter()
    for i in range(count):
        closed_application(apps, f"PT {i % 40}", "2026-03-02", "2026-03-30" if i % 4 else "2026-04-09")
    life = (time.perf_counter() - started) / count
    events = registry.head()[0]
    print(f"{count} applications through every stage: {life * 1000:.1f} ms each "
          f"({events / count:.0f} events each, {life / (events / count) * 1000:.2f} ms per step)")

    started = time.perf_counter()
    report = build_report(apps, Complaints(registry, apps.rules, apps.calendar), 2026, at("2026-12-31"))
    print(f"yearly report over {report.kinds[-1].applications}: {(time.perf_counter() - started) * 1000:.0f} ms")
    started = time.perf_counter()
    problems = verify_service_log(registry)
    print(f"verify_service_log over {events} events: {(time.perf_counter() - started) * 1000:.0f} ms, {len(problems)} problems")

    keys = KeyStore(folder / "keys")
    keys.init(b"bench-passphrase", now=datetime(2025, 12, 1, tzinfo=timezone.utc))
    settings = Settings(data_dir=folder, keys_dir=keys.folder, registry_url=sqlite_url(folder / "registry.sqlite3"))
    runner = CliRunner()
    number = next(apps.iter(at("2026-12-31"))).number
    times = []
    for _ in range(20):
        app = AppContext(settings=settings, now=lambda: at("2026-12-31"), environ={"CERTGEN_ACTOR": "b"})
        t = time.perf_counter()
        assert runner.invoke(main, ["app", "show", number], obj=app).exit_code == 0
        times.append(time.perf_counter() - t)
    print(f"certgen app show (in-process, registry opened each time): median {statistics.median(times) * 1000:.0f} ms")

    env = IssueEnvironment(registry=registry, signer=keys.current_signer(b"bench-passphrase", now=at("2026-04-10")),
                           chain=[keys.root_certificate()], now=lambda: at("2026-04-10"))
    due = letters.due(apps, at("2026-04-10"))[:10]
    t = time.perf_counter()
    for late in due:
        letters.issue_apology_letter(apps, late, env, folder / "letters")
    print(f"apology letter (seal, PDF, PAdES, registry): {(time.perf_counter() - t) / len(due) * 1000:.0f} ms each")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=300)
    main_bench(parser.parse_args().apps)
