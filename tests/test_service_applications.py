"""Applications: stages, clocks, pauses, the decision rule, illegal moves, the shared log."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import text

from certgen.cli import main
from certgen.errors import NotFoundError, NumberFormatError
from certgen.service.applications import ApplicationError, DecisionRefused, NewApplication
from certgen.service.log import verify_applications, verify_service_log
from certgen.service.numbers import access_hash, parse_application

from .service_helpers import at, document, register


def _through_execution(apps, kind="product-type1", start="2026-11-02", client="PT Maju"):
    a, code = apps.new(NewApplication(kind, client, "website", email="qa@maju.example"), now=at(start, 9), actor="ana")
    apps.attach(a.number, document(), now=at(start, 9, 5), actor="ana")
    apps.condition(a.number, "complete", now=at(start, 11), actor="ana")
    for cond in apps.rules.kind(kind).starts_when[1:]:
        apps.condition(a.number, cond, now=at(start, 11, 30), actor="ana")
    return a.number, code


def test_a_product_application_through_every_stage(registry):
    apps = register(registry)
    number, code = _through_execution(apps)
    assert parse_application(number) == number and number.startswith("AP-2026-")
    # payment pauses the clock (product): Fri 6 Nov to Tue 10 Nov
    a = apps.payment(number, now=at("2026-11-06", 15), actor="ana")
    assert a.stage == "payment" and a.paused and a.pauses[-1]["reason"] == "payment"
    a = apps.paid(number, now=at("2026-11-10", 9), actor="kasir", reference="PNBP-1")
    assert not a.paused and a.paid_at is not None
    a = apps.execution(number, now=at("2026-11-10", 10), actor="budi")
    a = apps.evaluate(number, "type test report LAB-77", now=at("2026-11-12"), actor="citra")
    a = apps.decide(number, True, now=at("2026-11-16"), actor="dewi")
    assert a.stage == "decision" and a.decision == "granted"
    a = apps.link_certificates(number, ["P1-2026-000001-X"], now=at("2026-11-17"), actor="ana")
    assert a.closed and a.certificates == ("P1-2026-000001-X",)
    # counted: Tue 3, Wed 4, Thu 5 (Fri 6 and Mon 9 paused), 10, 11, 12, 13, 16, 17 = 9
    assert a.clock.used == 9 and a.clock.left == 5 and not a.clock.late
    assert apps.check_access(number, code, at("2026-11-18")) is not None
    assert apps.check_access(number, code.replace("-", " ").lower(), at("2026-11-18")) is not None
    assert apps.check_access(number, "AAAAA-AAAAA", at("2026-11-18")) is None
    assert verify_applications(registry) == []


def test_the_decision_is_refused_to_an_evaluator_and_changes_nothing(registry):
    apps = register(registry)
    number, _ = _through_execution(apps)
    apps.payment(number, now=at("2026-11-03"), actor="ana")
    apps.paid(number, now=at("2026-11-03", 11), actor="ana")
    apps.execution(number, now=at("2026-11-04"), actor="budi")
    apps.evaluate(number, "audit", now=at("2026-11-05"), actor="citra")
    head = registry.head()
    for evaluator in ("budi", "citra"):
        with pytest.raises(DecisionRefused, match=rf"{number}: {evaluator} recorded evaluation steps of this application "
                                                  r"and may not record the decision .*evaluators: budi, citra"):
            apps.decide(number, True, now=at("2026-11-06"), actor=evaluator)
    assert registry.head() == head
    assert apps.get(number, at("2026-11-06")).stage == "execution"
    assert apps.decide(number, False, now=at("2026-11-06"), actor="ana").decision == "refused"
    with pytest.raises(ApplicationError, match="the decision was refused; cannot issue"):
        apps.link_certificates(number, ["P1-2026-000001-X"], now=at("2026-11-07"), actor="ana")
    assert apps.report_refusal(number, now=at("2026-11-09"), actor="ana").closed


def test_illegal_moves_are_clear_errors_that_change_nothing(registry):
    apps = register(registry)
    number, _ = _through_execution(apps)
    head = registry.head()
    cases = [
        (lambda: apps.link_certificates(number, ["P1-2026-000001-X"], now=at("2026-11-03"), actor="x"),
         "is at stage handling: no decision is recorded; cannot issue before the decision"),
        (lambda: apps.resume(number, now=at("2026-11-03"), actor="x"), "the clock is not paused; there is nothing to resume"),
        (lambda: apps.paid(number, now=at("2026-11-03"), actor="x"), "to record the payment it must be at stage payment"),
        (lambda: apps.pause(number, "competence_retest", now=at("2026-11-03"), actor="x"),
         "cannot be paused for 'competence_retest'"),
        (lambda: apps.condition(number, "complete", now=at("2026-11-03"), actor="x"), "complete was already recorded"),
        (lambda: apps.condition(number, "quota_met", now=at("2026-11-03"), actor="x"),
         "'quota_met' is not a condition of a product-type1 application"),
        (lambda: apps.execution(number, now=at("2026-11-03"), actor="x"), "to start the execution it must be at stage payment"),
        (lambda: apps.decide(number, True, now=at("2026-11-03"), actor="x"), "to record the decision it must be at stage execution"),
    ]
    for call, message in cases:
        with pytest.raises(ApplicationError, match=message.replace("(", r"\(").replace(")", r"\)")):
            call()
    assert registry.head() == head
    apps.payment(number, now=at("2026-11-04"), actor="ana")
    apps.paid(number, now=at("2026-11-05"), actor="ana")
    with pytest.raises(ApplicationError, match=r"already paid on 2026-11-05; it cannot be paid twice"):
        apps.paid(number, now=at("2026-11-06"), actor="ana")
    with pytest.raises(ApplicationError, match="the clock is not paused"):
        apps.resume(number, now=at("2026-11-06"), actor="ana")
    with pytest.raises(NotFoundError, match="AP-2026-000099-. is not in the register"):
        from certgen.service.numbers import build
        apps.get(build("AP", 2026, 99), at("2026-11-06"))
    with pytest.raises(NumberFormatError, match="check character does not match"):
        apps.get(number[:-1] + ("0" if number[-1] != "0" else "1"), at("2026-11-06"))


def test_complete_needs_a_document_and_documents_are_limited(registry):
    apps = register(registry)
    a, _ = apps.new(NewApplication("person", "Siti", "office"), now=at("2026-11-02"), actor="ana")
    with pytest.raises(ApplicationError, match="no document is attached"):
        apps.condition(a.number, "complete", now=at("2026-11-02"), actor="ana")
    big = document()
    with pytest.raises(ApplicationError, match=r"letter.pdf: 20971521 bytes; documents have at most 20971520 bytes"):
        apps.attach(a.number, type(big)(big.name, big.sha256, 20971521, big.type), now=at("2026-11-02"), actor="ana")
    with pytest.raises(ApplicationError, match=r"x.docx: application/msword is not accepted"):
        apps.attach(a.number, type(big)("x.docx", big.sha256, 10, "application/msword"), now=at("2026-11-02"), actor="ana")
    apps.attach(a.number, big, now=at("2026-11-02"), actor="ana")
    with pytest.raises(ApplicationError, match="is already attached"):
        apps.attach(a.number, big, now=at("2026-11-02"), actor="ana")
    # person: the clock waits for the quota as well
    a = apps.condition(a.number, "complete", now=at("2026-11-02"), actor="ana")
    assert a.clock.started is None
    a = apps.condition(a.number, "quota_met", now=at("2026-11-09"), actor="ana")
    assert a.clock.started == date(2026, 11, 9)
    with pytest.raises(ApplicationError, match=r"cannot be paused for 'payment' \(the standard allows: competence_retest\)"):
        apps.pause(a.number, "payment", now=at("2026-11-10"), actor="ana")


def test_rows_edited_behind_the_logs_back_are_named(registry, keystore):
    apps = register(registry)
    number, _ = _through_execution(apps)
    other, _ = _through_execution(apps, client="CV Lain")
    assert verify_service_log(registry) == []
    with registry.engine.begin() as conn:
        conn.execute(text("UPDATE applications SET stage = 'decision', decision = 'granted' WHERE number = :n"), {"n": number})
        conn.execute(text("DELETE FROM applications WHERE number = :n"), {"n": other})
        conn.execute(text("INSERT INTO applications (number, year, serial, kind, client, client_id, channel, stage, "
                          "access_hash, created_at, conditions, pauses, steps, documents, certificates) VALUES "
                          "('AP-2026-000777-X', 2026, 777, 'person', 'x', 'x', 'post', 'application', :h, "
                          "'2026-11-02 00:00:00.000000', '{}', '[]', '[]', '[]', '[]')"), {"h": "0" * 64})
    problems = [str(p) for p in verify_applications(registry)]
    assert f"application {number}: column stage is \"decision\", but its history says \"handling\"" in problems
    assert f"application {number}: column decision is \"granted\", but its history says null" in problems
    assert "application AP-2026-000777-X: has a row but no history in the log" in problems
    # certgen log --verify says the same: applications are subjects of the audit
    from certgen.registry import verify_log
    audit = [str(p) for p in verify_log(registry, keystore.trust_list(), keystore.root_certificate()).problems]
    assert f"application {number}: column stage is \"decision\", but its history says \"handling\"" in audit
    assert any(p.startswith(f"application {other}: has events in the log (event ") and p.endswith("but no row: it was deleted")
               for p in problems)
    assert len(problems) == 4
    with registry.engine.begin() as conn:  # an event's state rewritten: its digest no longer matches
        conn.execute(text("UPDATE events SET data = json_set(data, '$.state.client', 'X') WHERE seq = 1"))
    codes = {p.code for p in verify_log(registry, keystore.trust_list(), keystore.root_certificate()).problems}
    assert {"event_altered", "event_state_mismatch"} <= codes


def test_the_certificate_log_check_skips_application_events(registry, keystore):
    from certgen.registry import verify_log

    apps = register(registry)
    _through_execution(apps)
    report = verify_log(registry, keystore.trust_list(), keystore.root_certificate())
    assert report.ok, report.problems
    assert report.events == 3  # new, attach, complete


def test_access_codes_are_stored_as_scrypt_digests(registry):
    apps = register(registry)
    a, code = apps.new(NewApplication("training", "Budi", "email"), now=at("2026-11-02"), actor="ana")
    with registry.engine.connect() as conn:
        stored = conn.execute(text("SELECT access_hash FROM applications")).scalar_one()
        log = json.dumps([dict(r._mapping) for r in conn.execute(text("SELECT data FROM events"))])
    assert stored == access_hash(a.number, code) and code.replace("-", "") not in log
    import hashlib
    raw = code.replace("-", "").encode()
    assert stored == hashlib.scrypt(raw, salt=f"certgen-access:{a.number}".encode(), n=2**11, r=8, p=1, dklen=32).hex()


def test_cli_application_commands(cli, tmp_path):
    pdf = tmp_path / "permohonan.pdf"
    pdf.write_bytes(b"%PDF-1.7\nhello\n")
    r = cli(main, ["app", "new", "product-type1", "--client", "PT Maju", "--channel", "website", "--json"])
    assert r.exit_code == 0, r.output
    number = json.loads(r.output)["number"]
    assert cli(main, ["app", "attach", number, str(pdf)]).exit_code == 0
    wrong = tmp_path / "a.txt"
    wrong.write_text("hi")
    r = cli(main, ["app", "attach", number, str(wrong)])
    assert r.exit_code == 1 and "a.txt: not a PDF, JPEG or PNG file (by its content)" in r.output
    r = cli(main, ["app", "complete", number], now=at("2026-11-02"))
    assert "stage handling; clock running: 0 of 14 working days used, 14 left, deadline 2026-11-20" in r.output
    r = cli(main, ["app", "resume", number], now=at("2026-11-03"))
    assert r.exit_code == 1 and "the clock is not paused; there is nothing to resume" in r.output
    r = cli(main, ["app", "pause", number, "--reason", "product_testing", "--note", "sent to lab"], now=at("2026-11-03"))
    assert "clock paused: 0 of 14" in r.output
    r = cli(main, ["app", "resume", number], now=at("2026-11-05"))
    assert "clock running: 1 of 14 working days used, 13 left" in r.output
    r = cli(main, ["app", "show", number], now=at("2026-11-05"))
    assert "paused for product_testing: 2026-11-03 .. 2026-11-05" in r.output
    r = cli(main, ["app", "list", "--json"], now=at("2026-11-05"))
    assert json.loads(r.output)[0]["clock"]["deadline"] == "2026-11-24"
    assert cli(main, ["app", "audit"]).output.startswith("applications and complaints agree")


def test_cli_import_names_row_and_column(cli, tmp_path):
    bad = tmp_path / "apps.csv"
    bad.write_text("kind,client,email,channel\nperson,Siti,siti@example.id,office\nrobot,,x,fax\n")
    r = cli(main, ["app", "import", str(bad)])
    assert r.exit_code == 1
    assert "apps.csv: row 3, column client: missing value" in r.output
    assert "apps.csv: row 3, column kind: unknown kind 'robot'" in r.output
    assert "apps.csv: row 3, column channel: unknown channel 'fax'" in r.output
    assert "apps.csv: row 3, column email: 'x' is not an email address" in r.output
    assert "nothing registered" in r.output
    assert "0 application" in cli(main, ["app", "list"]).output
    good = tmp_path / "good.csv"
    good.write_text("kind,client,client_id,email,channel\nperson,Siti,,siti@example.id,office\ntraining,Budi,NIK-1,,post\n")
    r = cli(main, ["app", "import", str(good)])
    assert r.exit_code == 0 and "2 application(s) registered" in r.output and "row 3: AP-2026-000002-" in r.output


@pytest.mark.postgres
def test_applications_and_complaints_on_postgresql(postgres_url, keystore):
    from certgen.registry import Registry, verify_log
    from certgen.service.complaints import Complaints
    from .service_helpers import closed_application

    registry = Registry.open(postgres_url)
    try:
        apps = register(registry)
        closed, code = closed_application(apps, "PT Pg", "2026-11-02", "2026-11-24")
        assert closed.clock.used == 16 and closed.clock.late
        assert apps.check_access(closed.number, code, at("2026-11-25")) is not None
        complaints = Complaints(registry, apps.rules, apps.calendar)
        case = complaints.register_complaint(channel="email", summary="late", subject_kind="application",
                                             subject=closed.number, type="appeal", now=at("2026-11-25"), actor="cs")
        complaints.review(case.number, now=at("2026-11-25"), actor="cs")
        with pytest.raises(Exception, match="may not answer the appeal"):
            complaints.answer(case.number, "no", "rejected", now=at("2026-11-26"), actor="kepala")
        complaints.answer(case.number, "no", "rejected", now=at("2026-11-26"), actor="panel")
        assert verify_service_log(registry) == []
        assert verify_log(registry, keystore.trust_list(), keystore.root_certificate()).ok
        with registry.engine.begin() as conn:
            conn.execute(text("UPDATE complaints SET outcome = 'upheld'"))
        assert [str(p) for p in verify_service_log(registry)] == [
            f"complaint {case.number}: column outcome is \"upheld\", but its history says \"rejected\""]
    finally:
        registry.close()
