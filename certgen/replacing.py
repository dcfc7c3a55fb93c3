"""Renewal and correction on the issuing pipeline (docs/lifecycle.md).

A successor is a row of an ordinary input file with one more column naming the certificate it
replaces (`certgen issue KIND FILE --replaces-column COLUMN`); `certgen correct` and `certgen
renew` write such a one-row file from the old record and run the same pipeline. This module
holds what the pipeline adds for successors:

* `check_successors` (batch plan): each row against the registry: the old certificate exists,
  is of the same series, is active (not pending, suspended, withdrawn or already replaced), and
  the row changes something; errors name file, row and column like every other row error;
* `check_reserved` (issue, after numbers are reserved): the successor the registry holds for
  each old number is this row's (another process's successor with other values is refused);
* `successor_row` and `ValidityRules`: the one-row input of `certgen correct|renew`.

Where the old certificate turns replaced: `Registry.mark_issued_many`, in the transaction that
issues the successor (certgen/registry/repository.py).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping, Sequence

from .errors import CertgenError, ConfigError, NotFoundError, NumberFormatError
from .intake import COLUMNS, Intake, RowError, ValidRow
from .model import DocumentKind, Status, record_to_json
from .registry import Certificate, Registry, Reservation
from .registry.lifecycle import is_expired
from .registry.succession import CORRECTION, RENEWAL, Replacement, document_part, replace_reason, replacement_of

_CHUNK = 500  # batch keys looked up per registry round trip

#: Columns that carry a certificate's validity: a correction keeps them, a renewal sets them.
VALIDITY_COLUMNS = {DocumentKind.PRODUCT: ("grant_date", "expiry_date"),
                    DocumentKind.PERSON: ("grant_date", "expiry_date"), DocumentKind.TRAINING: ()}
#: Columns that choose the scheme (and the number series): a different scheme is a new certification.
SCHEME_COLUMNS = {DocumentKind.PRODUCT: ("scheme_type",), DocumentKind.PERSON: ("scheme_code",),
                  DocumentKind.TRAINING: ()}


class SuccessorMismatch(CertgenError):
    """The registry already holds a successor of this certificate with other values."""


@dataclass(frozen=True)
class SuccessorPlan:
    """The rows of a successor input checked against the registry."""

    intake: Intake
    #: Input row number -> what it replaces and why.
    replacements: dict[int, Replacement]


def check_successors(intake: Intake, registry: Registry, kind: DocumentKind, file: str, column: str,
                     reason: str | None, now: datetime) -> SuccessorPlan:
    """Check every valid row's old certificate; rows that fail move to the errors (see module doc)."""
    valid: list[ValidRow] = []
    errors = list(intake.errors)
    rejected = dict(intake.rejected)
    replacements: dict[int, Replacement] = {}
    successors: dict[str, Certificate] = {}  # the registry's successor of each old number, by batch key
    keys = [row.batch_key for row in intake.valid if row.replaces is not None]
    for start in range(0, len(keys), _CHUNK):
        successors.update(registry.find_by_batch_keys(keys[start:start + _CHUNK]))
    for row in intake.valid:
        if row.replaces is None:
            valid.append(row)
            continue
        try:
            replacements[row.row] = _check_row(row, registry, kind, reason, now, successors.get(row.batch_key))
            valid.append(row)
        except _RowProblem as problem:
            errors.append(RowError(file, row.row, column, str(problem)))
            rejected[row.row] = {**{k: "" if v is None else str(v) for k, v in record_to_json(row.record).items()},
                                 column: row.replaces}
    errors.sort(key=lambda e: e.row)
    return SuccessorPlan(Intake(valid, errors, rejected), replacements)


class _RowProblem(Exception):
    pass


