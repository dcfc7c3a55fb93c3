"""The boundary around third-party parsers: a time bound, and what they raise as plain text.

pyHanko, pyhanko-certvalidator, asn1crypto, OpenCV and the barcode decoders fail on hostile
files in their own ways (exceptions of every type, `AssertionError`, `RecursionError`) and
may run for a long time. The checks catch everything at one place each (verify.pdf around
validation, verify.scan around decoding) and turn it into a verdict with a reason; this
module gives them the time bound and the technical text for the JSON report.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

#: Longest text kept from an exception message (it may echo hostile bytes).
MAX_TECHNICAL = 300


class TimeBoundExceeded(Exception):
    """A guarded call ran past its time bound."""


def technical(exc: BaseException) -> str:
    """`Type: message`, printable ASCII only and bounded, for the JSON report."""
    message = str(exc)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    text = "".join(c if " " <= c <= "~" else "?" for c in text)
    return text if len(text) <= MAX_TECHNICAL else text[:MAX_TECHNICAL - 3] + "..."


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Raise `TimeBoundExceeded` inside the block once `seconds` of wall time have passed.

    Uses a POSIX interval timer, so it works in the main thread of a process only (the CLI
    and its worker processes); elsewhere (the web service's threads) it does nothing and the
    service's own bounded pool and time limits apply. A timer already running is left alone.
    """
    usable = (threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
              and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))
    if not usable:
        yield
        return

    def expire(_signum, _frame):
        raise TimeBoundExceeded(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
