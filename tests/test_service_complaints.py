"""The complaints register: every channel, subjects, the appeal rule, the clock, the answer letter."""

from __future__ import annotations

import json

import pytest

from certgen.cli import main
from certgen.service.complaints import ComplaintError, Complaints
from certgen.service.log import verify_service_log
from certgen.service.numbers import build

from .registry_helpers import issue_one
from .service_helpers import at, closed_application, register


@pytest.fixture
def register_(registry):
    apps = register(registry)
    return apps, Complaints(registry, apps.rules, apps.calendar)


def test_every_channel_and_subject(registry, register_):
    apps, complaints = register_
    cert = issue_one(registry, "Siti Aminah", at("2026-11-02"))
    app, _ = closed_application(apps, "PT A", "2026-11-02", "2026-11-10")
    for channel in apps.rules.complaint_channels:
        complaints.register_complaint(channel=channel, summary=f"via {channel}", now=at("2026-11-11"), actor="cs")
    c = complaints.register_complaint(channel="website", summary="fake?", subject_kind="certificate", subject=cert.number.lower(),
                                      now=at("2026-11-11"), actor="cs")
    assert c.subject == cert.number and c.status == "received" and c.number.startswith("PG-2026-")
    assert len(list(complaints.iter(at("2026-11-11")))) == 8
    assert [x.channel for x in complaints.iter(at("2026-11-11"), channel="whatsapp")] == ["whatsapp"]
    errors = [
        (dict(channel="fax", summary="x"), "unknown channel 'fax'"),
        (dict(channel="email", summary="  "), "needs a summary"),
        (dict(channel="email", summary="x", type="appeal"), "an appeal is against a decision"),
        (dict(channel="email", summary="x", subject_kind="application", subject=build("AP", 2026, 999)), "not in the register"),
        (dict(channel="email", summary="x", subject_kind="certificate", subject="SK-2026-000999-" + "0"), "check character"),
    ]
    for kwargs, message in errors:
        with pytest.raises(ComplaintError, match=message):
            complaints.register_complaint(now=at("2026-11-11"), actor="cs", **kwargs)
    appeal = complaints.register_complaint(channel="letter", summary="we disagree", type="appeal",
                                           subject_kind="application", subject=app.number, now=at("2026-11-11"), actor="cs")
    assert appeal.type == "appeal"
    assert verify_service_log(registry) == []


def test_an_appeal_is_answered_by_someone_not_involved(register_):
    apps, complaints = register_
    app, _ = closed_application(apps, "PT A", "2026-11-02", "2026-11-10", decider="kepala")
    appeal = complaints.register_complaint(channel="letter", summary="refusal unfair", type="appeal",
                                           subject_kind="application", subject=app.number, now=at("2026-11-11"), actor="cs")
    complaints.review(appeal.number, now=at("2026-11-11"), actor="cs")
    with pytest.raises(ComplaintError, match="is in_review; only a received case goes into review"):
        complaints.review(appeal.number, now=at("2026-11-11"), actor="cs")
    for involved in ("kepala", "budi", "ana"):
        with pytest.raises(ComplaintError, match=f"{involved} took part in {app.number} and may not answer the appeal"):
            complaints.answer(appeal.number, "no", "rejected", now=at("2026-11-12"), actor=involved)
    with pytest.raises(ComplaintError, match="unknown outcome 'maybe'"):
        complaints.answer(appeal.number, "no", "maybe", now=at("2026-11-12"), actor="panel")
    answered = complaints.answer(appeal.number, "Keputusan tetap.", "rejected", now=at("2026-11-16"), actor="panel")
    assert answered.status == "answered" and answered.clock.used == 3 and not answered.clock.late
    with pytest.raises(ComplaintError, match="a case is answered when it is in review"):
        complaints.answer(appeal.number, "again", "upheld", now=at("2026-11-16"), actor="panel")
    assert complaints.close(appeal.number, now=at("2026-11-17"), actor="panel").status == "closed"
    # a complaint (not an appeal) may be answered by anyone
    c = complaints.register_complaint(channel="telephone", summary="slow", subject_kind="application", subject=app.number,
                                      now=at("2026-11-11"), actor="cs")
    complaints.review(c.number, now=at("2026-11-11"), actor="cs")
    late = complaints.answer(c.number, "Maaf.", "upheld", now=at("2026-12-02"), actor="ana")
    assert late.clock.used == 15 and late.clock.late  # 14 working days allowed


def test_complaints_commands_and_answer_letter(cli, settings):
    r = cli(main, ["complaints", "new", "--channel", "whatsapp", "--summary", "Sertifikat belum terbit",
                   "--contact", "Bapak Joko", "--json"], now=at("2026-11-02"))
    assert r.exit_code == 0, r.output
    number = json.loads(r.output)["number"]
    bad = cli(main, ["complaints", "new", "--channel", "pigeon", "--summary", "x"])
    assert bad.exit_code == 1 and "unknown channel 'pigeon'" in bad.output
    assert cli(main, ["complaints", "review", number], now=at("2026-11-03")).exit_code == 0
    r = cli(main, ["complaints", "answer", number, "--outcome", "upheld", "--text", "Sertifikat terbit hari ini.",
                   "--letter"], now=at("2026-11-04"))
    assert r.exit_code == 0, r.output
    pdf = settings.data_dir / "complaints" / f"{number}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and "answered after 2 of 14 working days" in r.output
    shown = json.loads(cli(main, ["complaints", "show", number]).output)
    import hashlib
    assert shown["letter_sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert "1 case(s)" in cli(main, ["complaints", "list", "--status", "answered"]).output
    assert "0 case(s)" in cli(main, ["complaints", "list", "--overdue"], now=at("2026-12-30")).output
    # the answer letter is signed: pyHanko validates it against the test root
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext
    from cryptography.hazmat.primitives import serialization
    from asn1crypto import x509 as asn1_x509
    import io
    root = (settings.keys_dir / "root.cert.pem").read_bytes()
    from cryptography import x509
    der = x509.load_pem_x509_certificate(root).public_bytes(serialization.Encoding.DER)
    reader = PdfFileReader(io.BytesIO(pdf.read_bytes()))
    status = validate_pdf_signature(reader.embedded_signatures[0],
                                    ValidationContext(trust_roots=[asn1_x509.Certificate.load(der)],
                                                      moment=at("2026-11-04")))
    assert status.intact and status.valid and status.trusted