def _check_row(row: ValidRow, registry: Registry, kind: DocumentKind, reason: str | None,
               now: datetime, found: Certificate | None) -> Replacement:
    old_number = row.replaces
    assert old_number is not None
    try:
        old = registry.get(old_number)
    except NotFoundError:
        raise _RowProblem(f"{old_number} is not in the registry") from None
    except NumberFormatError as exc:
        raise _RowProblem(str(exc)) from None
    if old.kind is not kind:
        raise _RowProblem(f"{old.number} is a {old.kind.value} certificate; a {kind.value} row cannot replace it")
    if old.series is not row.record.series:
        raise _RowProblem(f"{old.number} is of series {old.series.value}; this row would be {row.record.series.value}: "
                          f"the scheme ({', '.join(SCHEME_COLUMNS[kind])}) cannot change by renewal or correction")
    if (found is not None and found.status is Status.PENDING and old.status is Status.REPLACED
            and old.replaced_by == found.number):
        # the successor was looked up pending, then another process finished issuing it: it
        # is not stranded; read it again (an already-replaced error, or a finished rerun)
        found = registry.get(found.number)
    if found is not None and found.status is Status.PENDING and old.status in (Status.WITHDRAWN, Status.REPLACED):
        raise _RowProblem(stranded(old, found.number))  # whatever its values: it can never be issued
    if found is not None and _same(found, row):
        if found.status is not Status.PENDING and old.status is Status.REPLACED and old.replaced_by == found.number:
            return replacement_of(found.record) or _replacement(row, old, reason)  # a rerun of a finished replacement
    elif found is not None and found.status is Status.PENDING:
        raise _RowProblem(f"{old.number} already has a pending successor {found.number} (an interrupted run) with "
                          f"other values: rerun the input that started it to finish it (certgen correct and renew "
                          f"keep theirs as DATA/replacements/{old.number}-*.csv)")
    if old.status is not Status.ACTIVE:
        raise _RowProblem(not_replaceable(old))
    replacement = _replacement(row, old, reason)
    if replacement.change == CORRECTION and is_expired(old.expires, now):
        raise _RowProblem(f"{old.number} expired on {old.expires:%Y-%m-%d}; a correction keeps its validity: renew it "
                          f"instead (new grant_date and expiry_date)")
    return replacement


def stranded(old: Certificate, successor: str) -> str:
    """Why the pending successor of a certificate withdrawn or replaced since it was started can
    never be issued, and what staff do about it (docs/lifecycle.md, "Discarding")."""
    what = (f"was replaced by {old.replaced_by}" if old.status is Status.REPLACED
            else f"is {old.status.value}" + (f" ({old.status_reason})" if old.status_reason else ""))
    return (f"{old.number} {what} since its successor {successor} was started: {successor} can never be issued; "
            f"discard it (certgen discard {successor} --reason TEXT)")


def not_replaceable(old: Certificate) -> str:
    """Why `old` cannot be renewed or corrected, in the staff's words."""
    if old.status is Status.PENDING:
        return f"{old.number} is not issued yet (pending): finish its batch first"
    if old.status is Status.REPLACED:
        return f"{old.number} is already replaced by {old.replaced_by}: renew or correct {old.replaced_by} instead"
    if old.status is Status.WITHDRAWN:
        return f"{old.number} is withdrawn ({old.status_reason}); a withdrawn certificate cannot be renewed or corrected"
    if old.status is Status.SUSPENDED:
        return (f"{old.number} is suspended ({old.status_reason}); reinstate it first (or withdraw it): a successor "
                f"must not lift a suspension")
    return f"{old.number} is {old.status.value}; it cannot be renewed or corrected"


def _replacement(row: ValidRow, old: Certificate, reason: str | None) -> Replacement:
    new = document_part(record_to_json(row.record))
    before = document_part(dict(old.record))
    changed = [k for k in new if new.get(k) != before.get(k)]
    if not changed:
        raise _RowProblem(f"the row is identical to {old.number}: nothing to correct or renew")
    validity = VALIDITY_COLUMNS[old.kind]
    change = RENEWAL if any(k in validity for k in changed) else CORRECTION
    return Replacement(old.number, change, replace_reason(change, changed, reason))


def _same(cert: Certificate, row: ValidRow) -> bool:
    stored = replacement_of(cert.record)
    return (stored is not None and stored.number == row.replaces
            and document_part(dict(cert.record)) == document_part(record_to_json(row.record)))


