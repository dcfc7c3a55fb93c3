"""Every reach into pyHanko's internals that verification makes (one module, a fence as in
certgen/adapters: docs/adapters.md).

The PDF fast path (verify.pdf_fast) reads the structure of a document in the issued layout
with its own strict reader (verify.pdf_issued), whose grammar is chosen so that every token
has the reading pyHanko's reader gives it (tests/test_pdf_issued.py compares them object by
object). That equivalence is checked for the pyHanko versions in `TESTED_VERSIONS` only (the
same as certgen's pyHanko adapter; a test keeps them equal); with any other version `usable()`
is False and every PDF takes pyHanko's reader and full validation. What remains reached here
is pyHanko's own reading of a signature's /M date.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata

from pyhanko.pdf_utils import generic

#: The versions this module was tested with (certgen.adapters.TESTED["pyhanko"]).
TESTED_VERSIONS: dict[str, frozenset[str]] = {"pyHanko": frozenset({"0.38.0"}),
                                              "pyhanko-certvalidator": frozenset({"0.33.0"})}


@lru_cache(maxsize=1)
def usable() -> bool:
    """The installed pyHanko and certvalidator are versions this module was tested with."""
    for name, versions in TESTED_VERSIONS.items():
        try:
            if metadata.version(name) not in versions:
                return False
        except metadata.PackageNotFoundError:
            return False
    return True


def parse_pdf_date(value: str) -> object:
    """A PDF date as pyHanko's non-strict reader reads a signature's /M."""
    return generic.parse_pdf_date(value, strict=False)
