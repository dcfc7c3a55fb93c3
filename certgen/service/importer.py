"""Applications from a spreadsheet (CSV or XLSX), with the row, column and reason errors of
certificate intake (`certgen.intake`): all rows are checked, and nothing is registered unless
every row is valid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import CertgenError
from ..intake import InputError, RowError, read_table
from .applications import NewApplication
from .rules import ServiceRules

COLUMNS = {"kind": True, "client": True, "client_id": False, "email": False, "channel": True}
MAX_ROWS = 10_000


class InvalidApplicationRows(CertgenError):
    def __init__(self, errors: list[RowError]):
        self.errors = errors
        rows = len({e.row for e in errors})
        super().__init__(f"{rows} invalid row(s), nothing registered:\n" + "\n".join(f"  {e}" for e in errors))


@dataclass(frozen=True)
class ApplicationRows:
    items: list[NewApplication]
    rows: list[int]


def read_applications(path: Path, rules: ServiceRules) -> ApplicationRows:
    """Every row checked; `InvalidApplicationRows` lists every problem with row and column."""
    errors: list[RowError] = []
    items: list[NewApplication] = []
    rows: list[int] = []
    header_checked = False
    for number, values in read_table(path):
        if not header_checked:
            header_checked = True
            present = set(values) - {"__extra__"}
            missing = [c for c, required in COLUMNS.items() if required and c not in present]
            unknown = sorted(h for h in present if h and h not in COLUMNS)
            if missing or unknown:
                parts = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + \
                        ([f"unknown column(s) {', '.join(unknown)}"] if unknown else [])
                raise InputError(f"{path}: row 1: {'; '.join(parts)} (expected: {', '.join(COLUMNS)})")
        if number - 1 > MAX_ROWS:
            raise InputError(f"{path}: more than {MAX_ROWS} rows; split the file")
        if "__extra__" in values:
            errors.append(RowError(path.name, number, None, "more values than there are columns"))
            continue
        row_errors = []
        text = {c: str(values.get(c) or "").strip() for c in COLUMNS}
        for column, required in COLUMNS.items():
            if required and not text[column]:
                row_errors.append(RowError(path.name, number, column, "missing value"))
        if text["kind"] and text["kind"] not in rules.kinds:
            row_errors.append(RowError(path.name, number, "kind", f"unknown kind {text['kind']!r} "
                                                                 f"(known: {', '.join(rules.kinds)})"))
        if text["channel"] and text["channel"] not in rules.channels:
            row_errors.append(RowError(path.name, number, "channel", f"unknown channel {text['channel']!r} "
                                                                       f"(known: {', '.join(rules.channels)})"))
        if len(text["client"]) > 200:
            row_errors.append(RowError(path.name, number, "client", f"too long: {len(text['client'])} characters, at most 200"))
        if len(text["client_id"]) > 100:
            row_errors.append(RowError(path.name, number, "client_id", "too long: at most 100 characters"))
        email = text["email"]
        if email and ("@" not in email or " " in email or len(email) > 200):
            row_errors.append(RowError(path.name, number, "email", f"{email!r} is not an email address"))
        if row_errors:
            errors.extend(row_errors)
            continue
        items.append(NewApplication(text["kind"], text["client"], text["channel"], text["client_id"] or None,
                                    email or None))
        rows.append(number)
    if not header_checked:
        raise InputError(f"{path}: no rows")
    if errors:
        raise InvalidApplicationRows(errors)
    return ApplicationRows(items, rows)
