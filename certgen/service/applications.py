"""Applications: stages, start conditions, pauses, the decision, and the read model.

    application --complete--> handling --payment--> payment --(paid) execution--> execution
    execution --(evaluation steps) decide--> decision --issue (granted) | report (refused)--> reporting

Every operation runs in one registry write transaction, changes the row and appends one
event committing to the whole row (`log.append_event`). An illegal move raises
`ApplicationError` naming the application and why, and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import CertgenError, NotFoundError
from ..model import EventType
from ..registry import Registry
from ..registry.chain import iso
from ..registry.lifecycle import local_day
from ..registry.tables import ApplicationRow, NumberSeriesRow
from . import numbers
from .calendar import WorkingCalendar
from .clock import Clock, Pause, compute
from .log import append_event, reading, writing
from .rules import KindRule, ServiceRules

STAGES = ("application", "handling", "payment", "execution", "decision", "reporting")
#: Steps whose actors took part in the evaluation (ISO/IEC 17065 §7.4, 17024 §9.2): they may not decide.
EVALUATION_ACTIONS = ("execution", "evaluate")


class ApplicationError(CertgenError):
    """An operation the application's state does not allow; nothing was changed."""


class DecisionRefused(ApplicationError):
    """The actor took part in the evaluation and may not record the decision."""


@dataclass(frozen=True)
class Document:
    name: str
    sha256: str
    size: int
    type: str


@dataclass(frozen=True)
class NewApplication:
    kind: str
    client: str
    channel: str
    client_id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Application:
    """An application as read, with its clock computed at a given moment."""

    number: str
    kind: str
    client: str
    client_id: str
    email: str | None
    channel: str
    stage: str
    decision: str | None
    created_at: datetime
    conditions: Mapping[str, datetime]
    pauses: tuple[Mapping[str, Any], ...]
    steps: tuple[Mapping[str, Any], ...]
    documents: tuple[Mapping[str, Any], ...]
    certificates: tuple[str, ...]
    paid_at: datetime | None
    reported_at: datetime | None
    credit_letter: str | None
    apology_letter: str | None
    clock: Clock
    access_hash: str = field(repr=False, default="")

    @property
    def closed(self) -> bool:
        return self.stage == "reporting"

    @property
    def paused(self) -> bool:
        return any(p.get("to") is None for p in self.pauses)

    @property
    def evaluators(self) -> set[str]:
        return {s["actor"] for s in self.steps if s.get("action") in EVALUATION_ACTIONS}


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