def check_reserved(rows: Sequence[ValidRow], reservations: Sequence[Reservation], registry: Registry,
                   file: str, column: str | None) -> None:
    """After `reserve`: each successor row got the registry's successor of its old number; if that
    one has other values (another input or process started it), refuse before drawing anything."""
    keys = [row.batch_key for row, res in zip(rows, reservations) if row.replaces is not None]
    if not keys:
        return
    found: dict[str, Certificate] = {}
    for start in range(0, len(keys), _CHUNK):
        found.update(registry.find_by_batch_keys(keys[start:start + _CHUNK]))
    problems = []
    for row in rows:
        cert = found.get(row.batch_key) if row.replaces is not None else None
        if cert is not None and not _same(cert, row):
            problems.append(RowError(file, row.row, column,
                                     f"{row.replaces} already has a successor {cert.number} ({cert.status.value}) "
                                     f"with other values; finish or rerun the input that started it"))
    if problems:
        raise SuccessorMismatch("nothing issued for these rows:\n" + "\n".join(f"  {p}" for p in problems))


# -- the one-row input of `certgen correct` and `certgen renew` ---------------------------------

@dataclass(frozen=True)
class ValidityRules:
    """templates/validity.yaml: how long a renewed certificate is valid, per kind (years)."""

    years: Mapping[DocumentKind, int]

    @classmethod
    def from_config(cls, data: Any, where: str = "validity.yaml") -> "ValidityRules":
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a mapping of kind -> {{years: N}}")
        years: dict[DocumentKind, int] = {}
        for key, value in data.items():
            try:
                kind = DocumentKind(str(key))
            except ValueError:
                raise ConfigError(f"{where}: unknown kind {str(key)[:40]!r} (known: product, person)") from None
            if kind not in (DocumentKind.PRODUCT, DocumentKind.PERSON):
                raise ConfigError(f"{where}: {kind.value} certificates do not expire; they have no validity rule")
            if not isinstance(value, Mapping) or set(map(str, value)) != {"years"}:
                raise ConfigError(f"{where}: {kind.value}: expected {{years: N}}")
            n = value["years"]
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 20:
                raise ConfigError(f"{where}: {kind.value}.years: expected a whole number from 1 to 20")
            years[kind] = n
        return cls(years)

    def expiry(self, kind: DocumentKind, granted: date) -> date:
        """The last valid day of a certificate of `kind` granted on `granted`: the day before the
        same date `years` later (29 February falls back to 28 February)."""
        if kind not in self.years:
            raise ConfigError(f"validity.yaml has no rule for {kind.value} certificates: give --expires")
        year = granted.year + self.years[kind]
        day = min(granted.day, calendar.monthrange(year, granted.month)[1])
        return date.fromordinal(date(year, granted.month, day).toordinal() - 1)


def successor_row(old: Certificate, sets: Mapping[str, str], *, renew: bool, today: date,
                  expires: date | None, rules: ValidityRules | None) -> dict[str, str]:
    """The input row (column -> text) of the successor of `old`: its record, the `--set` values,
    and for a renewal the new validity (granted today in Jakarta, expiring by --expires or the rules)."""
    kind = old.kind
    if kind not in VALIDITY_COLUMNS:
        raise CertgenError(f"{old.number} is a {kind.value}, not a certificate: it cannot be renewed or corrected")
    names = [c.name for c in COLUMNS[kind]]
    for name in sets:
        if name not in names:
            raise CertgenError(f"--set {name}: not a field of a {kind.value} certificate (fields: {', '.join(names)})")
        if name in SCHEME_COLUMNS[kind]:
            raise CertgenError(f"--set {name}: the scheme cannot change by renewal or correction; issue a new certificate")
        if name in VALIDITY_COLUMNS[kind]:
            raise CertgenError(f"--set {name}: a correction keeps the validity; use `certgen renew {old.number}"
                               f"{' --expires DATE' if name == 'expiry_date' else ''}`")
    if renew and not VALIDITY_COLUMNS[kind]:
        raise CertgenError(f"{old.number} is a {kind.value} certificate: it does not expire, so there is nothing to "
                           f"renew (use `certgen correct`)")
    record = dict(old.record)
    row = {name: _cell(record.get(name)) for name in names}
    if kind is DocumentKind.PERSON and record.get("photo"):
        row["photo"] = str(record["photo"])
    row.update(sets)
    if renew:
        row["grant_date"] = today.isoformat()
        row["expiry_date"] = (expires or (rules or ValidityRules({})).expiry(kind, today)).isoformat()
    elif expires is not None:
        raise CertgenError("--expires is for renewals (certgen renew)")
    return row


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


__all__ = ["SuccessorMismatch", "SuccessorPlan", "ValidityRules", "check_reserved", "check_successors", "not_replaceable",
           "stranded", "successor_row"]
