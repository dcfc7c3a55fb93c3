"""The website's complaint form feeds the complaints register through staff: `certgen complaints
intake-web` takes the new reports in (channel "website"), spam stays out, a rerun registers
nothing twice, and every complaint is under the log."""

from __future__ import annotations

import json

from certgen.cli import main
from certgen.numbers import check_character
from certgen.registry import Registry, verify_log
from certgen.registry.reports import list_reports
from certgen.service.web_intake import marker
from tests.conftest import NOW
from tests.registry_helpers import issue_one


def test_web_reports_enter_the_register_once_and_spam_never(cli, settings, fresh_keystore):
    registry = Registry.open(settings.registry_url)
    try:
        cert = issue_one(registry, "Budi Santoso", NOW)
        forged = "SK-2026-000999-" + check_character("SK2026000999")
        about_cert = registry.add_report(message="Nama di kartu berbeda", number=cert.number, verdict="VALID",
                                         contact="pelapor@contoh.id", now=NOW)
        about_forged = registry.add_report(message="Sertifikat palsu di pasar", number=forged, verdict="UNKNOWN", now=NOW)
        spam = registry.add_report(message="beli obat murah", now=NOW)
        crashed = registry.add_report(message="Laporan sebelum crash", now=NOW)
    finally:
        registry.close()
    assert cli(main, ["reports", "mark", str(spam.id), "spam"]).exit_code == 0
    # a run that crashed after registering `crashed` and before marking its report
    first = cli(main, ["complaints", "new", "--channel", "website", "--summary", marker(crashed.id) + "Laporan sebelum crash"])
    assert first.exit_code == 0, first.output

    result = cli(main, ["complaints", "intake-web"])
    assert result.exit_code == 0, result.output
    assert "2 registered, 1 already registered" in result.output
    listed = json.loads(cli(main, ["complaints", "list", "--json"]).output)
    website = {c["summary"].split("]")[0] + "]": c for c in listed if c["channel"] == "website"}
    assert set(website) == {marker(i).strip() for i in (about_cert.id, about_forged.id, crashed.id)}
    assert website[marker(about_cert.id).strip()]["subject"] == cert.number
    assert website[marker(about_cert.id).strip()]["contact"] == "pelapor@contoh.id"
    general = website[marker(about_forged.id).strip()]
    assert general["subject_kind"] == "general" and forged in general["summary"]
    assert not any("obat" in c["summary"] for c in listed)

    again = cli(main, ["complaints", "intake-web"])
    assert again.exit_code == 0 and "0 registered, 0 already registered" in again.output
    registry = Registry.open(settings.registry_url)
    try:
        statuses = {r.id: r.status for r in list_reports(registry.engine)}
        assert statuses == {about_cert.id: "in_review", about_forged.id: "in_review", spam.id: "spam",
                            crashed.id: "in_review"}
        assert verify_log(registry, fresh_keystore.trust_list(), fresh_keystore.root_certificate()).ok
    finally:
        registry.close()
