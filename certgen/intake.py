"""Spreadsheet rows (CSV or XLSX) -> validated records, or errors naming row, column and reason.

Every row is checked before anything is issued: missing values, bad dates, an expiry before
the grant, unknown schemes, duplicate rows, missing or unreadable photos, characters the
fonts cannot print, and text too long for the layout. `COLUMNS` is the single source of the
columns; docs/input.md documents them and a test keeps the two in agreement.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .errors import CertgenError, NumberFormatError
from .model import DocumentKind, PersonRecord, ProductRecord, Record, TrainingRecord
from .registry.succession import successor_key

MAX_ROWS = 100_000
MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PHOTO_PIXELS = 4000 * 4000
MIN_PHOTO_SIDE = 90


class InputError(CertgenError):
    """The input file as a whole cannot be read (missing, wrong format, bad header)."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | date | int | photo
    required: bool
    max_len: int
    help: str


def _c(name: str, kind: str, required: bool, max_len: int, help: str) -> Column:
    return Column(name, kind, required, max_len, help)


COLUMNS: dict[DocumentKind, tuple[Column, ...]] = {
    DocumentKind.PRODUCT: (
        _c("client_name", "text", True, 120, "certificate holder: the client company"),
        _c("client_address", "text", True, 200, "client's address"),
        _c("product", "text", True, 120, "product name"),
        _c("brand", "text", True, 60, "brand (merek)"),
        _c("type_model", "text", True, 100, "type or model"),
        _c("standard", "text", True, 60, "standard, e.g. SNI 2052:2017"),
        _c("scheme_type", "int", True, 1, "ISO/IEC 17067 scheme type: 1 or 5"),
        _c("factory_name", "text", False, 120, "factory (required for scheme type 5)"),
        _c("factory_address", "text", False, 200, "factory address (required for scheme type 5)"),
        _c("grant_date", "date", True, 10, "date of issue"),
        _c("expiry_date", "date", True, 10, "last day of validity"),
    ),
    DocumentKind.PERSON: (
        _c("name", "text", True, 80, "holder's name as it must print (single names are fine)"),
        _c("scheme_code", "text", True, 40, "scheme code, one of templates/schemes.yaml"),
        _c("scheme_name", "text", False, 120, "scheme name (default: the name in templates/schemes.yaml)"),
        _c("scope", "text", True, 200, "scope of the certification"),
        _c("grant_date", "date", True, 10, "date of issue"),
        _c("expiry_date", "date", True, 10, "last day of validity"),
        _c("photo", "photo", False, 255, "photo file (JPEG or PNG), relative to the input file or --photos"),
    ),
    DocumentKind.TRAINING: (
        _c("name", "text", True, 80, "participant's name"),
        _c("course", "text", True, 150, "course title"),
        _c("course_code", "text", True, 40, "course code"),
        _c("start_date", "date", True, 10, "first day of the course"),
        _c("end_date", "date", True, 10, "last day of the course (the certificate's date)"),
        _c("hours", "int", True, 4, "lesson hours, 1 to 1000"),
        _c("organiser", "text", True, 120, "organiser"),
        _c("place", "text", False, 80, "place"),
    ),
}


@dataclass(frozen=True)
class RowError:
    """One problem, where it is: the spreadsheet row number (header = row 1) and column."""

    file: str
    row: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}: row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class ValidRow:
    row: int
    record: Record
    #: Identity of the row's content: a rerun finds the certificate it already made.
    batch_key: str
    #: The certificate this row replaces (a successor: `--replaces-column`), canonical number.
    replaces: str | None = None


@dataclass(frozen=True)
class Intake:
    valid: list[ValidRow]
    errors: list[RowError]
    #: Raw values of the rows with errors, for the rejected-rows file.
    rejected: dict[int, dict[str, str]]


#: (record) -> [(column, reason)]: the renderer's check that values fit the layout.
FitCheck = Callable[[Record], Sequence[tuple[str, str]]]
#: (text) -> characters the fonts cannot print.
GlyphCheck = Callable[[str], Sequence[str]]


def read_table(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, {column: value}) for every non-empty row, header names normalised."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if suffix == ".csv":
        yield from _read_csv(path)
    elif suffix in (".xlsx", ".xlsm"):
        yield from _read_xlsx(path)
    else:
        raise InputError(f"{path}: not a CSV or XLSX file (by its name)")


