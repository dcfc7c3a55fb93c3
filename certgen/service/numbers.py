"""Application and complaint numbers (`AP-2026-000123-C`, `PG-2026-000007-C`) and access codes.

The same form and check character (Luhn mod 32 over Crockford base 32) as certificate numbers
(docs/numbers.md), with series codes of their own that no certificate uses. The access code
given to an applicant is 10 random Crockford characters; only its scrypt digest (salted with the number) is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from ..errors import NumberFormatError
from ..numbers import ALPHABET, SERIAL_MAX, check_character

APPLICATION_SERIES = "AP"  # permohonan
COMPLAINT_SERIES = "PG"  # pengaduan
_TYPO_MAP = str.maketrans({"O": "0", "I": "1", "L": "1"})
_PATTERN = re.compile(r"^([A-Z]{2})-(\d{4})-(\d{6})-([0-9A-Z])$")
CODE_LENGTH = 10


def build(series: str, year: int, serial: int) -> str:
    if not 1 <= serial <= SERIAL_MAX:
        raise NumberFormatError(f"serial {serial} of series {series}-{year} is out of range 1..{SERIAL_MAX}")
    body = f"{series}{year:04d}{serial:06d}"
    return f"{series}-{year:04d}-{serial:06d}-{check_character(body)}"


def parse(text: str, series: str, what: str) -> str:
    """The canonical number, or `NumberFormatError` saying what is wrong (typos caught first)."""
    cleaned = "".join(str(text).split()).upper().translate(_TYPO_MAP)
    match = _PATTERN.match(cleaned)
    example = build(series, 2026, 123)
    if not match:
        raise NumberFormatError(f"{text!r} is not {what} number: expected the form {series}-YYYY-NNNNNN-C, e.g. {example}")
    code, year, serial, check = match.groups()
    if code != series:
        raise NumberFormatError(f"{text!r} is not {what} number: those start with {series}-")
    if check != check_character(f"{code}{year}{serial}"):
        raise NumberFormatError(f"{text!r}: the check character does not match; the number was probably mistyped")
    return f"{code}-{year}-{serial}-{check}"


def parse_application(text: str) -> str:
    return parse(text, APPLICATION_SERIES, "an application")


def parse_complaint(text: str) -> str:
    return parse(text, COMPLAINT_SERIES, "a complaint")


def new_access_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def _normal_code(code: str) -> str:
    return "".join(str(code).split()).upper().replace("-", "").translate(_TYPO_MAP)


#: scrypt cost: about 10 ms a check here. The digest is in the log (each event commits to the
#: row), so it must not be cheap to search: 2^50 codes at this cost are out of reach.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**11, 8, 1


def access_hash(number: str, code: str) -> str:
    """scrypt of the normalised code, salted with the application's number."""
    return hashlib.scrypt(_normal_code(code).encode("ascii", "replace"), salt=f"certgen-access:{number}".encode("ascii"),
                          n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32).hex()


def code_matches(number: str, code: str, stored: str) -> bool:
    return hmac.compare_digest(access_hash(number, code), stored)