class Applications:
    """The application register over one registry, with the rules and calendar in force."""

    def __init__(self, registry: Registry, rules: ServiceRules, calendar: WorkingCalendar,
                 on_change: Callable[[Application, str], None] | None = None) -> None:
        self.registry = registry
        self.rules = rules
        self.calendar = calendar
        #: Called after each committed change with the application (clock at the change) and the action.
        self.on_change = on_change

    # -- reading -------------------------------------------------------------------------

    def clock(self, row: Any, now: datetime) -> Clock:
        rule = self.rules.kind(row.kind)
        started = None
        if all(c in row.conditions for c in rule.starts_when):
            started = local_day(max(_dt(row.conditions[c]) for c in rule.starts_when))  # type: ignore[type-var]
        pauses = [Pause(p["reason"], local_day(_dt(p["from"])), local_day(_dt(p["to"])) if p.get("to") else None)
                  for p in row.pauses]
        reported = local_day(row.reported_at) if row.reported_at else None
        allowed = rule.days - (1 if row.credit_letter else 0)
        return compute(self.calendar, allowed, started, pauses, reported, local_day(now))

    def _read(self, row: ApplicationRow, now: datetime) -> Application:
        return Application(
            number=row.number, kind=row.kind, client=row.client, client_id=row.client_id, email=row.email,
            channel=row.channel, stage=row.stage, decision=row.decision, created_at=row.created_at,
            conditions={k: _dt(v) for k, v in row.conditions.items()}, pauses=tuple(row.pauses), steps=tuple(row.steps),
            documents=tuple(row.documents), certificates=tuple(row.certificates), paid_at=row.paid_at,
            reported_at=row.reported_at, credit_letter=row.credit_letter, apology_letter=row.apology_letter,
            clock=self.clock(row, now), access_hash=row.access_hash)

    def get(self, number: str, now: datetime) -> Application:
        canonical = numbers.parse_application(number)
        with reading(self.registry) as session:
            row = session.execute(select(ApplicationRow).where(ApplicationRow.number == canonical)).scalar_one_or_none()
            if row is None:
                raise NotFoundError(f"application {canonical} is not in the register")
            return self._read(row, now)

    def iter(self, now: datetime, *, open_only: bool = False, year: int | None = None) -> Iterator[Application]:
        query = select(ApplicationRow).order_by(ApplicationRow.number)
        if open_only:
            query = query.where(ApplicationRow.stage != "reporting")
        if year is not None:
            query = query.where(ApplicationRow.year == year)
        with reading(self.registry) as session:
            rows = list(session.scalars(query))
        return (self._read(r, now) for r in rows)

    def check_access(self, number: str, code: str, now: datetime) -> Application | None:
        """The application if `code` is its access code, else None (never says which was wrong)."""
        try:
            app = self.get(number, now)
        except (NotFoundError, CertgenError):
            return None
        return app if numbers.code_matches(app.number, code, app.access_hash) else None

    # -- creating ------------------------------------------------------------------------

    def new(self, item: NewApplication, *, now: datetime, actor: str) -> tuple[Application, str]:
        """Register an application; returns it with its access code (shown once, never stored)."""
        return self.new_many([item], now=now, actor=actor)[0]

    def new_many(self, items: Sequence[NewApplication], *, now: datetime, actor: str) -> list[tuple[Application, str]]:
        """Register several applications in one transaction (a spreadsheet import): all or none."""
        for item in items:
            self._check_new(item)
        out: list[tuple[ApplicationRow, str]] = []
        year = local_day(now).year
        with writing(self.registry) as (session, head):
            counter = _counter(session, numbers.APPLICATION_SERIES, year)
            for item in items:
                counter.last_serial += 1
                number = numbers.build(numbers.APPLICATION_SERIES, year, counter.last_serial)
                code = numbers.new_access_code()
                row = ApplicationRow(
                    number=number, year=year, serial=counter.last_serial, kind=item.kind, client=item.client.strip(),
                    client_id=(item.client_id or item.client).strip().casefold()[:100],
                    email=(item.email or "").strip() or None, channel=item.channel, stage="application", decision=None,
                    access_hash=numbers.access_hash(number, code), created_at=now, conditions={}, pauses=[],
                    steps=[_step(now, actor, "new", item.channel)], documents=[], certificates=[], paid_at=None,
                    reported_at=None, credit_letter=None, apology_letter=None)
                session.add(row)
                append_event(session, head, EventType.APPLICATION, row, action="new", actor=actor, at=now)
                out.append((row, code))
        result = [(self._read(row, now), code) for row, code in out]
        for app, _ in result:
            self._changed(app, "new")
        return result

    def _check_new(self, item: NewApplication) -> None:
        if item.kind not in self.rules.kinds:
            raise ApplicationError(f"unknown application kind {item.kind!r} (known: {', '.join(self.rules.kinds)})")
        if item.channel not in self.rules.channels:
            raise ApplicationError(f"unknown channel {item.channel!r} (known: {', '.join(self.rules.channels)})")
        if not item.client or not item.client.strip():
            raise ApplicationError("an application needs the client's name")
        if len(item.client.strip()) > 200:
            raise ApplicationError("the client's name has at most 200 characters")
        if item.email and ("@" not in item.email or len(item.email) > 200 or any(c.isspace() for c in item.email.strip())):
            raise ApplicationError(f"{item.email!r} is not an email address")

    # -- changing ------------------------------------------------------------------------

    def _change(self, number: str, now: datetime, actor: str, action: str,
                apply: Callable[[ApplicationRow, KindRule, Clock], str | None], reason: str | None = None,
                detail: Mapping[str, Any] | None = None, session_hook: Callable[[Session, ApplicationRow], None] | None = None
                ) -> Application:
        canonical = numbers.parse_application(number)
        with writing(self.registry) as (session, head):
            row = session.execute(select(ApplicationRow).where(ApplicationRow.number == canonical)).scalar_one_or_none()
            if row is None:
                raise NotFoundError(f"application {canonical} is not in the register")
            rule = self.rules.kind(row.kind)
            if session_hook is not None:
                session_hook(session, row)
            step_detail = apply(row, rule, self.clock(row, now))
            row.steps = [*row.steps, _step(now, actor, action, step_detail)]
            append_event(session, head, EventType.APPLICATION, row, action=action, actor=actor, at=now, reason=reason,
                         detail=detail)
            app = self._read(row, now)
        self._changed(app, action)
        return app

    def _changed(self, app: Application, action: str) -> None:
        if self.on_change is not None:
            self.on_change(app, action)

    def attach(self, number: str, document: Document, *, now: datetime, actor: str) -> Application:
        """Record a document received (by its digest; the file is kept by the caller)."""
        if document.size > self.rules.max_document_bytes:
            raise ApplicationError(f"{document.name}: {document.size} bytes; documents have at most "
                                   f"{self.rules.max_document_bytes} bytes")
        if document.type not in self.rules.document_types:
            raise ApplicationError(f"{document.name}: {document.type} is not accepted "
                                   f"(accepted: {', '.join(self.rules.document_types)})")

        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> str:
            _open(row)
            if any(d["sha256"] == document.sha256 for d in row.documents):
                raise ApplicationError(f"{row.number}: this document ({document.sha256[:12]}...) is already attached")
            row.documents = [*row.documents, {"name": document.name[:200], "sha256": document.sha256,
                                              "size": document.size, "type": document.type, "at": iso(now), "by": actor}]
            return document.name[:200]
        return self._change(number, now, actor, "attach", apply)

    def condition(self, number: str, name: str, *, now: datetime, actor: str) -> Application:
        """Record a start condition: complete, quota_met, approval_letter."""
        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> str:
            _open(row)
            if name not in rule.starts_when:
                raise ApplicationError(f"{row.number}: {name!r} is not a condition of a {row.kind} application "
                                       f"(its clock starts when: {', '.join(rule.starts_when)})")
            if name in row.conditions:
                raise ApplicationError(f"{row.number}: {name} was already recorded on {row.conditions[name][:10]}")
            if name == "complete":
                if not row.documents:
                    raise ApplicationError(f"{row.number}: no document is attached; an application is complete "
                                           f"with its documents")
                row.stage = "handling"
            row.conditions = {**row.conditions, name: iso(now)}
            return name
        return self._change(number, now, actor, name, apply)

    def pause(self, number: str, reason: str, *, now: datetime, actor: str, note: str | None = None) -> Application:
        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> str:
            _open(row)
            if reason not in rule.pauses:
                allowed = ", ".join(rule.pauses) or "nothing"
                raise ApplicationError(f"{row.number}: the clock of a {row.kind} application cannot be paused for "
                                       f"{reason!r} (the standard allows: {allowed})")
            if clock.started is None:
                raise ApplicationError(f"{row.number}: the clock has not started; there is nothing to pause")
            open_pause = next((p for p in row.pauses if p.get("to") is None), None)
            if open_pause is not None:
                raise ApplicationError(f"{row.number}: the clock is already paused ({open_pause['reason']} since "
                                       f"{open_pause['from'][:10]})")
            row.pauses = [*row.pauses, {"reason": reason, "from": iso(now), "to": None, "by": actor}]
            return reason
        return self._change(number, now, actor, "pause", apply, reason=note)

    def resume(self, number: str, *, now: datetime, actor: str) -> Application:
        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> str:
            _open(row)
            if not any(p.get("to") is None for p in row.pauses):
                raise ApplicationError(f"{row.number}: the clock is not paused; there is nothing to resume")
            if row.stage == "payment" and row.paid_at is None and row.pauses[-1]["reason"] == "payment":
                raise ApplicationError(f"{row.number}: the clock waits for the payment; record it with `paid`")
            return _close_pauses(row, now)
        return self._change(number, now, actor, "resume", apply)

    def payment(self, number: str, *, now: datetime, actor: str) -> Application:
        """Move to payment; the clock pauses for the payment where the kind's rules say so."""
        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> str | None:
            _expect(row, "handling", "move to payment")
            row.stage = "payment"
            if "payment" in rule.pauses and clock.started is not None and not any(p.get("to") is None for p in row.pauses):
                row.pauses = [*row.pauses, {"reason": "payment", "from": iso(now), "to": None, "by": actor}]
                return "clock paused for payment"
            return None
        return self._change(number, now, actor, "payment", apply)

    def paid(self, number: str, *, now: datetime, actor: str, reference: str | None = None) -> Application:
        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> str | None:
            _open(row)
            if row.paid_at is not None:
                raise ApplicationError(f"{row.number}: already paid on {local_day(row.paid_at)}; it cannot be paid twice")
            _expect(row, "payment", "record the payment")
            row.paid_at = now
            if row.pauses and row.pauses[-1].get("to") is None and row.pauses[-1]["reason"] == "payment":
                _close_pauses(row, now)
            return reference
        return self._change(number, now, actor, "paid", apply)

    def execution(self, number: str, *, now: datetime, actor: str) -> Application:
        """Start the execution (audit, testing, assessment or training): an evaluation step."""
        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> None:
            _expect(row, "payment", "start the execution")
            if row.paid_at is None:
                raise ApplicationError(f"{row.number}: not paid yet; the execution starts after the payment")
            missing = [c for c in rule.starts_when if c not in row.conditions]
            if missing:
                raise ApplicationError(f"{row.number}: {', '.join(missing)} not recorded yet; the execution waits for it")
            if any(p.get("to") is None for p in row.pauses):
                raise ApplicationError(f"{row.number}: the clock is paused; resume it first")
            row.stage = "execution"
        return self._change(number, now, actor, "execution", apply)

    def evaluate(self, number: str, step: str, *, now: datetime, actor: str) -> Application:
        """Record an evaluation step (audit report, test result, assessment)."""
        if not step or not step.strip():
            raise ApplicationError("an evaluation step needs a description")

        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> str:
            _expect(row, "execution", "record an evaluation step")
            return step.strip()[:300]
        return self._change(number, now, actor, "evaluate", apply)

    def decide(self, number: str, grant: bool, *, now: datetime, actor: str, note: str | None = None) -> Application:
        """Record the certification decision, by someone who took no part in the evaluation."""
        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> str:
            _expect(row, "execution", "record the decision")
            evaluators = {s["actor"] for s in row.steps if s.get("action") in EVALUATION_ACTIONS}
            if not any(s.get("action") == "evaluate" for s in row.steps):
                raise ApplicationError(f"{row.number}: no evaluation step is recorded; there is nothing to decide on")
            if actor in evaluators:
                raise DecisionRefused(f"{row.number}: {actor} recorded evaluation steps of this application and may not "
                                      f"record the decision (ISO/IEC 17065 §7.6, 17024 §9.3); evaluators: "
                                      f"{', '.join(sorted(evaluators))}")
            if any(p.get("to") is None for p in row.pauses):
                raise ApplicationError(f"{row.number}: the clock is paused; resume it first")
            row.stage = "decision"
            row.decision = "granted" if grant else "refused"
            return row.decision
        return self._change(number, now, actor, "decide", apply, reason=note)

    def link_certificates(self, number: str, certificates: Sequence[str], *, now: datetime, actor: str) -> Application:
        """The result is reported: the certificates issued from the application close it."""
        if not certificates:
            raise ApplicationError("no certificate was issued; the application stays open")

        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> str:
            _expect_decided(row, "granted", "issue")
            row.certificates = list(dict.fromkeys([*row.certificates, *certificates]))
            _report(row, now)
            return ", ".join(certificates[:5]) + (f" and {len(certificates) - 5} more" if len(certificates) > 5 else "")
        return self._change(number, now, actor, "issue", apply)

    def check_can_issue(self, number: str) -> None:
        """Raise `ApplicationError` unless certificates may be issued from the application now."""
        canonical = numbers.parse_application(number)
        with reading(self.registry) as session:
            row = session.execute(select(ApplicationRow).where(ApplicationRow.number == canonical)).scalar_one_or_none()
            if row is None:
                raise NotFoundError(f"application {canonical} is not in the register")
            _expect_decided(row, "granted", "issue")

    def record_notice(self, number: str, deadline: str, *, now: datetime, actor: str) -> Application:
        """Record that the applicant was told the deadline `deadline` is near (sent once per deadline)."""
        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> str:
            _open(row)
            return deadline
        return self._change(number, now, actor, "notice", apply)

    def record_letter(self, number: str, letter: str, *, now: datetime, actor: str) -> Application:
        """The apology letter issued for this application's late result."""
        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> str:
            if row.stage != "reporting" or not clock.late:
                raise ApplicationError(f"{row.number}: its result was not reported late; no apology letter is due")
            if row.apology_letter not in (None, letter):
                raise ApplicationError(f"{row.number}: apology letter {row.apology_letter} was already issued")
            row.apology_letter = letter
            return letter
        return self._change(number, now, actor, "apology", apply)

    def credit(self, number: str, letter: str, client_id: str, *, now: datetime, actor: str) -> Application:
        """One working day less on this open application, for `letter` of the same client."""
        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> str:
            _open(row)
            if row.client_id != client_id:
                raise ApplicationError(f"apology letter {letter} was given to another client; it cannot be redeemed on "
                                       f"{row.number}")
            if row.credit_letter is not None:
                raise ApplicationError(f"{row.number} already has the credit of letter {row.credit_letter}")
            row.credit_letter = letter
            return letter
        return self._change(number, now, actor, "redeem", apply)

    def credited_on(self, letter: str) -> str | None:
        """The application on which `letter`'s credit was used, if any."""
        with reading(self.registry) as session:
            return session.execute(select(ApplicationRow.number).where(ApplicationRow.credit_letter == letter)).scalar_one_or_none()

    def report_refusal(self, number: str, *, now: datetime, actor: str) -> Application:
        """The result of a refused application is reported (the refusal letter is sent)."""
        def apply(row: ApplicationRow, rule: KindRule, clock: Clock) -> None:
            _expect_decided(row, "refused", "report a refusal")
            _report(row, now)
        return self._change(number, now, actor, "report", apply)


