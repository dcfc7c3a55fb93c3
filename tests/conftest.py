"""Session fixtures: a real test PKI, a frozen clock, fresh registries (SQLite and a throwaway
PostgreSQL server), and a CLI runner bound to them."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from certgen.cli_support import AppContext
from certgen.config import Settings, sqlite_url
from certgen.keys import KeyStore
from certgen.registry import Registry

DATA = Path(__file__).parent / "data"
PASSPHRASE = b"test-passphrase-0"
#: PBKDF2 cost of the tests' key files: cheap, and passed explicitly (the default is 600,000).
TEST_KDF_ITERATIONS = 1000
#: The frozen "now" of the suite: 24 November 2026, 10:00 in Jakarta.
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    """A root and one current DSC (P-256), created a month before NOW. Read-only for tests."""
    store = KeyStore(tmp_path_factory.mktemp("keys"), kdf_iterations=TEST_KDF_ITERATIONS)
    store.init(PASSPHRASE, now=datetime(2026, 10, 24, tzinfo=timezone.utc))
    return store


@pytest.fixture(scope="session")
def signer(keystore: KeyStore):
    return keystore.current_signer(PASSPHRASE, now=NOW)


@pytest.fixture
def fresh_keystore(tmp_path: Path) -> KeyStore:
    """A key store of the test's own, for tests that rotate, revoke or break keys."""
    store = KeyStore(tmp_path / "keys", kdf_iterations=TEST_KDF_ITERATIONS)
    store.init(PASSPHRASE, now=datetime(2026, 10, 24, tzinfo=timezone.utc))
    return store


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    reg = Registry.open(sqlite_url(tmp_path / "registry.sqlite3"))
    yield reg
    reg.close()


@pytest.fixture
def settings(tmp_path: Path, fresh_keystore: KeyStore) -> Settings:
    return Settings(data_dir=tmp_path / "data", keys_dir=fresh_keystore.folder,
                    registry_url=sqlite_url(tmp_path / "data" / "registry.sqlite3"))


@pytest.fixture
def cli(settings: Settings):
    """Invoke a click command with the test settings, the frozen clock and the test passphrase."""
    runner = CliRunner()

    def invoke(command, args, *, now: datetime = NOW, passphrase: bytes | None = PASSPHRASE):
        environ = {"CERTGEN_ACTOR": "tester"}
        if passphrase is not None:
            environ["CERTGEN_KEY_PASSPHRASE"] = passphrase.decode()
        app = AppContext(settings=settings, now=lambda: now, environ=environ)
        return runner.invoke(command, args, obj=app, catch_exceptions=False)

    return invoke


# -- PostgreSQL -------------------------------------------------------------------------------

def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL cluster on a Unix socket, for the suite only."""
    bindir = _pg_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries are missing: scripts/bootstrap.sh installs them")
        pytest.skip("PostgreSQL server binaries are not installed (scripts/bootstrap.sh installs them)")
    base = Path(tempfile.mkdtemp(prefix="certgen-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    datadir = base / "data"
    subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
    subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(datadir), "-w", "-l", str(base / "log"),
                    "-o", f"-k {base} -p {port} -c listen_addresses='' -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield {"host": str(base), "port": port}
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: dict[str, str]) -> str:
    """A new empty database on the throwaway server."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(host=postgres_server["host"], port=postgres_server["port"], user="postgres",
                         dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@/{name}?host={postgres_server['host']}&port={postgres_server['port']}"


@pytest.fixture(scope="session", autouse=True)
def _fast_paths():
    """The adapters' fast paths, applied once as `certgen issue` does at start-up (the stock
    paths are tested in subprocesses: tests/test_adapters.py)."""
    from certgen.adapters.install import install_all

    return install_all()


@pytest.fixture(scope="session", autouse=True)
def _warm_jpeg_decoder():
    """The two-thread JPEG decoder, warmed as the upload checks' forkserver warms it, so that every
    scan of a large photo in the suite goes through it (tests that need the one-thread path turn
    `verify.scan.SPECULATIVE` off or run a fresh process)."""
    from verify import jpeg_speculative

    jpeg_speculative.REQUIRE_FREE_CORE = False  # not on the host's load: the suite runs two workers
    return jpeg_speculative.warm()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """An issued certificate's page as a 300 dpi print (what the photos show: tests/test_jpeg_stripes.py,
    tests/test_jpeg_speculative.py)."""
    from datetime import date

    from certgen.barcode import qr_matrix
    from certgen.render.document import render_certificate
    from tests import photography as photo
    from tests.documents import person, templates_and_fonts
    from tests.test_scan import SEAL

    templates, fonts = templates_and_fonts()
    pdf = tmp_path_factory.mktemp("certificate") / "cert.pdf"
    pdf.write_bytes(render_certificate(templates, fonts, person(), "SK-2026-000123-6", qr_matrix(SEAL),
                                       date(2026, 11, 24)))
    return photo.render_page(pdf, 1)
