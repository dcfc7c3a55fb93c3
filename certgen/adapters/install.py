"""One call that applies both adapters at start-up (the `certgen issue` command, benchmarks, tests)."""

from __future__ import annotations

from . import ACTIVE, FastPaths


def install_all() -> FastPaths:
    """Apply the ReportLab and pyHanko fast paths where the installed versions were tested
    (each warns once otherwise); returns which are active. Call before fonts are registered
    and before a `PdfSealer` is built, in the process that forks the workers."""
    from . import pyhanko, reportlab

    reportlab.install()
    pyhanko.install()
    return ACTIVE
