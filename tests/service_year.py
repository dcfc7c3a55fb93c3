"""A simulated year of the service standard, driven through the library and the CLI.

`Year(n).run(...)` generates `n` applications of every kind over 2026 (seeded), runs every
step in time order under a frozen clock (each step at its own moment), with pauses, payments
across weekends, refusals, late results, apology letters, redemptions, complaints and appeals,
and keeps its own books: the expected clock of every application is computed here, from a
working-day calendar written out by hand (the decreed days of 2026), not by certgen.
Applications whose index is a multiple of `cli_every` are driven entirely through `certgen`
commands (in-process); the others through the library, for speed.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Callable

from certgen.model import Series
from certgen.registry import NewCertificate
from certgen.registry.lifecycle import WIB

# 2026 as decreed (SKB 1497/2025) and the national holidays: written out, not computed
OFF_2026 = {date.fromisoformat(d) for d in [
    "2026-01-01", "2026-01-16", "2026-02-16", "2026-02-17", "2026-03-18", "2026-03-19", "2026-03-20", "2026-03-21",
    "2026-03-22", "2026-03-23", "2026-03-24", "2026-04-03", "2026-04-05", "2026-05-01", "2026-05-14", "2026-05-15",
    "2026-05-27", "2026-05-28", "2026-05-31", "2026-06-01", "2026-06-16", "2026-08-17", "2026-08-25", "2026-12-24",
    "2026-12-25"]}
DAYS = {"product-type5": 41, "product-type1": 14, "person": 14, "training": 20}
STARTS = {"product-type5": ["complete"], "product-type1": ["complete"], "person": ["complete", "quota_met"],
          "training": ["complete", "quota_met", "approval_letter"]}
PAUSES = {"product-type5": ["lspro_coordination", "product_testing", "corrective_action"],
          "product-type1": ["product_testing", "corrective_action"], "person": ["competence_retest"], "training": []}
PAYMENT_PAUSES = {"product-type5", "product-type1", "training"}
SERIES = {"product-type5": Series.PRODUCT_TYPE5, "product-type1": Series.PRODUCT_TYPE1, "person": Series.PERSON,
          "training": Series.TRAINING}
CHANNELS = ["email", "post", "website", "office"]
COMPLAINT_CHANNELS = ["letter", "in_person", "email", "website", "suggestion_box", "telephone", "whatsapp"]
CONDITION_COMMAND = {"complete": "complete", "quota_met": "quota-met", "approval_letter": "approval"}


def working(d: date) -> bool:
    return d.weekday() < 5 and d not in OFF_2026


def add_wd(d: date, n: int) -> date:
    while n > 0:
        d += timedelta(days=1)
        n -= working(d)
    return d


def next_wd(d: date) -> date:
    while not working(d):
        d += timedelta(days=1)
    return d


def counted(start: date, until: date, pauses: list[tuple[date, date | None]]) -> int:
    """Working days in (start, until] on which no pause was open at the close of the day."""
    n, d = 0, start
    while d < until:
        d += timedelta(days=1)
        if working(d) and not any(p <= d and (q is None or d < q) for p, q in pauses):
            n += 1
    return n


def expected_deadline(start: date, today: date, pauses: list[tuple[date, date | None]], allowed: int) -> date:
    left = allowed - counted(start, today, pauses)
    if left > 0:
        return add_wd(today, left)
    n, d = 0, start
    while True:
        d += timedelta(days=1)
        if working(d) and not any(p <= d and (q is None or d < q) for p, q in pauses):
            n += 1
            if n == allowed:
                return d


def at(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), WIB)


def nearest_rank(values: list[int], p: float) -> int | None:
    if not values:
        return None
    s = sorted(values)
    return s[math.ceil(p / 100 * len(s)) - 1]


@dataclass
class Book:
    """What the test knows about one application, from its own plan."""

    index: int
    kind: str
    client: str
    cli: bool
    number: str = ""
    code: str = ""
    start: date | None = None
    pauses: list[tuple[date, date | None]] = field(default_factory=list)
    reported: date | None = None
    refused: bool = False
    credit: bool = False
    letter: str | None = None
    open_at_end: bool = False

    @property
    def allowed(self) -> int:
        return DAYS[self.kind] - (1 if self.credit else 0)

    @property
    def used(self) -> int:
        assert self.start is not None and self.reported is not None
        return counted(self.start, self.reported, self.pauses)


class Year:
    def __init__(self, n: int, *, seed: int = 2026, cli_every: int = 13, open_at_end: int = 6,
                 complaints: int = 42, clients: int = 45) -> None:
        self.rng = random.Random(seed)
        self.n, self.cli_every, self.open_n, self.complaints_n = n, cli_every, open_at_end, complaints
        self.clients_n = clients
        self.books: list[Book] = []
        self.heap: list[tuple[datetime, int, Callable[[], None]]] = []
        self.seq = 0
        self.checks = {"deadlines": 0, "refusals": 0, "letters": 0, "redeemed": 0, "appeals": 0, "cli_calls": 0}
        self.letters_by_client: dict[str, list[str]] = {}
        self.cases: list[dict[str, Any]] = []

    # -- plumbing --------------------------------------------------------------------------
    def at(self, moment: datetime, action: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (moment, self.seq, action))

    def run(self, *, apps: Any, complaints: Any, registry: Any, letter_env: Any, letter_folder: Path, trust: Any,
            cli: Callable[..., Any], rows_dir: Path) -> None:
        self.apps, self.complaints, self.registry = apps, complaints, registry
        self.letter_env, self.letter_folder, self.trust = letter_env, letter_folder, trust
        self.cli, self.rows_dir = cli, rows_dir
        clients = [f"PT Klien {i:02d}" for i in range(self.clients_n)]
        for i in range(self.n):
            kind = list(DAYS)[i % 4]
            book = Book(i, kind, self.rng.choice(clients), cli=i % self.cli_every == 0)
            self.books.append(book)
            day = next_wd(date(2026, 1, 5) + timedelta(days=self.rng.randrange(0, 200)))
            if i >= self.n - self.open_n:  # registered late in the year, still open at its end
                book.open_at_end = True
                day = next_wd(date(2026, 11, 2) + timedelta(days=self.rng.randrange(0, 20)))
            self.at(at(day, 8, self.rng.randrange(0, 50)), lambda b=book, d=day: self.register(b, d))
        for k in range(self.complaints_n):
            day = next_wd(date(2026, 2, 2) + timedelta(days=self.rng.randrange(0, 280)))
            self.at(at(day, 13, k % 60), lambda k=k, d=day: self.complaint(k, d))
        while self.heap:
            moment, _, action = heapq.heappop(self.heap)
            self.now = moment
            action()

    def call(self, book: Book | None, args: list[str], actor: str = "cs1", expect_ok: bool = True) -> Any:
        self.checks["cli_calls"] += 1
        result = self.cli(args, now=self.now, actor=actor)
        if expect_ok:
            assert result.exit_code == 0, (args, result.output)
        return result

    def op(self, book: Book, name: str, *args: Any, actor: str = "cs1", **kwargs: Any) -> Any:
        """One step, by the library or by the CLI for the CLI share."""
        if not book.cli:
            return getattr(self.apps, name)(book.number, *args, now=self.now, actor=actor, **kwargs)
        command = {"payment": ["payment"], "paid": ["paid"], "resume": ["resume"], "execution": ["execution"],
                   "report_refusal": ["report"]}.get(name)
        if name == "condition":
            command = [CONDITION_COMMAND[args[0]]]
        elif name == "pause":
            command = ["pause", "--reason", args[0]]
        elif name == "evaluate":
            command = ["evaluate"]
        elif name == "decide":
            command = ["decide", "--grant" if args[0] else "--refuse"]
        assert command is not None, name
        argv = ["app", command[0], book.number, *command[1:]]
        if name == "evaluate":
            argv.append(args[0])
        self.call(book, argv + ["--json"], actor=actor)
        return self.apps.get(book.number, self.now)

    # -- an application's life ---------------------------------------------------------------
    def register(self, book: Book, day: date) -> None:
        rng = self.rng
        email = f"klien{book.index}@example.id" if book.index % 3 == 0 else None
        channel = CHANNELS[book.index % 4]
        client_id = book.client.casefold()
        if book.cli:
            argv = ["app", "new", book.kind, "--client", book.client, "--channel", channel, "--json"]
            if email:
                argv += ["--email", email]
            out = json.loads(_json(self.call(book, argv)))
            book.number, book.code = out["number"], out["access_code"]
            doc = self.rows_dir / f"doc-{book.index}.pdf"
            doc.write_bytes(b"%PDF-1.4\n" + str(book.index).encode() + b"\n")
            self.call(book, ["app", "attach", book.number, str(doc)])
        else:
            from certgen.service.applications import Document, NewApplication
            import hashlib
            app, book.code = self.apps.new(NewApplication(book.kind, book.client, channel, client_id, email),
                                           now=self.now, actor="cs1")
            book.number = app.number
            body = f"doc {book.index}".encode()
            self.apps.attach(book.number, Document("permohonan.pdf", hashlib.sha256(body).hexdigest(), len(body),
                                                   "application/pdf"), now=self.now, actor="cs1")
        # an apology letter of this client, not yet redeemed, is redeemed on this application
        waiting = self.letters_by_client.get(client_id)
        if waiting:
            letter = waiting.pop(0)
            self.at(self.now + timedelta(minutes=5), lambda: self.redeem(book, letter))
        if book.open_at_end:
            if book.index % 2:
                self.at(at(add_wd(day, 1), 10), lambda: self.op(book, "condition", "complete"))
            return
        complete = add_wd(day, rng.randrange(0, 3))
        self.at(at(complete, 10), lambda: self.op(book, "condition", "complete"))
        start = complete
        for j, cond in enumerate(STARTS[book.kind][1:]):
            d = add_wd(complete, rng.randrange(0, 5))
            start = max(start, d)
            self.at(at(d, 10, 30 + j * 10), lambda c=cond: self.op(book, "condition", c))
        book.start = start
        payment = add_wd(start, rng.randrange(1, 4))
        self.at(at(payment, 14), lambda: self.payment(book, payment))

    def payment(self, book: Book, day: date) -> None:
        self.op(book, "payment")
        if book.kind in PAYMENT_PAUSES:
            book.pauses.append((day, None))
            paid = next_wd(day + timedelta(days=self.rng.randrange(1, 7)))
        else:
            paid = add_wd(day, self.rng.randrange(1, 3))
        self.at(at(paid, 9), lambda: self.paid(book, paid))

    def paid(self, book: Book, day: date) -> None:
        app = self.op(book, "paid")
        if book.pauses and book.pauses[-1][1] is None:
            book.pauses[-1] = (book.pauses[-1][0], day)
        if book.index % 17 == 1:  # paying twice is refused and changes nothing
            from certgen.service.applications import ApplicationError
            try:
                self.apps.paid(book.number, now=self.now, actor="kasir")
                raise AssertionError("paid twice")
            except ApplicationError as exc:
                assert "it cannot be paid twice" in str(exc)
                self.checks["refusals"] += 1
        self.check_deadline(book, app, day)
        execution = add_wd(day, self.rng.randrange(0, 2)) if self.rng.random() < 0.5 else day
        self.at(at(execution, 13), lambda: self.execution(book, execution))

    def execution(self, book: Book, day: date) -> None:
        auditor = f"auditor{book.index % 3}"
        self.op(book, "execution", actor=auditor)
        d = day
        reasons = PAUSES[book.kind]
        count = self.rng.choice([0, 0, 1, 1, 2]) if reasons else 0
        planned: list[tuple[date, date | None]] = []
        for _ in range(count):
            p = add_wd(d, self.rng.randrange(1, 4))
            q = add_wd(p, self.rng.randrange(1, 9))
            reason = self.rng.choice(reasons)
            self.at(at(p, 10), lambda r=reason, p=p: (self.op(book, "pause", r), book.pauses.append((p, None))))
            self.at(at(q, 9, 30), lambda q=q: self.resume(book, q))
            planned.append((p, q))
            d = q
        evaluate = add_wd(d, 1)
        self.at(at(evaluate, 15), lambda: self.op(book, "evaluate", f"evaluation of {book.number}", actor=auditor))
        # the decision: aim at a number of working days around the allowance (some late)
        target = DAYS[book.kind] + self.rng.randrange(-9, 5)
        decide = add_wd(evaluate, 1)
        while counted(book.start, decide, book.pauses + planned) < target:
            decide = add_wd(decide, 1)
        book.refused = book.index % 10 == 7
        self.at(at(decide, 9), lambda: self.decide(book, decide, auditor))

    def resume(self, book: Book, day: date) -> None:
        app = self.op(book, "resume")
        book.pauses[-1] = (book.pauses[-1][0], day)
        self.check_deadline(book, app, day)

    def check_deadline(self, book: Book, app: Any, day: date) -> None:
        expected = expected_deadline(book.start, day, book.pauses, book.allowed)
        assert app.clock.deadline == expected, (book, app.clock)
        assert app.clock.used == counted(book.start, day, book.pauses)
        self.checks["deadlines"] += 1

    def decide(self, book: Book, day: date, auditor: str) -> None:
        from certgen.service.applications import DecisionRefused
        if book.index % 9 == 4:  # the evaluator tries to decide: refused, nothing changes
            head = self.registry.head()
            if book.cli:
                r = self.call(book, ["app", "decide", book.number, "--grant"], actor=auditor, expect_ok=False)
                assert r.exit_code == 1 and "may not record the decision" in r.output
            else:
                try:
                    self.apps.decide(book.number, True, now=self.now, actor=auditor)
                    raise AssertionError("an evaluator decided")
                except DecisionRefused:
                    pass
            assert self.registry.head() == head
            self.checks["refusals"] += 1
        self.op(book, "decide", not book.refused, actor="kepala" if book.index % 2 else "wakil")
        self.at(at(day, 15), lambda: self.report(book, day))

    def report(self, book: Book, day: date) -> None:
        if book.refused:
            app = self.op(book, "report_refusal")
        elif book.cli:
            rows = self.rows_dir / f"rows-{book.index}.csv"
            rows.write_text(certificate_rows(book), encoding="utf-8")
            self.call(book, ["app", "issue", book.number, str(rows), "--workers", "1"])
            app = self.apps.get(book.number, self.now)
        else:
            series = SERIES[book.kind]
            cert = self.registry.reserve([NewCertificate(series, book.client, "SNI 0000:2026", day, None,
                                                         {"holder": book.client, "application": book.number})],
                                         now=self.now)[0]
            self.registry.mark_issued(cert.number, pdf_sha256="cd" * 32, dsc_kid="00" * 8, now=self.now, actor="cs1")
            app = self.apps.link_certificates(book.number, [cert.number], now=self.now, actor="cs1")
        book.reported = day
        assert app.closed and app.clock.used == book.used, (book, app.clock)
        assert app.clock.late == (book.used > book.allowed) and app.clock.days_late == max(0, book.used - book.allowed)
        if app.clock.late:
            self.at(at(add_wd(day, 1), 8), lambda: self.letter(book))
        if book.refused and book.index % 20 == 7:
            appeal_day = add_wd(day, 2)
            self.at(at(appeal_day, 11), lambda: self.appeal(book, appeal_day))

    def letter(self, book: Book) -> None:
        from certgen.service import letters
        if book.cli and not book.refused:  # `app issue` issued it with the late result
            number = self.apps.get(book.number, self.now).apology_letter
            assert number is not None
        elif book.cli:
            out = self.call(book, ["app", "letter", book.number]).output
            number = out.split("apology letter ", 1)[1].split(" ", 1)[0]
        else:
            number = letters.issue_apology_letter(self.apps, book.number, self.letter_env, self.letter_folder).number
        book.letter = number
        self.checks["letters"] += 1
        self.letters_by_client.setdefault(book.client.casefold(), []).append(number)

    def redeem(self, book: Book, letter: str) -> None:
        from certgen.service import letters
        if book.cli:
            self.call(book, ["app", "redeem", book.number, letter])
        else:
            text = self.registry.get(letter).seal if book.index % 2 else letter  # scanned, or typed
            letters.redeem(self.apps, book.number, text, trust=self.trust, now=self.now, actor="cs1")
        book.credit = True
        self.checks["redeemed"] += 1

    # -- complaints and appeals ----------------------------------------------------------------
    def complaint(self, k: int, day: date) -> None:
        channel = COMPLAINT_CHANNELS[k % len(COMPLAINT_CHANNELS)]
        reported = [b for b in self.books if b.reported is not None]
        subject_kind, subject = "general", None
        if k % 3 == 1 and reported:
            subject_kind, subject = "application", reported[k % len(reported)].number
        if k % 6 == 0:
            argv = ["complaints", "new", "--channel", channel, "--summary", f"keluhan {k}", "--json"]
            if subject:
                argv += ["--application", subject]
            number = json.loads(_json(self.call(None, argv)))["number"]
        else:
            number = self.complaints.register_complaint(channel=channel, summary=f"keluhan {k}", now=self.now, actor="cs1",
                                                        subject_kind=subject_kind, subject=subject).number
        case = {"number": number, "channel": channel, "type": "complaint", "received": day, "outcome": None,
                "answered": None, "closed": False}
        self.cases.append(case)
        if k % 8 == 5:
            return  # still received at the end of the year... unless it is late in the year
        review = add_wd(day, 1)
        answer = add_wd(review, self.rng.randrange(1, 20))
        outcome = ["upheld", "partly_upheld", "rejected"][k % 3]
        self.at(at(review, 9), lambda: self.complaints.review(number, now=self.now, actor="cs2"))
        self.at(at(answer, 14), lambda: self.answer(case, answer, outcome, "cs2"))
        if k % 4 != 3:
            self.at(at(add_wd(answer, 1), 9), lambda: (self.complaints.close(number, now=self.now, actor="cs2"),
                                                       case.__setitem__("closed", True)))

    def answer(self, case: dict[str, Any], day: date, outcome: str, actor: str) -> None:
        self.complaints.answer(case["number"], "Jawaban.", outcome, now=self.now, actor=actor)
        case["answered"], case["outcome"] = day, outcome

    def appeal(self, book: Book, day: date) -> None:
        from certgen.service.complaints import ComplaintError
        number = self.complaints.register_complaint(channel="letter", summary=f"banding {book.number}", type="appeal",
                                                    subject_kind="application", subject=book.number, now=self.now,
                                                    actor="cs1").number
        case = {"number": number, "channel": "letter", "type": "appeal", "received": day, "outcome": None,
                "answered": None, "closed": False}
        self.cases.append(case)
        self.complaints.review(number, now=self.now, actor="cs2")
        decider = "kepala" if book.index % 2 else "wakil"
        try:
            self.complaints.answer(number, "x", "rejected", now=self.now, actor=decider)
            raise AssertionError("the decider answered the appeal")
        except ComplaintError as exc:
            assert "may not answer the appeal" in str(exc)
        answer = add_wd(day, 3)
        self.at(at(answer, 14), lambda: self.answer(case, answer, "rejected", "panel"))
        self.checks["appeals"] += 1

    # -- the report, computed here -----------------------------------------------------------------
    def expected_report(self) -> dict[str, Any]:
        kinds = {}
        for kind in [*DAYS, "all"]:
            mine = [b for b in self.books if kind == "all" or b.kind == kind]
            done = [b for b in mine if b.reported is not None]
            used = [b.used for b in done]
            late = sum(1 for b in done if b.used > b.allowed)
            kinds[kind] = {"applications": len(mine), "reported": len(done), "open": len(mine) - len(done),
                           "median_days": float(statistics.median(used)) if used else None,
                           "p90_days": nearest_rank(used, 90), "on_time": len(done) - late, "late": late,
                           "on_time_share": round((len(done) - late) / len(done), 4) if done else None,
                           "letters_issued": sum(1 for b in mine if b.letter), "letters_redeemed": sum(1 for b in mine if b.credit),
                           "days_allowed": DAYS.get(kind)}
        by_channel = {c: sum(1 for x in self.cases if x["channel"] == c) for c in COMPLAINT_CHANNELS}
        outcomes = {o: sum(1 for x in self.cases if x["outcome"] == o) for o in ("upheld", "partly_upheld", "rejected")}
        outcomes["pending"] = sum(1 for x in self.cases if x["outcome"] is None)
        return {"kinds": kinds, "complaints_by_channel": by_channel, "complaints_by_outcome": outcomes,
                "appeals": sum(1 for x in self.cases if x["type"] == "appeal"),
                "complaints_open": sum(1 for x in self.cases if not x["closed"])}


def certificate_rows(book: Book) -> str:
    i = book.index
    if book.kind.startswith("product"):
        t = 5 if book.kind == "product-type5" else 1
        factory = ",PT Pabrik,Jl. Industri 1 Bekasi" if t == 5 else ",,"
        return ("client_name,client_address,product,brand,type_model,standard,scheme_type,factory_name,factory_address,"
                f"grant_date,expiry_date\n{book.client},Jl. Contoh {i} Jakarta,Helm,Merek{i},Tipe {i},SNI 1811:2007,{t}"
                f"{factory},2026-06-01,2029-05-31\n")
    if book.kind == "person":
        return ("name,scheme_code,scope,grant_date,expiry_date\n"
                f"Peserta {i},SKM-PMB-01,Pengambilan contoh produk,2026-06-01,2029-05-31\n")
    return ("name,course,course_code,start_date,end_date,hours,organiser\n"
            f"Peserta {i},Bimbingan teknis SNI,BT-{i},2026-06-01,2026-06-03,24,Balai Sertifikasi\n")


def _json(result: Any) -> str:
    """The JSON document of a command's output (notices may be printed on stderr around it)."""
    text = result.output
    return text[text.index("{"):text.rindex("}") + 1]