def column_name(text: str) -> str:
    """A header cell as the intake names its column (lower case, spaces and dashes to `_`)."""
    return re.sub(r"[\s\-]+", "_", str(text or "").strip().lower())


def _header(names: Sequence[Any], path: Path) -> list[str]:
    header = [column_name(n) for n in names]
    dupes = {h for h in header if h and header.count(h) > 1}
    if dupes:
        raise InputError(f"{path}: row 1: column(s) {', '.join(sorted(dupes))} appear twice")
    return header


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); save the CSV as UTF-8") from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text.splitlines(), dialect)
    try:
        header = _header(next(reader), path)
    except StopIteration:
        raise InputError(f"{path}: the file is empty") from None
    for number, values in enumerate(reader, start=2):
        if any(v.strip() for v in values):
            if len(values) > len(header):
                extra = [v for v in values[len(header):] if v.strip()]
                if extra:
                    yield number, {"__extra__": extra}
                    continue
            yield number, dict(zip(header, values))


def _read_xlsx(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"{path}: not a readable XLSX workbook ({exc})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        try:
            header = _header(next(rows), path)
        except StopIteration:
            raise InputError(f"{path}: the first sheet is empty") from None
        for number, values in enumerate(rows, start=2):
            if any(v not in (None, "") for v in values):
                yield number, dict(zip(header, values))
    finally:
        book.close()


@dataclass(frozen=True)
class RowCheck:
    """What checking a row needs besides the row itself. Picklable, so that rows can be checked
    in the issuing worker processes (each builds its own fit and glyph checks)."""

    kind: DocumentKind
    file: str  # the input's name, as errors show it
    schemes: dict[str, str]
    photos_dir: Path


#: One checked row: the record and its batch key, or the row's errors.
CheckedRow = tuple[Record | None, str | None, list[RowError]]
Row = tuple[int, dict[str, Any]]
#: (check, rows) -> one CheckedRow per row, in order: serial (`check_rows`) or spread over processes.
RowsChecker = Callable[[RowCheck, list[Row]], list[CheckedRow]]
CHECK_CHUNK = 1000  # rows read before they are checked together


def check_rows(check: RowCheck, rows: Sequence[Row], *, fit: FitCheck, glyphs: GlyphCheck,
               normalise: Callable[[str], str] = lambda s: s) -> list[CheckedRow]:
    """Check rows on their own (duplicates across rows are `validate`'s business)."""
    columns = COLUMNS[check.kind]
    out: list[CheckedRow] = []
    for row_number, values in rows:
        if "__extra__" in values:
            out.append((None, None, [RowError(check.file, row_number, None, "more values than there are columns")]))
            continue
        record, errors = _row(check.kind, columns, values, row_number, check.file, check.schemes, check.photos_dir,
                              normalise, glyphs, fit)
        out.append((record, _batch_key(check.kind, record) if record is not None and not errors else None, errors))
    return out


def validate(path: Path, kind: DocumentKind, *, schemes: dict[str, str], check: RowsChecker,
             photos_dir: Path | None = None, replaces_column: str | None = None) -> Intake:
    """Read and check every row of `path`; nothing is issued here. `check` checks the rows
    themselves, a chunk at a time (see `check_rows`); duplicates are found here.

    With `replaces_column`, every row is a successor (renewal or correction, docs/lifecycle.md):
    that column names the certificate it replaces, checked for form here (the registry's checks
    are the batch plan's), and the row's batch key is the old number's (one successor each)."""
    columns = COLUMNS[kind]
    if replaces_column is not None:
        replaces_column = column_name(replaces_column)
        if replaces_column in {c.name for c in columns}:
            raise InputError(f"--replaces-column {replaces_column} is a column of the {kind.value} certificate itself")
    names = {c.name for c in columns} | ({replaces_column} if replaces_column else set())
    task = RowCheck(kind, path.name, schemes, photos_dir or path.parent)
    valid: list[ValidRow] = []
    errors: list[RowError] = []
    rejected: dict[int, dict[str, str]] = {}
    seen: dict[str, int] = {}
    pending: list[Row] = []

    def settle() -> None:
        if not pending:
            return
        for (row_number, values), (record, key, row_errors) in zip(pending, check(task, pending)):
            old = None
            if replaces_column is not None:
                old, problem = _replaces(values.get(replaces_column))
                if problem:
                    row_errors = [*row_errors, RowError(task.file, row_number, replaces_column, problem)]
                elif key is not None:
                    key = successor_key(old)  # type: ignore[arg-type]
            if record is not None and key is not None and not row_errors:
                if key in seen:
                    why = (f"replaces {old}, as row {seen[key]} does: a certificate has one successor" if old
                           else f"duplicate of row {seen[key]}")
                    row_errors = [RowError(task.file, row_number, replaces_column if old else None, why)]
                else:
                    seen[key] = row_number
                    valid.append(ValidRow(row_number, record, key, old))
            if row_errors:
                errors.extend(row_errors)
                rejected[row_number] = {k: _as_text(v) for k, v in values.items() if k and k != "__extra__"}
        pending.clear()

    header_checked = False
    for row_number, values in read_table(path):
        if row_number - 1 > MAX_ROWS:
            raise InputError(f"{path}: more than {MAX_ROWS} rows; split the file")
        if not header_checked:
            header_checked = True
            present = set(values) - {"__extra__"}
            missing = [c.name for c in columns if c.required and c.name not in present]
            if replaces_column is not None and replaces_column not in present:
                missing.append(f"{replaces_column} (--replaces-column)")
            unknown = sorted(h for h in present if h and h not in names)
            if missing or unknown:
                parts = []
                if missing:
                    parts.append(f"missing column(s) {', '.join(missing)}")
                if unknown:
                    parts.append(f"unknown column(s) {', '.join(unknown)}")
                raise InputError(f"{path}: row 1: {'; '.join(parts)} (expected: {', '.join(c.name for c in columns)})")
        pending.append((row_number, values))
        if len(pending) >= CHECK_CHUNK:
            settle()
    settle()
    if not header_checked:
        raise InputError(f"{path}: no rows to issue")
    return Intake(valid, errors, rejected)


def invisible_characters(text: str) -> list[str]:
    """Unicode format characters (category Cf) in `text`: bidirectional overrides and isolates,
    zero-width spaces and joiners, soft hyphens, the byte order mark. None is printed, yet each
    changes how a browser or a terminal shows the name, or makes two names that look the same
    compare different: a holder's name on the public page must read as it prints."""
    return sorted({c for c in text if unicodedata.category(c) == "Cf"})


def _replaces(value: Any) -> tuple[str | None, str | None]:
    """(canonical number, None) from a replaces-column cell, or (None, what is wrong)."""
    from .numbers import parse_number

    text = _as_text(value).strip()
    if not text:
        return None, "missing value: the number of the certificate this row replaces"
    try:
        return str(parse_number(text)), None
    except NumberFormatError as exc:
        return None, str(exc)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _row(kind: DocumentKind, columns: Sequence[Column], values: dict[str, Any], row: int, label: str,
         schemes: dict[str, str], photos_dir: Path, normalise: Callable[[str], str], glyphs: GlyphCheck,
         fit: FitCheck) -> tuple[Record | None, list[RowError]]:
    errors: list[RowError] = []
    parsed: dict[str, Any] = {}

    def err(column: str | None, reason: str) -> None:
        errors.append(RowError(label, row, column, reason))

    for col in columns:
        raw = values.get(col.name)
        text = normalise(_as_text(raw)) if col.kind != "date" or not isinstance(raw, (date, datetime)) else ""
        if col.kind == "date" and isinstance(raw, (date, datetime)):
            parsed[col.name] = raw.date() if isinstance(raw, datetime) else raw
            continue
        if not text:
            if col.required:
                err(col.name, "missing value")
            parsed[col.name] = None
            continue
        if len(text) > col.max_len:
            err(col.name, f"too long: {len(text)} characters, at most {col.max_len}")
            continue
        if col.kind == "date":
            day = _parse_date(text)
            if day is None:
                err(col.name, f"bad date {text!r}: expected YYYY-MM-DD or DD/MM/YYYY")
            parsed[col.name] = day
        elif col.kind == "int":
            if not re.fullmatch(r"\d+", text):
                err(col.name, f"{text!r} is not a whole number")
                parsed[col.name] = None
            else:
                parsed[col.name] = int(text)
        elif col.kind == "photo":
            parsed[col.name] = _check_photo(photos_dir / text, text, err)
        else:
            hidden = invisible_characters(text)
            if hidden:
                shown = ", ".join(f"U+{ord(c):04X} ({unicodedata.name(c, 'unnamed')})" for c in hidden)
                err(col.name, f"invisible formatting character(s) {shown}: they change how the text is shown "
                              "(e.g. reversed on the verification page) without being printed")
                continue
            missing = glyphs(text)
            if missing:
                shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in missing)
                err(col.name, f"cannot be printed with the template fonts: {shown}")
            parsed[col.name] = text
    if errors:
        return None, errors
    record = _build(kind, parsed, schemes, err)
    if record is None or errors:
        return None, errors
    for column, reason in fit(record):
        err(column, reason)
    return (None, errors) if errors else (record, errors)


