"""Fences around the two libraries whose internals certgen reaches into (docs/adapters.md).

Every use of a private name of ReportLab is in `certgen.adapters.reportlab`, every one of
pyHanko in `certgen.adapters.pyhanko`; `TESTED` names the exact versions each was tested with.
Two kinds of reach-in, two rules:

* local ones (a signature field drawn with the page, the CJK fallback fonts' methods on a font
  object, pyHanko's CMS container reused as a template) are used only while `usable(adapter)`:
  the installed versions are tested ones and the fast paths are not switched off;
* process-wide patches of ReportLab (streams, text encoding, font subsets) are applied only by
  an explicit `install()` (the `certgen issue` command, the benchmarks, the test session),
  never on import.

With a version that was not tested, `install()` leaves the library stock (slower, still
correct), and says so once on the `certgen.adapters` logger (stderr when logging is not set up).

This module imports no third-party library, so that signing can ask whether documents are
signed in place without importing any rendering code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import metadata
from typing import Iterable, Mapping

LOGGER = logging.getLogger("certgen.adapters")

#: The exact versions each adapter was tested with; any other gets the stock path.
TESTED: dict[str, dict[str, frozenset[str]]] = {
    "reportlab": {"reportlab": frozenset({"5.1.0"})},
    "pyhanko": {"pyHanko": frozenset({"0.38.0"}), "pyhanko-certvalidator": frozenset({"0.33.0"})},
}


@dataclass
class FastPaths:
    """Which adapters have patched their library in this process (set by their `install`)."""

    #: ReportLab's process-wide patches applied (certgen.adapters.reportlab.install).
    reportlab: bool = False
    #: pyHanko's versions checked by certgen.adapters.pyhanko.install (it patches nothing).
    pyhanko: bool = False
    #: Switched off by `CERTGEN_ADAPTERS=off`: every library stock, no local reach-in either.
    switched_off: bool = False

    @property
    def signs_in_place(self) -> bool:
        """Documents are drawn with their signature field and signed in place: both usable."""
        return usable("reportlab") and usable("pyhanko")


ACTIVE = FastPaths()
_warned: set[str] = set()
_overrides: dict[str, Mapping[str, frozenset[str]]] = {}
_untested_cache: dict[str, list[str]] = {}


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


def untested_versions(adapter: str) -> list[str]:
    """The installed distributions `adapter` was not tested with ('name version'); looked up
    once per process (and again after `override`)."""
    found = _untested_cache.get(adapter)
    if found is None:
        found = _untested_cache[adapter] = untested(TESTED[adapter], _overrides.get(adapter, TESTED[adapter]))
    return list(found)


def override(adapter: str, tested: Mapping[str, frozenset[str]]) -> None:
    """Judge `adapter` against `tested` instead of `TESTED` (tests of the stock path)."""
    _overrides[adapter] = dict(tested)
    _untested_cache.pop(adapter, None)


def usable(adapter: str) -> bool:
    """The adapter's reach-ins may be used: tested versions, fast paths not switched off."""
    return not ACTIVE.switched_off and not untested_versions(adapter)


def warn_once(adapter: str, message: str) -> None:
    """Log `message` as a warning, once per process and adapter."""
    if adapter not in _warned:
        _warned.add(adapter)
        LOGGER.warning("%s", message)
