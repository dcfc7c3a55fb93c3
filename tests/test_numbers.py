import random

import pytest

from certgen.errors import NumberFormatError
from certgen.model import Series
from certgen.numbers import ALPHABET, CertificateNumber, check_character, parse_number


def test_number_round_trips_and_reads_typing_variants():
    number = CertificateNumber.build(Series.PERSON, 2026, 123)
    text = str(number)
    assert text == f"SK-2026-000123-{check_character('SK2026000123')}"
    assert parse_number(text) == number
    assert parse_number(" " + text.lower() + " ") == number
    # O typed for zero is read as zero
    assert parse_number(text.replace("0", "O")) == number


def _variants(text: str):
    """Every single-character substitution and adjacent swap (hyphens kept in place)."""
    chars = [i for i, c in enumerate(text) if c != "-"]
    for i in chars:
        for c in ALPHABET:
            if c != text[i] and not (text[i] == "0" and c == "0"):
                yield text[:i] + c + text[i + 1:]
    for a, b in zip(chars, chars[1:]):
        if text[a] != text[b]:
            swapped = list(text)
            swapped[a], swapped[b] = swapped[b], swapped[a]
            yield "".join(swapped)


@pytest.mark.parametrize("series", list(Series))
def test_every_single_typo_and_adjacent_swap_is_caught(series):
    rng = random.Random(7)
    for serial in [1, 9, 10, 999_999] + rng.sample(range(1, 999_999), 40):
        text = str(CertificateNumber.build(series, 2026, serial))
        for typo in _variants(text):
            with pytest.raises(NumberFormatError):
                parse_number(typo)


@pytest.mark.parametrize("text, message", [
    ("", "not a certificate number"),
    ("SK-2026-123-4", "not a certificate number"),
    ("SK2026000123X", "not a certificate number"),
    ("ZZ-2026-000123-0", "unknown series 'ZZ'"),
    ("SK-2026-000123-" + "Q", "check character does not match"),
])
def test_malformed_numbers_say_what_is_wrong(text, message):
    if message.startswith("check"):
        good = str(CertificateNumber.build(Series.PERSON, 2026, 123))
        text = good[:-1] + next(c for c in "QRSTV" if c != good[-1])
    with pytest.raises(NumberFormatError, match=message):
        parse_number(text)


def test_serial_out_of_range_is_refused():
    with pytest.raises(NumberFormatError, match="out of range"):
        CertificateNumber.build(Series.TRAINING, 2026, 1_000_000)
