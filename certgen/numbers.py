"""Certificate numbers: `SS-YYYY-NNNNNN-C`, human-typable, with a check character.

`SS` is the series (`certgen.model.Series`), `YYYY` the year of issue, `NNNNNN` a serial
allocated by the registry, `C` a check character computed with the Luhn mod N algorithm over
the Crockford base-32 alphabet. It catches every single mistyped character and every swap of
two adjacent characters, so a typo is rejected before any registry look-up. The normative
description is in docs/numbers.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import NumberFormatError
from .model import Series

#: Crockford base 32: digits and upper-case letters without I, L, O, U (no look-alikes).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
#: Readers type O for 0 and I or L for 1: accepted on input, as Crockford intends.
_TYPO_MAP = str.maketrans({"O": "0", "I": "1", "L": "1"})
_PATTERN = re.compile(r"^([A-Z0-9]{2})-(\d{4})-(\d{6})-([0-9A-Z])$")
SERIAL_MAX = 999_999


def check_character(payload: str) -> str:
    """Luhn mod 32 check character of `payload` (characters of `ALPHABET`)."""
    factor = 2
    total = 0
    n = len(ALPHABET)
    for char in reversed(payload):
        addend = factor * _VALUE[char]
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


@dataclass(frozen=True, order=True)
class CertificateNumber:
    """A parsed, checked certificate number."""

    series: Series
    year: int
    serial: int

    def __str__(self) -> str:
        body = f"{self.series.value}{self.year:04d}{self.serial:06d}"
        return f"{self.series.value}-{self.year:04d}-{self.serial:06d}-{check_character(body)}"

    @classmethod
    def build(cls, series: Series, year: int, serial: int) -> "CertificateNumber":
        """A new number; rejects a serial or year outside the printed width."""
        if not 1 <= serial <= SERIAL_MAX:
            raise NumberFormatError(f"serial {serial} of series {series.value}-{year} is out of range 1..{SERIAL_MAX}")
        if not 2000 <= year <= 9999:
            raise NumberFormatError(f"year {year} is out of range")
        return cls(series, year, serial)


def parse_number(text: str) -> CertificateNumber:
    """Parse a typed number; raises `NumberFormatError` saying what is wrong.

    Spaces are ignored, lower case is accepted, and O, I and L are read as 0, 1 and 1.
    """
    cleaned = "".join(text.split()).upper().translate(_TYPO_MAP)
    match = _PATTERN.match(cleaned)
    if not match:
        raise NumberFormatError(
            f"{text!r} is not a certificate number: expected the form SS-YYYY-NNNNNN-C, e.g. SK-2026-000123-7"
        )
    series_code, year, serial, check = match.groups()
    try:
        series = Series(series_code)
    except ValueError:
        codes = ", ".join(s.value for s in Series)
        raise NumberFormatError(f"{text!r}: unknown series {series_code!r} (known: {codes})") from None
    expected = check_character(f"{series.value}{year}{serial}")
    if check != expected:
        raise NumberFormatError(
            f"{text!r}: the check character does not match; the number was probably mistyped"
        )
    return CertificateNumber(series, int(year), int(serial))