def _build(kind: DocumentKind, p: dict[str, Any], schemes: dict[str, str], err: Callable[[str | None, str], None]) -> Record | None:
    if kind is DocumentKind.PRODUCT:
        if p["scheme_type"] not in (1, 5):
            err("scheme_type", f"unknown scheme type {p['scheme_type']}: expected 1 or 5")
            return None
        if p["scheme_type"] == 5:
            for column in ("factory_name", "factory_address"):
                if not p.get(column):
                    err(column, "missing value (required for scheme type 5)")
        if not _dates_in_order(p["grant_date"], p["expiry_date"], "expiry_date", "expiry date", "grant date", err):
            return None
        return ProductRecord(p["client_name"], p["client_address"], p["product"], p["brand"], p["type_model"],
                             p["standard"], p["scheme_type"], p["grant_date"], p["expiry_date"],
                             p.get("factory_name"), p.get("factory_address"))
    if kind is DocumentKind.PERSON:
        code = p["scheme_code"]
        if code not in schemes:
            err("scheme_code", f"unknown scheme {code!r} (known: {', '.join(sorted(schemes))})")
            return None
        if not _dates_in_order(p["grant_date"], p["expiry_date"], "expiry_date", "expiry date", "grant date", err):
            return None
        photo = p.get("photo")
        return PersonRecord(p["name"], code, p.get("scheme_name") or schemes[code], p["scope"], p["grant_date"],
                            p["expiry_date"], photo[0] if photo else None, photo[1] if photo else None)
    if not 1 <= p["hours"] <= 1000:
        err("hours", f"{p['hours']} hours is outside 1 to 1000")
        return None
    if p["end_date"] < p["start_date"]:
        err("end_date", f"end date {p['end_date']} is before the start date {p['start_date']}")
        return None
    return TrainingRecord(p["name"], p["course"], p["course_code"], p["start_date"], p["end_date"], p["hours"],
                          p["organiser"], p.get("place"))


