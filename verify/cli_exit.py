"""How `certverify pdf` ends: without the interpreter's teardown when it is the program itself,
and at once when stdout's reader leaves (`certverify pdf DIR | head -1`), its worker processes
ended with it rather than left to check every file still queued."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.synchronize import Event

#: How the program is started: the console script, or `python -m verify.cli`.
_PROGRAM_NAMES = frozenset({"certverify", "cli.py"})


def exit_program(code: int) -> None:
    """End `certverify pdf`. As the program itself (the console script, `python -m verify.cli`)
    the process ends without the interpreter's teardown: freeing the objects of some 2,000
    imported modules took 0.2-0.4 s after the last line, a sixth of checking 2,000 files
    (docs/benchmarks.md). Exit handlers still run and the output is flushed first. Called
    from another program (a test's CliRunner), a normal exit."""
    if os.path.basename(sys.argv[0]) not in _PROGRAM_NAMES:
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing left to say
            pass
    os._exit(code)


def reader_left() -> None:
    """Stdout's reader left: end quietly with exit code 1, as Python's guidance on SIGPIPE
    does (and click, for every other command): not every report was delivered. Stdout is
    pointed at /dev/null first, so that lines still buffered cannot fail again on exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # not a real file (a test's CliRunner): nothing to redirect
        pass
    exit_program(1)


def stop_pool(pool: ProcessPoolExecutor, stop: Event) -> None:
    """End a pool whose results nobody will read, soon. Its queued tasks are cancelled, and
    `stop`, which its workers look at before each file, makes them skip the rest of the task
    each holds: a plain `shutdown()` (as leaving a `with` block) would run every task queued.
    The workers are not killed: one killed while sending a result leaves half a message that
    the pool then waits for forever. Returns once the pool has joined its workers (after the
    file each was checking): none outlives the command."""
    stop.set()
    pool.shutdown(wait=True, cancel_futures=True)
