"""Notices to applicants by email: on every stage change and when a deadline is near.

`SmtpMailer` sends through a configured SMTP server (smtplib; STARTTLS and login optional);
`OutboxMailer` writes each message as an .eml file into a folder (used when no SMTP server is
configured, and for a message the server refused, so nothing is lost). A notice never undoes the
change it reports: it is sent after the change is committed, and a failure to send is reported,
not raised.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Callable, Protocol

from .applications import Application, Applications
from .public import STAGE_LABELS

#: Actions that move an application to another stage (and so send a notice).
STAGE_ACTIONS = {"new", "complete", "payment", "execution", "decide", "issue", "report"}


@dataclass(frozen=True)
class Notice:
    to: str
    subject: str
    body: str
    number: str


class Mailer(Protocol):
    def send(self, notice: Notice, *, sender: str, now: datetime) -> str:
        """Deliver `notice`; returns where it went (for the log line)."""


def message(notice: Notice, sender: str, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = notice.to
    msg["Subject"] = notice.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "certgen")
    msg["X-Certgen-Application"] = notice.number
    msg.set_content(notice.body)
    return msg


class OutboxMailer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, notice: Notice, *, sender: str, now: datetime) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{now:%Y%m%dT%H%M%S%f}-{notice.number}"
        path = self.folder / f"{stem}.eml"
        counter = 1
        while path.exists():
            counter += 1
            path = self.folder / f"{stem}-{counter}.eml"
        path.write_bytes(bytes(message(notice, sender, now)))
        return str(path)


@dataclass
class SmtpMailer:
    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 20.0

    def send(self, notice: Notice, *, sender: str, now: datetime) -> str:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message(notice, sender, now))
        return f"smtp://{self.host}:{self.port}"


def stage_notice(app: Application, status_url: str) -> Notice | None:
    """The bilingual notice of `app`'s current stage, or None without an email address."""
    if not app.email:
        return None
    stage = STAGE_LABELS[app.stage]
    c = app.clock
    if c.started is None:
        clock_id = "Waktu layanan belum dimulai."
        clock_en = "The service time has not started."
    elif c.reported:
        clock_id = f"Hasil dilaporkan setelah {c.used} dari {c.allowed} hari kerja."
        clock_en = f"The result was reported after {c.used} of {c.allowed} working days."
    else:
        deadline = f"{c.deadline:%d-%m-%Y}" if c.deadline else "-"
        clock_id = f"Terpakai {c.used} dari {c.allowed} hari kerja; batas waktu {deadline}."
        clock_en = f"{c.used} of {c.allowed} working days used; deadline {deadline}."
    decision = {"granted": ("Sertifikasi diberikan.", "Certification granted."),
                "refused": ("Sertifikasi ditolak.", "Certification refused.")}.get(app.decision or "", ("", ""))
    body = (f"Yth. Pemohon,\n\nPermohonan {app.number} kini pada tahap: {stage.id}.\n{decision[0]}\n{clock_id}\n"
            f"Status terkini: {status_url} (nomor permohonan dan kode akses).\n\n"
            f"Dear applicant,\n\nApplication {app.number} is now at the stage: {stage.en}.\n{decision[1]}\n{clock_en}\n"
            f"Latest status: {status_url} (application number and access code).\n\nBalai Sertifikasi\n")
    if app.certificates:
        body += "\nSertifikat / Certificates: " + ", ".join(app.certificates) + "\n"
    return Notice(app.email, f"[{app.number}] {stage.id} / {stage.en}", body.replace("\n\n\n", "\n\n"), app.number)


def deadline_notice(app: Application, status_url: str) -> Notice | None:
    if not app.email or app.clock.deadline is None:
        return None
    c = app.clock
    body = (f"Yth. Pemohon,\n\nBatas waktu layanan permohonan {app.number} adalah {c.deadline:%d-%m-%Y} "
            f"({c.left} hari kerja lagi).\nStatus terkini: {status_url}\n\n"
            f"Dear applicant,\n\nThe service deadline of application {app.number} is {c.deadline:%d-%m-%Y} "
            f"({c.left} working days left).\nLatest status: {status_url}\n\nBalai Sertifikasi\n")
    return Notice(app.email, f"[{app.number}] Batas waktu mendekat / Deadline near", body, app.number)


def stage_notifier(mailer: Mailer, sender: str, status_url: str, now: Callable[[], datetime],
                   report: Callable[[str], None] = lambda line: None,
                   fallback: Path | None = None) -> Callable[[Application, str], None]:
    """An `Applications.on_change` hook that mails a notice on every stage change."""
    def on_change(app: Application, action: str) -> None:
        if action not in STAGE_ACTIONS:
            return
        notice = stage_notice(app, status_url)
        if notice is not None:
            deliver(mailer, notice, sender, now(), report, fallback)
    return on_change


def send_deadline_notices(apps: Applications, mailer: Mailer, sender: str, status_url: str, *, now: datetime,
                          actor: str, report: Callable[[str], None] = lambda line: None,
                          fallback: Path | None = None) -> list[str]:
    """Mail every open application whose running clock has `near_deadline_days` or fewer left,
    once per deadline (the notice is recorded as a step of the application). Returns the numbers."""
    sent = []
    for app in apps.iter(now, open_only=True):
        c = app.clock
        if c.started is None or c.paused or c.deadline is None or not 0 <= c.left <= apps.rules.near_deadline_days:
            continue
        if any(s.get("action") == "notice" and s.get("detail") == c.deadline.isoformat() for s in app.steps):
            continue
        notice = deadline_notice(app, status_url)
        if notice is None:
            continue
        deliver(mailer, notice, sender, now, report, fallback)
        apps.record_notice(app.number, c.deadline.isoformat(), now=now, actor=actor)
        sent.append(app.number)
    return sent


def deliver(mailer: Mailer, notice: Notice, sender: str, now: datetime, report: Callable[[str], None],
            fallback: Path | None = None) -> bool:
    """Send; on failure say so (and keep the message in `fallback`, if given). Never raises."""
    try:
        where = mailer.send(notice, sender=sender, now=now)
    except (OSError, smtplib.SMTPException) as exc:
        report(f"notice to {notice.to} about {notice.number} not sent: {type(exc).__name__}: {exc}")
        if fallback is not None:
            OutboxMailer(fallback).send(notice, sender=sender, now=now)
        return False
    report(f"notice to {notice.to} about {notice.number}: {where}")
    return True
