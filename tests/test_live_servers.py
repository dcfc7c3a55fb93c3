"""Changes live everywhere at once (issue 12, section 6): two real `certverify serve` processes on
one PostgreSQL registry, each with warm caches, see a new trust list after a rotation, a
suspension and a key revocation made through `certgen`, within 5 seconds and without a
restart: for seal pages, the seal and number API, and PDF uploads."""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import httpx
import pytest
from click.testing import CliRunner

from certgen.batch import BatchOptions, IssueEnvironment, run_batch
from certgen.cli import main
from certgen.cli_support import AppContext
from certgen.config import Settings
from certgen.keys import KeyStore
from certgen.model import DocumentKind
from certgen.registry import Registry
from tests.conftest import PASSPHRASE, TEST_KDF_ITERATIONS
from tests.live_server import live_server
from tests.test_batch import person_rows

URL = "https://verifikasi.example.id/v/"
#: The bound of issue 12: every instance answers the new verdict within this many seconds.
LIVE_WITHIN = 5.0
ISSUED_AT = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)


def _issue(folder: Path, registry: Registry, store: KeyStore, count: int, now: datetime) -> list[dict]:
    signer = store.current_signer(PASSPHRASE, now=now)
    env = IssueEnvironment(registry=registry, signer=signer, chain=[store.root_certificate()], verify_url=URL,
                           now=lambda: now, actor="tester")
    rows = person_rows(folder / "in", count)
    rows.write_text(rows.read_text(encoding="utf-8").replace(",SKM-", f" {folder.name},SKM-"), encoding="utf-8")  # new people
    run_batch(BatchOptions(DocumentKind.PERSON, rows, folder / "out", workers=1), env)
    manifest = json.loads((folder / "out" / "manifest.json").read_text())
    out = []
    for entry in manifest:
        cert = registry.get(entry["number"])
        out.append({"number": cert.number, "code": cert.seal.rsplit("/v/", 1)[1],
                    "pdf": (folder / "out" / entry["file"]).read_bytes()})
    return out


def _page_verdict(base: str, code: str) -> str:
    text = httpx.get(f"{base}/v/{code}", timeout=10).text
    return text.split('data-verdict="', 1)[1].split('"', 1)[0]


def _seal(base: str, code: str) -> tuple[str, list[str]]:
    report = httpx.get(f"{base}/api/v1/seal/{code}", timeout=10).json()
    return report["verdict"], [c["reason"] for c in report["checks"]]


def _number(base: str, number: str) -> str:
    return httpx.get(f"{base}/api/v1/number/{number}", timeout=10).json()["verdict"]


def _upload(base: str, pdf: bytes) -> tuple[str, list[str]]:
    reports = httpx.post(f"{base}/api/v1/upload", files={"file": ("c.pdf", pdf, "application/pdf")}, timeout=30).json()
    assert len(reports) == 1, reports
    return reports[0]["verdict"], [c["reason"] for c in reports[0]["checks"]]


def _within(seconds: float, check: Callable[[], bool], what: str) -> float:
    """Poll `check` until it holds; fail naming `what` after `seconds`. Returns the time taken."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            pytest.fail(f"{what}: not seen within {seconds} s")
        time.sleep(0.1)


def test_two_servers_see_rotation_suspension_and_revocation_within_five_seconds(tmp_path, postgres_url):
    store = KeyStore(tmp_path / "keys", kdf_iterations=TEST_KDF_ITERATIONS)
    store.init(PASSPHRASE, now=datetime(2026, 10, 24, tzinfo=timezone.utc), verify_urls=[URL])
    first_kid = store.signers()[0].kid.hex()
    registry = Registry.open(postgres_url)
    a, b = _issue(tmp_path / "first", registry, store, 2, ISSUED_AT)
    # the servers start from a copy of today's trust list: what they learn later comes from the registry
    started_with = tmp_path / "served" / "trustlist.json"
    started_with.parent.mkdir()
    shutil.copy(store.trustlist_path, started_with)
    settings = Settings(data_dir=tmp_path / "data", keys_dir=store.folder, registry_url=postgres_url, verify_url=URL)

    def certgen(*args: str) -> str:
        app = AppContext(settings=settings, now=lambda: datetime.now(timezone.utc),
                         environ={"CERTGEN_ACTOR": "tester", "CERTGEN_KEY_PASSPHRASE": PASSPHRASE.decode()})
        result = CliRunner().invoke(main, list(args), obj=app, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    with live_server(started_with, store.root_cert_path, postgres_url) as (one, _), \
            live_server(started_with, store.root_cert_path, postgres_url) as (two, _):
        servers = (one, two)
        for base in servers:  # warm every cache: seal pages, records, good seals
            for cert in (a, b):
                assert _page_verdict(base, cert["code"]) == "VALID"
                assert _seal(base, cert["code"])[0] == "VALID"
                assert _number(base, cert["number"]) == "VALID"
                assert _upload(base, cert["pdf"])[0] == "VALID"

        # a rotation: the new signer's seal is VALID on both once its trust list is published
        output = certgen("keys", "rotate")
        assert "trust list published to the registry" in output
        now = datetime.now(timezone.utc)
        (d,) = _issue(tmp_path / "second", registry, store, 1, now)
        for base in servers:
            _within(LIVE_WITHIN, lambda: _page_verdict(base, d["code"]) == "VALID", f"{base}: the new signer's seal page")
            assert _seal(base, d["code"])[0] == "VALID"

        # a suspension: the seal page, the seal and number API and the PDF say SUSPENDED on both
        certgen("suspend", a["number"], "--reason", "gagal surveilans")
        for base in servers:
            _within(LIVE_WITHIN, lambda: _page_verdict(base, a["code"]) == "SUSPENDED", f"{base}: the suspended seal page")
            assert _seal(base, a["code"]) == ("SUSPENDED", ["seal_valid", "seal_matches_registry", "status_suspended"])
            assert _number(base, a["number"]) == "SUSPENDED"
            assert _upload(base, a["pdf"])[0] == "SUSPENDED"
            assert _page_verdict(base, b["code"]) == "VALID"  # only the changed certificate's results went

        # a revocation of the first signer (compromised from 1 November): what it signed since is INVALID
        output = certgen("keys", "revoke", first_kid, "--at", "2026-11-01", "--reason", "kunci bocor")
        assert "trust list published to the registry" in output
        for base in servers:
            _within(LIVE_WITHIN, lambda: _page_verdict(base, b["code"]) == "INVALID", f"{base}: the revoked signer's seal page")
            verdict, reasons = _seal(base, b["code"])
            assert verdict == "INVALID" and reasons == ["seal_key_revoked"]
            verdict, reasons = _upload(base, b["pdf"])
            assert verdict == "INVALID" and "pdf_signer_revoked" in reasons, reasons
            assert _number(base, b["number"]) == "VALID"  # the record itself did not change
            assert _page_verdict(base, d["code"]) == "VALID"  # the new signer is untouched
            health = httpx.get(f"{base}/api/v1/health", timeout=10).json()
            assert health["trust_list_signers"] == 2 and "trust_list_problem" not in health
    registry.close()
