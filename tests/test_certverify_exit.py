"""`certverify pdf` ends without the interpreter's teardown (verify.cli._exit): output it
could not write must still fail the run, with one clear line, never a traceback. A full disk
(/dev/full) loses every line: the run exits 1 naming it, not 0 as if all files were VALID.
Output to a file is complete."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from certgen.config import sqlite_url
from tests.test_verify import issued  # noqa: F401  (the module fixture)


def _command(issued, tmp_path, program, *, registry=True, as_json=True):  # noqa: F811
    """`certverify [--registry] pdf FOLDER [--json]` over the issued PDFs, as the console script
    or `python -m verify.cli`."""
    folder = tmp_path / "pdfs"
    folder.mkdir(exist_ok=True)
    for i, pdf in enumerate(issued["pdfs"]):
        (folder / f"{i}.pdf").write_bytes(pdf)
    keys = issued["folder"] / "keys"
    command = ([shutil.which("certverify") or "certverify"] if program == "console script"
               else [sys.executable, "-m", "verify.cli"])
    return [*command, "--trust-list", str(keys / "trustlist.json"), "--root", str(keys / "root.cert.pem"),
            "--at", "2026-11-24T10:00:00+07:00",
            *(["--registry", sqlite_url(issued["folder"] / "registry.sqlite3")] if registry else []),
            "pdf", str(folder), *(["--json"] if as_json else [])]


def _env():
    return {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("program", ["console script", "module"])
def test_output_lost_to_a_full_disk_is_not_an_all_valid_exit(issued, tmp_path, program, workers):  # noqa: F811
    with open("/dev/full", "w") as full:
        run = subprocess.run([*_command(issued, tmp_path, program), "--workers", workers], stdout=full,
                             stderr=subprocess.PIPE, text=True, env=_env(), timeout=120)
    assert run.returncode == 1, "every line was lost, yet the run said all files were VALID"
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert run.stderr.strip() == "Error: cannot write the results: No space left on device", run.stderr[-2000:]


@pytest.mark.parametrize("program", ["console script", "module"])
def test_output_to_a_file_is_complete(issued, tmp_path, program):  # noqa: F811
    out = tmp_path / "out.jsonl"
    with open(out, "w") as handle:
        run = subprocess.run([*_command(issued, tmp_path, program), "--workers", "2"], stdout=handle,
                             stderr=subprocess.PIPE, text=True, env=_env(), timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["verdict"] for line in lines[:-1]] == ["VALID"] * len(issued["pdfs"])
    assert lines[-1]["summary"]["files"] == len(issued["pdfs"])
