"""Notices by email through a real local SMTP server (aiosmtpd), and the outbox without one."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from certgen.cli import main
from certgen.service.applications import NewApplication
from certgen.service.notices import OutboxMailer, SmtpMailer, send_deadline_notices, stage_notifier

from .service_helpers import at, document, register


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        msg["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def test_stage_notices_and_a_deadline_notice_through_smtp(registry, smtp, tmp_path):
    inbox, port = smtp
    mailer = SmtpMailer("127.0.0.1", port)
    clock = {"now": at("2026-11-02")}
    lines: list[str] = []
    apps = register(registry, stage_notifier(mailer, "layanan@bs.example.id", "https://bs.example.id/permohonan",
                                             lambda: clock["now"], lines.append, tmp_path / "fallback"))
    a, _ = apps.new(NewApplication("product-type1", "PT Maju", "email", email="qa@maju.example"), now=clock["now"], actor="ana")
    apps.attach(a.number, document(), now=clock["now"], actor="ana")  # not a stage change: no notice
    apps.condition(a.number, "complete", now=clock["now"], actor="ana")
    apps.pause(a.number, "product_testing", now=at("2026-11-03"), actor="ana")  # not a stage change
    assert [m["Subject"] for m in inbox.messages] == [
        f"[{a.number}] Permohonan diterima / Application received",
        f"[{a.number}] Penanganan permohonan / Application handling",
    ]
    second = inbox.messages[1]
    assert second["To"] == "qa@maju.example" and second["X-Envelope-To"] == "qa@maju.example"
    assert second["From"] == "layanan@bs.example.id" and second["X-Certgen-Application"] == a.number
    body = second.get_content()
    assert "Terpakai 0 dari 14 hari kerja; batas waktu 20-11-2026." in body
    assert "0 of 14 working days used; deadline 20-11-2026." in body
    assert "https://bs.example.id/permohonan" in body and "PT Maju" not in body
    # the deadline is near: 3 Nov paused, so the 14th working day is Mon 23 Nov; 3 left at the close of 18 Nov
    apps.resume(a.number, now=at("2026-11-04"), actor="ana")
    assert send_deadline_notices(apps, mailer, "layanan@bs.example.id", "u", now=at("2026-11-16"), actor="bot") == []
    assert send_deadline_notices(apps, mailer, "layanan@bs.example.id", "u", now=at("2026-11-18"), actor="bot") == [a.number]
    assert send_deadline_notices(apps, mailer, "layanan@bs.example.id", "u", now=at("2026-11-19"), actor="bot") == []
    near = inbox.messages[-1]
    assert near["Subject"] == f"[{a.number}] Batas waktu mendekat / Deadline near"
    assert "Batas waktu layanan permohonan" in near.get_content() and "adalah 23-11-2026 (3 hari kerja lagi)" in near.get_content()
    assert len(inbox.messages) == 3


def test_a_server_that_is_down_loses_no_notice_and_undoes_no_change(registry, tmp_path):
    lines: list[str] = []
    mailer = SmtpMailer("127.0.0.1", _free_port(), timeout=5)
    apps = register(registry, stage_notifier(mailer, "l@x.id", "u", lambda: at("2026-11-02"), lines.append,
                                             tmp_path / "outbox"))
    a, _ = apps.new(NewApplication("person", "Siti", "office", email="siti@example.id"), now=at("2026-11-02"), actor="a")
    assert apps.get(a.number, at("2026-11-02")).stage == "application"
    assert lines and "not sent: ConnectionRefusedError" in lines[0]
    saved = list((tmp_path / "outbox").glob("*.eml"))
    assert len(saved) == 1 and b"To: siti@example.id" in saved[0].read_bytes()


def test_without_smtp_the_cli_writes_to_the_outbox(cli, settings):
    r = cli(main, ["app", "new", "training", "--client", "Budi", "--channel", "email", "--email", "budi@example.id"])
    assert r.exit_code == 0, r.output
    files = sorted((settings.data_dir / "outbox").glob("*.eml"))
    assert len(files) == 1
    msg = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["To"] == "budi@example.id" and "Permohonan diterima / Application received" in msg["Subject"]
    assert "https://verifikasi.example.id/permohonan" in msg.get_content()
    # no address, no notice
    cli(main, ["app", "new", "training", "--client", "Tanpa Surel", "--channel", "post"])
    assert len(list((settings.data_dir / "outbox").glob("*.eml"))) == 1


def test_the_cli_sends_through_a_configured_server(settings, smtp, tmp_path):
    from click.testing import CliRunner
    from certgen.cli_support import AppContext

    inbox, port = smtp
    app = AppContext(settings=settings, now=lambda: at("2026-11-02"),
                     environ={"CERTGEN_ACTOR": "ana", "CERTGEN_SMTP_HOST": "127.0.0.1", "CERTGEN_SMTP_PORT": str(port),
                              "CERTGEN_MAIL_FROM": "bs@example.id"})
    r = CliRunner().invoke(main, ["app", "new", "person", "--client", "Siti", "--channel", "email", "--email",
                                  "siti@example.id"], obj=app, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert [m["To"] for m in inbox.messages] == ["siti@example.id"] and inbox.messages[0]["From"] == "bs@example.id"
    assert not (settings.data_dir / "outbox").exists()


def test_outbox_names_do_not_collide(tmp_path):
    from certgen.service.notices import Notice

    box = OutboxMailer(tmp_path)
    n = Notice("a@b.c", "s", "b", "AP-2026-000001-X")
    paths = {box.send(n, sender="x@y.z", now=at("2026-11-02")) for _ in range(3)}
    assert len(paths) == 3
