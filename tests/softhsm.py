"""A real PKCS#11 token for the tests: SoftHSM2 (Debian `softhsm2`), set up by the suite itself.

One token per test process (each pytest-xdist worker has its own): SoftHSM2 reads its token
folder when the library is initialised, so the configuration is written and exported before
anything loads the module, and tests tell their keys apart by id, not by token."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

MODULE_CANDIDATES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                     "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so")
TOKEN = "certgen-test"
PIN = "4711-0815"
SO_PIN = "so-pin-12345"


@dataclass(frozen=True)
class SoftHsm:
    module: str
    token: str
    pin: str
    conf: Path


def module_path() -> str | None:
    return next((m for m in MODULE_CANDIDATES if Path(m).is_file()), None)


def init_token(folder: Path, label: str = TOKEN, pin: str = PIN) -> SoftHsm:
    """Write a SoftHSM2 configuration in `folder`, point SOFTHSM2_CONF at it (this process and
    its children) and initialise a token labelled `label`."""
    module = module_path()
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.fail("SoftHSM2 is not installed: `apt-get install softhsm2` (scripts/bootstrap.sh)")
    tokens = folder / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", pin],
                   check=True, capture_output=True, env={**os.environ, "SOFTHSM2_CONF": str(conf)})
    return SoftHsm(module, label, pin, conf)


_made: list[SoftHsm] = []


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    """The test process's token (session-wide: see the module docstring). Made once per process
    whichever test module asks first: each module importing the fixture has its own session
    fixture, and a second token would move SOFTHSM2_CONF away from the one the library was
    initialised with (a forked worker would then not find a key the parent just generated)."""
    if not _made:
        _made.append(init_token(tmp_path_factory.mktemp("softhsm")))
    return _made[0]
