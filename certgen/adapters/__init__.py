"""Fences around the two libraries whose internals certgen reaches into for speed.

Every use of a private name of ReportLab is in `certgen.adapters.reportlab`, every one of
pyHanko in `certgen.adapters.pyhanko`; each names the exact versions it was tested with. Nothing
is patched on import: `install()` of each adapter (called by the `certgen issue` command, the
benchmarks and the test session) checks the installed version and either applies the fast
path or, for a version it was not tested with, leaves the library stock (slower, still
correct) and says so once on the `certgen.adapters` logger (stderr when logging is not set up).

This package module imports no third-party library: it only records which fast paths are
active, so that signing can ask whether rendering draws signature fields without importing
any rendering code. docs/adapters.md describes the adapters and the supported versions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import metadata
from typing import Iterable, Mapping

LOGGER = logging.getLogger("certgen.adapters")


@dataclass
class FastPaths:
    """Which adapters have applied their fast path in this process (set by their `install`)."""

    #: ReportLab tuned, and signature fields can be drawn with the page (certgen.adapters.reportlab).
    reportlab: bool = False
    #: pyHanko's CMS container reused as a template per document (certgen.adapters.pyhanko).
    pyhanko: bool = False

    @property
    def signs_in_place(self) -> bool:
        """Documents are drawn with their signature field and signed in place: needs both."""
        return self.reportlab and self.pyhanko


ACTIVE = FastPaths()
_warned: set[str] = set()


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, None when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def untested(names: Iterable[str], tested: Mapping[str, frozenset[str]]) -> list[str]:
    """'name version' of each distribution of `names` whose installed version is not among
    its versions in `tested` (a name missing from `tested` has no tested version)."""
    found = {name: installed_version(name) for name in names}
    return [f"{name} {version}" for name, version in found.items() if version not in tested.get(name, frozenset())]


def warn_once(adapter: str, message: str) -> None:
    """Log `message` as a warning, once per process and adapter."""
    if adapter not in _warned:
        _warned.add(adapter)
        LOGGER.warning("%s", message)
