"""`certverify pdf FOLDER | head -1`: once the reader has left, the command stops checking
files (queued tasks cancelled, workers skip the rest of theirs), ends quietly with exit code
1 (Python's guidance on SIGPIPE; click does the same for the other commands) and leaves no
worker process behind. Real processes through a real `head`; the files checked are counted by
an audit hook (sitecustomize.py on PYTHONPATH) that notes each PDF opened, in every process."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from certgen.config import sqlite_url
from tests.test_verify import issued  # noqa: F401  (the module fixture)

#: Files in the folder: 125 tasks of 16 with 2 workers (verify.cli._chunk).
FILES = 2000

#: Installed in every process of the run (workers are forked): one line per PDF opened.
_SITECUSTOMIZE = '''
import os, sys
_marker, _folder = os.environ["PIPE_TEST_MARKER"], os.environ["PIPE_TEST_FOLDER"]
def _hook(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].startswith(_folder):
        fd = os.open(_marker, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"%d\\n" % os.getpid())
        finally:
            os.close(fd)
sys.addaudithook(_hook)
'''


@pytest.fixture(scope="module")
def many(issued, tmp_path_factory):  # noqa: F811
    """FILES issued PDFs in one folder (hard links to the fixture's three)."""
    root = tmp_path_factory.mktemp("pipe")
    originals = []
    for i, pdf in enumerate(issued["pdfs"]):
        originals.append(root / f"original-{i}.pdf")
        originals[-1].write_bytes(pdf)
    folder = root / "pdfs"
    folder.mkdir()
    for i in range(FILES):
        os.link(originals[i % len(originals)], folder / f"{i:05d}.pdf")
    hook = root / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    return {"folder": folder, "hook": hook, "marker": root / "opened"}


def _command(issued, folder: Path, program: str, workers: str, as_json: bool) -> list[str]:  # noqa: F811
    keys = issued["folder"] / "keys"
    command = ([sys.executable, "-m", "verify.cli"] if program == "module"
               else [shutil.which("certverify") or "certverify"])
    return [*command, "--trust-list", str(keys / "trustlist.json"), "--root", str(keys / "root.cert.pem"),
            "--at", "2026-11-24T10:00:00+07:00", "--registry", sqlite_url(issued["folder"] / "registry.sqlite3"),
            "pdf", str(folder), "--workers", workers, *(["--json"] if as_json else [])]


def _running(folder: Path) -> list[str]:
    """Processes (not zombies) whose command line names `folder`: the run, or its workers
    (forked, with the same command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # ended meanwhile
            continue
        if str(folder).encode() in cmdline and state != "Z":
            found.append(f"{entry.name} {state} {cmdline[:120]!r}")
    return found


@pytest.mark.parametrize(("program", "workers", "as_json"),
                         [("console script", "2", True), ("module", "2", False), ("console script", "1", True)])
def test_pdf_stops_when_the_reader_leaves(issued, many, program, workers, as_json):  # noqa: F811
    many["marker"].unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(many["hook"]), str(Path(__file__).parent.parent)]),
           "PIPE_TEST_MARKER": str(many["marker"]), "PIPE_TEST_FOLDER": str(many["folder"])}
    run = subprocess.Popen(_command(issued, many["folder"], program, workers, as_json), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env)
    head = subprocess.Popen(["head", "-n", "1"], stdin=run.stdout, stdout=subprocess.PIPE)
    run.stdout.close()  # head is the only reader now
    try:
        first, _ = head.communicate(timeout=120)
        stderr = run.stderr.read()
        code = run.wait(timeout=120)
    finally:
        for process in (run, head):
            if process.poll() is None:
                process.kill()
        run.stderr.close()
    leftover = _running(many["folder"])
    opened = many["marker"].read_text().split()
    assert code == 1, stderr.decode(errors="replace")[-2000:]
    assert stderr == b"", stderr.decode(errors="replace")[-2000:]  # no traceback, no message at all
    if as_json:
        assert json.loads(first)["verdict"] == "VALID"
    else:
        assert first.decode().startswith(f"{many['folder'] / '00000.pdf'}: VALID — "), first
    assert leftover == [], leftover
    # the files checked: at least the one printed; far from all (a full run checks FILES;
    # before this fix ~100 of 2,000 were, the pool finishing the tasks it had queued)
    assert 1 <= len(opened) < FILES // 4, len(opened)
    if workers == "2":
        assert len(set(opened)) == 2, "the PDFs are opened in the two workers, not in the command"


def test_pdf_through_a_reader_that_stays_writes_everything(issued, many):  # noqa: F811
    """The counterpart: the same folder read to the end is checked whole, with its summary
    (the audit hook counts what the test above bounds)."""
    many["marker"].unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(many["hook"]), str(Path(__file__).parent.parent)]),
           "PIPE_TEST_MARKER": str(many["marker"]), "PIPE_TEST_FOLDER": str(many["folder"])}
    run = subprocess.run(_command(issued, many["folder"], "console script", "2", True), capture_output=True,
                         env=env, timeout=300)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    lines = run.stdout.decode().splitlines()
    assert json.loads(lines[-1]) == {"summary": {"files": FILES, "verdicts": {"VALID": FILES}}}
    assert len(many["marker"].read_text().split()) == FILES
    assert _running(many["folder"]) == []