# -- helpers -----------------------------------------------------------------------------

def _step(now: datetime, actor: str, action: str, detail: str | None) -> dict[str, Any]:
    return {"at": iso(now), "actor": actor, "action": action, "detail": detail}


def _counter(session: Session, series: str, year: int) -> NumberSeriesRow:
    row = session.execute(select(NumberSeriesRow).where(NumberSeriesRow.series == series,
                                                        NumberSeriesRow.year == year)).scalar_one_or_none()
    if row is None:
        row = NumberSeriesRow(series=series, year=year, last_serial=0)
        session.add(row)
    return row


def _open(row: ApplicationRow) -> None:
    if row.stage == "reporting":
        raise ApplicationError(f"{row.number}: the application is closed (result reported)")


def _expect(row: ApplicationRow, stage: str, what: str) -> None:
    _open(row)
    if row.stage != stage:
        raise ApplicationError(f"{row.number} is at stage {row.stage}; to {what} it must be at stage {stage}")


def _expect_decided(row: ApplicationRow, decision: str, what: str) -> None:
    _open(row)
    if row.stage != "decision" or row.decision is None:
        raise ApplicationError(f"{row.number} is at stage {row.stage}: no decision is recorded; cannot {what} before "
                               f"the decision")
    if row.decision != decision:
        raise ApplicationError(f"{row.number}: the decision was {row.decision}; cannot {what}")


def _close_pauses(row: ApplicationRow, now: datetime) -> str:
    reasons = []
    pauses = []
    for p in row.pauses:
        if p.get("to") is None:
            p = {**p, "to": iso(now)}
            reasons.append(p["reason"])
        pauses.append(p)
    row.pauses = pauses
    return ", ".join(reasons)


def _report(row: ApplicationRow, now: datetime) -> None:
    _close_pauses(row, now)
    row.stage = "reporting"
    row.reported_at = now


def new_items(items: Iterable[Mapping[str, Any]]) -> list[NewApplication]:
    return [NewApplication(**dict(i)) for i in items]
