"""One call that applies both adapters at start-up (the `certgen issue` command, benchmarks, tests)."""

from __future__ import annotations

from . import ACTIVE, FastPaths, warn_once

#: The environment variable (read by the CLI only) that switches the fast paths off.
SWITCH_VAR = "CERTGEN_ADAPTERS"


def install_all(enabled: bool = True) -> FastPaths:
    """Apply the ReportLab and pyHanko fast paths where the installed versions were tested
    (each warns once otherwise); returns which are active. Call before fonts are registered
    and before a `PdfSealer` is built, in the process that forks the workers. `enabled=False`
    (`CERTGEN_ADAPTERS=off`) keeps both libraries stock: a switch for operators who suspect
    the fast path, at the cost of speed."""
    if not enabled:
        ACTIVE.switched_off = True
        warn_once("switch", f"certgen: fast paths switched off ({SWITCH_VAR}=off): stock ReportLab and pyHanko "
                            f"(slower; CJK fallback fonts off). See docs/adapters.md.")
        return ACTIVE
    from . import pyhanko, reportlab

    reportlab.install()
    pyhanko.install()
    return ACTIVE
