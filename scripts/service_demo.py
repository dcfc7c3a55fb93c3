"""The service standard in small: a dozen applications of every kind driven through the
`certgen` commands over a simulated 2026 (frozen clock per step), with pauses, payments, late
results, apology letters and their redemption, complaints, and the yearly report.

Runs in its own folder (default data/service-demo) with its own development keys, because the
simulated year starts before keys made today would be valid. Usage:
    python scripts/service_demo.py [FOLDER]
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from certgen.batch import IssueEnvironment  # noqa: E402
from certgen.cli import main  # noqa: E402
from certgen.cli_support import AppContext  # noqa: E402
from certgen.config import Settings, sqlite_url  # noqa: E402
from certgen.keys import KeyStore  # noqa: E402
from certgen.registry import Registry  # noqa: E402
from certgen.service.applications import Applications  # noqa: E402
from certgen.service.calendar import WorkingCalendar  # noqa: E402
from certgen.service.complaints import Complaints  # noqa: E402
from certgen.service.rules import ServiceRules  # noqa: E402
from tests.service_year import Year, at  # noqa: E402

PASSPHRASE = "development-only-passphrase"


def main_demo(folder: Path) -> None:
    if (folder / "data" / "registry.sqlite3").exists():
        print(f"{folder} already holds a demo; remove it to run again")
        return
    keys = KeyStore(folder / "keys")
    keys.init(PASSPHRASE.encode(), now=datetime(2025, 12, 1, tzinfo=timezone.utc))
    keys.signed_trust_list(PASSPHRASE.encode(), now=datetime(2025, 12, 1, tzinfo=timezone.utc))
    settings = Settings(data_dir=folder / "data", keys_dir=keys.folder, registry_url=sqlite_url(folder / "data" / "registry.sqlite3"))
    registry = Registry.open(settings.registry_url)
    rules, calendar = ServiceRules.load(), WorkingCalendar()
    apps = Applications(registry, rules, calendar)
    runner = CliRunner()

    def cli(args, *, now, actor):
        app = AppContext(settings=settings, now=lambda: now,
                         environ={"CERTGEN_ACTOR": actor, "CERTGEN_KEY_PASSPHRASE": PASSPHRASE})
        return runner.invoke(main, args, obj=app, catch_exceptions=False)

    year = Year(12, seed=7, cli_every=1, open_at_end=2, complaints=6, clients=3)
    env = IssueEnvironment(registry=registry, signer=keys.current_signer(PASSPHRASE.encode(), now=at(date(2026, 1, 5), 8)),
                           chain=[keys.root_certificate()], actor="cs1", now=lambda: year.now)
    rows = folder / "rows"
    rows.mkdir(parents=True, exist_ok=True)
    year.run(apps=apps, complaints=Complaints(registry, rules, calendar), registry=registry, letter_env=env,
             letter_folder=settings.data_dir / "letters", trust=keys.trust_list(), cli=cli, rows_dir=rows)
    end = at(date(2026, 12, 31), 17)
    report = cli(["report", "service", "--year", "2026", "--pdf", str(folder / "laporan-layanan-2026.pdf")],
                 now=end, actor="kepala")
    print(cli(["app", "list"], now=end, actor="kepala").output)
    print(report.output)
    env_line = (f"CERTGEN_DATA={settings.data_dir} CERTGEN_KEYS={keys.folder} CERTGEN_KEY_PASSPHRASE={PASSPHRASE}")
    print(f"""Service standard demo: {year.checks['cli_calls']} certgen commands over a simulated 2026, {year.checks}.
Look at:
  {folder}/laporan-layanan-2026.pdf        the yearly report (signed, with charts)
  {settings.data_dir}/letters/              apology letters (signed and sealed; certverify pdf FILE)
  {settings.data_dir}/outbox/               notices to applicants (.eml), as no SMTP server is set
  {settings.data_dir}/issued/               certificates issued from applications
  {env_line} certgen app show {year.books[0].number}
  {env_line} certgen complaints list
  {env_line} certgen app audit""")


if __name__ == "__main__":
    main_demo(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "service-demo")
