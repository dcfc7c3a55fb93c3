"""A simulated year: 324 applications of every kind through every stage, under a frozen clock.

Every deadline (after each payment and each resumed pause), every clock at the report, every
letter and redemption, and every figure of the yearly report are checked against values the
test computes itself (tests/service_year.py: its own working-day calendar of 2026, written out).
One application in 13 (and one complaint in 6) goes through the `certgen` commands, the rest
through the library: the full CLI path for all would take minutes.
"""

from __future__ import annotations

import json
import time

from click.testing import CliRunner

from datetime import datetime, timezone

from certgen.batch import IssueEnvironment
from certgen.config import Settings, sqlite_url
from certgen.keys import KeyStore
from certgen.cli import main
from certgen.cli_support import AppContext
from certgen.registry import Registry, verify_log
from certgen.service.complaints import Complaints
from certgen.service.log import verify_service_log
from certgen.service.report import build_report

from .conftest import PASSPHRASE
from .service_helpers import register
from .service_year import DAYS, Year, at, date


def test_a_simulated_year(tmp_path):
    started = time.process_time()
    fresh_keystore = KeyStore(tmp_path / "keys")  # a signer valid through the simulated year
    fresh_keystore.init(PASSPHRASE, now=datetime(2025, 12, 1, tzinfo=timezone.utc))
    settings = Settings(data_dir=tmp_path / "data", keys_dir=fresh_keystore.folder,
                        registry_url=sqlite_url(tmp_path / "data" / "registry.sqlite3"))
    registry = Registry.open(settings.registry_url)
    apps = register(registry)
    complaints = Complaints(registry, apps.rules, apps.calendar)
    year = Year(324)
    runner = CliRunner()

    def cli(args, *, now, actor):
        app = AppContext(settings=settings, now=lambda: now,
                         environ={"CERTGEN_ACTOR": actor, "CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode()})
        return runner.invoke(main, args, obj=app, catch_exceptions=False)

    env = IssueEnvironment(registry=registry, signer=fresh_keystore.current_signer(PASSPHRASE, now=at(date(2026, 1, 5), 8)),
                           chain=[fresh_keystore.root_certificate()], actor="cs1", now=lambda: year.now)
    rows = tmp_path / "rows"
    rows.mkdir()
    year.run(apps=apps, complaints=complaints, registry=registry, letter_env=env,
             letter_folder=settings.data_dir / "letters", trust=fresh_keystore.trust_list(), cli=cli, rows_dir=rows)
    end = at(date(2026, 12, 31), 17)

    # every application as the register holds it, against the test's books
    assert len(year.books) == 324 and {b.kind for b in year.books} == set(DAYS)
    cli_books = [b for b in year.books if b.cli]
    assert len(cli_books) == 25
    for book in year.books:
        app = apps.get(book.number, end)
        assert app.clock.allowed == book.allowed and (app.credit_letter is not None) == book.credit
        assert app.apology_letter == book.letter
        if book.reported:
            assert app.closed and app.clock.used == book.used and app.clock.reported == book.reported
            assert app.decision == ("refused" if book.refused else "granted")
            assert len(app.certificates) == (0 if book.refused else 1)
        else:
            assert not app.closed
    assert year.checks["deadlines"] > 300 and year.checks["refusals"] > 20
    assert year.checks["letters"] > 20 and year.checks["redeemed"] > 5 and year.checks["appeals"] >= 3
    assert sum(1 for b in year.books if b.reported and b.used > b.allowed) == year.checks["letters"]

    # the yearly report: every figure against the test's own
    report = build_report(apps, complaints, 2026, end)
    expected = year.expected_report()
    for figures in report.kinds:
        mine = expected["kinds"][figures.kind]
        for name, value in mine.items():
            assert getattr(figures, name) == value, (figures.kind, name, getattr(figures, name), value)
    assert report.complaints_by_channel == expected["complaints_by_channel"]
    assert report.complaints_by_outcome == expected["complaints_by_outcome"]
    assert report.appeals == expected["appeals"] and report.complaints_open == expected["complaints_open"]
    assert sum(report.complaints_by_channel.values()) == len(year.cases) >= 45
    assert all(n > 0 for n in report.complaints_by_channel.values())

    # the command gives the same figures
    out = cli(["report", "service", "--year", "2026", "--format", "json"], now=end, actor="kepala")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    mine = report.as_dict()
    data.pop("generated_at"), mine.pop("generated_at")
    assert data == mine
    csv_text = cli(["report", "service", "--year", "2026", "--format", "csv"], now=end, actor="kepala").output
    all_row = next(line for line in csv_text.splitlines() if line.startswith("applications,all,"))
    assert all_row.split(",")[3] == "324"

    # and the log agrees with everything
    assert verify_log(registry, fresh_keystore.trust_list(), fresh_keystore.root_certificate()).ok
    assert verify_service_log(registry) == []
    print(f"\nsimulated year: {len(year.books)} applications, {year.checks}, "
          f"{time.process_time() - started:.1f} s CPU")
