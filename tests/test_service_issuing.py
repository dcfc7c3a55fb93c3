"""Issuing from an application goes through the batch pipeline, links the certificates and closes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certgen.batch import BatchOptions, IssueEnvironment
from certgen.cli import main
from certgen.model import DocumentKind
from certgen.registry import Registry, verify_log
from certgen.service.applications import ApplicationError
from certgen.service.issuing import issue_from_application
from certgen.service.log import verify_service_log

from .conftest import PASSPHRASE
from .service_helpers import at, register

SAMPLES = Path(__file__).parent.parent / "samples"


def _rows(tmp_path: Path, count: int = 2) -> Path:
    lines = (SAMPLES / "product-type1.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(lines[:count + 1]) + "\n", encoding="utf-8")
    return path


def _granted_by_cli(cli, tmp_path: Path) -> str:
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(b"%PDF-1.4\nx\n")
    number = json.loads(cli(main, ["app", "new", "product-type1", "--client", "PT Krakatau Baja Utama", "--channel",
                                   "website", "--json"], now=at("2026-11-02", 8)).output)["number"]
    steps = [(["attach", number, str(pdf)], "2026-11-02"), (["complete", number], "2026-11-02"),
             (["payment", number], "2026-11-03"), (["paid", number], "2026-11-04"), (["execution", number], "2026-11-05")]
    for args, day in steps:
        result = cli(main, ["app", *args], now=at(day))
        assert result.exit_code == 0, result.output
    assert cli(main, ["app", "evaluate", number, "type test LAB-1"], now=at("2026-11-10")).exit_code == 0
    return number


def test_issue_before_the_decision_is_refused_and_issues_nothing(cli, tmp_path, settings):
    number = _granted_by_cli(cli, tmp_path)
    result = cli(main, ["app", "issue", number, str(_rows(tmp_path)), "--workers", "1"], now=at("2026-11-11"))
    assert result.exit_code == 1
    assert f"{number} is at stage execution: no decision is recorded; cannot issue before the decision" in result.output
    registry = Registry.open(settings.registry_url)
    assert registry.count() == 0


def test_issue_from_a_granted_application(cli, tmp_path, settings, fresh_keystore):
    number = _granted_by_cli(cli, tmp_path)
    from click.testing import CliRunner
    from certgen.cli_support import AppContext

    # the decision by someone else than the evaluator ("tester" recorded the execution and the step)
    refused = cli(main, ["app", "decide", number, "--grant"], now=at("2026-11-11"))
    assert refused.exit_code == 1 and "tester recorded evaluation steps" in refused.output
    other = AppContext(settings=settings, now=lambda: at("2026-11-11"), environ={"CERTGEN_ACTOR": "kepala"})
    decided = CliRunner().invoke(main, ["app", "decide", number, "--grant"], obj=other, catch_exceptions=False)
    assert decided.exit_code == 0 and "stage decision (granted)" in decided.output
    result = cli(main, ["app", "issue", number, str(_rows(tmp_path)), "--workers", "1"], now=at("2026-11-12"))
    assert result.exit_code == 0, result.output
    assert "2 issued" in result.output and "stage reporting (granted)" in result.output
    registry = Registry.open(settings.registry_url)
    shown = json.loads(cli(main, ["app", "show", number, "--json"], now=at("2026-11-12")).output)
    assert len(shown["certificates"]) == 2
    for cert_number in shown["certificates"]:
        assert registry.get(cert_number).status.value == "active"
    assert shown["reported_at"].startswith("2026-11-12") and not shown["clock"]["late"]
    assert verify_log(registry, fresh_keystore.trust_list(), fresh_keystore.root_certificate()).ok
    assert verify_service_log(registry) == []
    again = cli(main, ["app", "issue", number, str(_rows(tmp_path)), "--workers", "1"], now=at("2026-11-13"))
    assert again.exit_code == 1 and "the application is closed" in again.output


def test_rows_of_another_certificate_kind_are_refused(registry, tmp_path, fresh_keystore):
    apps = register(registry)
    from certgen.service.applications import NewApplication
    from .service_helpers import document

    a, _ = apps.new(NewApplication("person", "Siti", "office"), now=at("2026-11-02"), actor="a")
    apps.attach(a.number, document(), now=at("2026-11-02"), actor="a")
    for cond in ("complete", "quota_met"):
        apps.condition(a.number, cond, now=at("2026-11-02"), actor="a")
    apps.payment(a.number, now=at("2026-11-03"), actor="a")
    apps.paid(a.number, now=at("2026-11-03"), actor="a")
    apps.execution(a.number, now=at("2026-11-04"), actor="b")
    apps.evaluate(a.number, "assessment", now=at("2026-11-04"), actor="b")
    apps.decide(a.number, True, now=at("2026-11-05"), actor="c")
    env = IssueEnvironment(registry=registry, signer=fresh_keystore.current_signer(PASSPHRASE, now=at("2026-11-05")),
                           now=lambda: at("2026-11-05"))
    options = BatchOptions(DocumentKind.PRODUCT, _rows(tmp_path), tmp_path / "out", workers=1)
    with pytest.raises(ApplicationError, match="is a person application: it issues person certificates, not product"):
        issue_from_application(apps, a.number, options, env)
    assert registry.count() == 0


def test_a_late_result_goes_out_with_its_apology_letter(cli, tmp_path, settings):
    from click.testing import CliRunner
    from certgen.cli_support import AppContext

    number = _granted_by_cli(cli, tmp_path)
    other = AppContext(settings=settings, now=lambda: at("2026-11-23"), environ={"CERTGEN_ACTOR": "kepala"})
    assert CliRunner().invoke(main, ["app", "decide", number, "--grant"], obj=other).exit_code == 0
    # complete 2 Nov, paused for payment on 3 Nov (paid 4 Nov): the 14th working day is 23 Nov; reported 26 Nov
    result = cli(main, ["app", "issue", number, str(_rows(tmp_path, 1)), "--workers", "1"], now=at("2026-11-26"))
    assert result.exit_code == 0, result.output
    assert "deadline 2026-11-23, LATE by 3 working day(s)" in result.output and "apology letter SM-2026-000001-" in result.output
    assert len(list((settings.data_dir / "letters").glob("SM-2026-000001-*.pdf"))) == 1