def _dates_in_order(grant: date, expiry: date, column: str, later: str, earlier: str,
                    err: Callable[[str | None, str], None]) -> bool:
    if expiry <= grant:
        err(column, f"{later} {expiry} is not after the {earlier} {grant}")
        return False
    return True


def _parse_date(text: str) -> date | None:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _check_photo(path: Path, given: str, err: Callable[[str | None, str], None]) -> tuple[str, str] | None:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        err("photo", f"photo file {given!r} not found (looked in {path.parent})")
        return None
    data = path.read_bytes()
    if len(data) > MAX_PHOTO_BYTES:
        err("photo", f"photo {given!r} is {len(data) // 1024} KiB; at most {MAX_PHOTO_BYTES // 1024 // 1024} MiB")
        return None
    try:
        with Image.open(path) as image:
            if image.format not in ("JPEG", "PNG"):
                err("photo", f"photo {given!r} is {image.format}; use JPEG or PNG")
                return None
            width, height = image.size
            if width * height > MAX_PHOTO_PIXELS:
                err("photo", f"photo {given!r} is {width}x{height} pixels; at most {MAX_PHOTO_PIXELS} pixels")
                return None
            if min(width, height) < MIN_PHOTO_SIDE:
                err("photo", f"photo {given!r} is {width}x{height} pixels; at least {MIN_PHOTO_SIDE} on each side")
                return None
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        err("photo", f"photo {given!r} is not a readable image ({exc})")
        return None
    return str(path.resolve()), hashlib.sha256(data).hexdigest()


def _batch_key(kind: DocumentKind, record: Record) -> str:
    from .model import record_to_json

    values = record_to_json(record)
    values.pop("photo", None)  # where the photo lies does not change what is certified
    return hashlib.sha256(json.dumps([kind.value, values], sort_keys=True, ensure_ascii=False).encode()).hexdigest()
