"""Checks of uploaded files in child processes, each bounded in wall-clock time (docs/deploy.md).

A hostile upload can keep pyHanko, a decoder or poppler busy for a long time, and a thread cannot
be stopped from outside: the web service therefore runs the parsing of every upload (the PDF
signature check, the barcode scan, a print sheet's pages) in a child process of its own, one per
upload slot. The parent thread waits at most `seconds` for the answer; a child that overruns is
killed with its whole process group (poppler's tools included) and replaced at once, so the slot
is free again the moment the deadline passes and the work stops costing CPU. The verifier turns
`CheckTimedOut` into an INDETERMINATE verdict with the reason `check_timed_out`.

Only module-level functions run in a child, and only the hostile part of a check: what they need
from the parent while they run (the registry's issue time of a PDF, `registry_time`) is asked
back over the pipe, so the registry, its caches and the live trust list stay in the parent.

Children are forked from a forkserver that has imported pyHanko, OpenCV and the decoders once
(`PRELOAD`), so replacing a killed child costs a fork, not a second of imports. They run at a
lower CPU priority (`NICE`) than the server, whose event loop keeps answering pages while they
work, and under an address-space limit (`MEMORY_LIMIT`). The isolation bounds time, memory and
crashes; it is not a privilege boundary (the children run as the server's user). The server's
`__main__` is imported again in each child (multiprocessing's rule): the console scripts and
`python -m verify.cli` guard their entry points.
"""

from __future__ import annotations

import importlib
import io
import multiprocessing
import os
import pickle
import queue
import resource
import signal
import time
import weakref
from multiprocessing.connection import Connection
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .boundary import technical

#: What the forkserver imports once, so that each child starts warm.
PRELOAD = ["verify.isolation", "verify.pdf", "verify.scan", "verify.pdf_pages", "verify.service"]
#: Also preloaded with the two-thread JPEG decoder on (`SandboxPool(fast_jpeg=True)`): it compiles
#: the decoder's kernels there, or loads them from numba's cache (about 135 MB, docs/deploy.md).
FAST_JPEG = "verify.jpeg_warm"
#: How much lower a child's CPU priority is than the server's.
NICE = 10
#: Address space of a child: a file that makes a library allocate without end fails there
#: (MemoryError: a verdict) instead of pushing the machine into swap. A warm child uses about
#: 530 MB of address space, 680 MB at most after rendering and scanning a print sheet.
MEMORY_LIMIT = 2 * 1024 ** 3
#: Seconds a new or replaced child may take to signal that it is ready, beyond the check's own time.
START_SECONDS = 30.0


class CheckTimedOut(Exception):
    """The isolated check ran past its wall-clock bound; its process was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the check took longer than {seconds:g} s and was stopped")
        self.seconds = seconds


class CheckCrashed(Exception):
    """The isolated check's process died or sent what cannot be read (a crash in a C library)."""


# -- pickling: certificates travel as DER -----------------------------------------------------

class _Pickler(pickle.Pickler):
    """Pickles `cryptography` certificates (which do not pickle themselves) as their DER."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, x509.Certificate):
            return _certificate, (obj.public_bytes(serialization.Encoding.DER),)
        return NotImplemented


def _exhausted(exc: BaseException) -> str:
    """What a check that met a resource limit in its child ran out of (a verdict's detail)."""
    if isinstance(exc, MemoryError):
        return f"the check ran out of memory (a child may use {MEMORY_LIMIT // 1024 ** 3} GiB)"
    return "the check nested too deeply (RecursionError)"


def _certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def _dumps(value: object) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


class _Callback:
    """Stands in a child's arguments for a parent function (asked back over the pipe)."""

    def __init__(self, index: int) -> None:
        self.index = index


# -- the child ------------------------------------------------------------------------------------

def _child_main(conn: Connection) -> None:
    """Serve calls until the pipe closes (the parent is gone or replaced this child)."""
    try:
        os.setpgrp()  # the parent kills the whole group: poppler's tools go with the child
    except OSError:
        pass
    try:
        os.nice(NICE)
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the server stops it, not its checks mid-answer
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (OSError, ValueError):
        pass
    conn.send_bytes(_dumps(("ready",)))
    while True:
        try:
            target, args, kwargs = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        module, _, name = target.partition(":")

        def ask(index: int) -> Callable[..., Any]:
            def proxy(*a: Any) -> Any:
                conn.send_bytes(_dumps(("ask", index, a)))
                kind, value = pickle.loads(conn.recv_bytes())
                if kind != "answer":
                    raise RuntimeError(value)
                return value
            return proxy

        args = tuple(ask(a.index) if isinstance(a, _Callback) else a for a in args)
        kwargs = {k: ask(v.index) if isinstance(v, _Callback) else v for k, v in kwargs.items()}
        try:
            function = getattr(importlib.import_module(module), name)
            answer: tuple = ("ok", function(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - the caller's own exceptions (ImageError...) travel back
            answer = ("raise", exc)
        try:
            payload = _dumps(answer)
        except Exception as exc:  # an exception that cannot be pickled: its text only
            payload = _dumps(("crash", technical(exc)))
        conn.send_bytes(payload)


# -- the parent -----------------------------------------------------------------------------------

def _context(fast_jpeg: bool) -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD + [FAST_JPEG] if fast_jpeg else PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


class Sandbox:
    """One child process and its pipe; one call at a time."""

    def __init__(self, fast_jpeg: bool = True) -> None:
        self.fast_jpeg = fast_jpeg
        self._process: Any = None
        self._conn: Connection | None = None
        self._ready = False
        #: Children killed (overran or died), for tests and diagnostics.
        self.killed = 0

    def start(self) -> None:
        context = _context(self.fast_jpeg)
        parent, child = context.Pipe()
        process = context.Process(target=_child_main, args=(child,), daemon=True, name="certverify-check")
        process.start()
        child.close()
        self._process, self._conn, self._ready = process, parent, False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def call(self, seconds: float, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`function(*args, **kwargs)` in the child, answered within `seconds`; callables among
        the arguments stay here and are called when the child asks."""
        if self._process is None or not self._process.is_alive():
            self.stop()
            self.start()
        assert self._conn is not None
        callbacks: list[Callable[..., Any]] = []

        def marker(value: Any) -> Any:
            if callable(value) and not isinstance(value, type):
                callbacks.append(value)
                return _Callback(len(callbacks) - 1)
            return value

        message = (f"{function.__module__}:{function.__qualname__}", tuple(marker(a) for a in args),
                   {k: marker(v) for k, v in kwargs.items()})
        if not self._ready:
            if self._receive(time.monotonic() + START_SECONDS, START_SECONDS)[0] != "ready":
                self.replace()
                raise CheckCrashed("the checking process did not start")
            self._ready = True
        payload = _dumps(message)
        deadline = time.monotonic() + seconds
        self._send(payload)
        while True:
            reply = self._receive(deadline, seconds)
            kind = reply[0]
            if kind == "ask":
                _, index, asked = reply
                try:
                    answer = _dumps(("answer", callbacks[index](*asked)))
                except Exception as exc:  # noqa: BLE001 - the child raises it in the check
                    answer = _dumps(("error", technical(exc)))
                self._send(answer)
            elif kind == "ok":
                return reply[1]
            elif kind == "raise":
                if isinstance(reply[1], (MemoryError, RecursionError)):  # a limit met, never the caller's own error
                    raise CheckCrashed(_exhausted(reply[1])) from None
                raise reply[1]
            else:
                self.replace()
                raise CheckCrashed(f"the check failed: {reply[1]}")

    def _send(self, payload: bytes) -> None:
        assert self._conn is not None
        try:
            self._conn.send_bytes(payload)
        except OSError as exc:  # the child is gone (a broken pipe)
            self.replace()
            raise CheckCrashed(f"the checking process died ({technical(exc)})") from None

    def _receive(self, deadline: float, seconds: float) -> tuple:
        assert self._conn is not None
        try:
            if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                self.replace()
                raise CheckTimedOut(seconds)
            data = self._conn.recv_bytes()
        except (EOFError, OSError) as exc:
            self.replace()
            raise CheckCrashed(f"the checking process died ({technical(exc) or 'end of file'})") from None
        try:
            reply = pickle.loads(data)
        except Exception as exc:  # noqa: BLE001 - bytes a broken child sent
            self.replace()
            raise CheckCrashed(f"the checking process sent an unreadable answer ({technical(exc)})") from None
        if not isinstance(reply, tuple) or not reply:
            self.replace()
            raise CheckCrashed("the checking process sent an unreadable answer")
        return reply

    def replace(self) -> None:
        """Kill the child (and its process group) and start a fresh one."""
        self.killed += 1
        self.stop()
        self.start()

    def stop(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return
        if process.is_alive():
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                process.kill()
        process.join(5)


class SandboxPool:
    """`slots` sandboxes, one per upload slot (verify.web.pool admits at most that many calls);
    `fast_jpeg`: their forkserver warms the two-thread JPEG decoder (verify.jpeg_speculative).
    The forkserver is one per process and keeps the preload of the first sandbox started."""

    def __init__(self, slots: int, seconds: float, fast_jpeg: bool = True) -> None:
        self.seconds = seconds
        self._idle: "queue.Queue[Sandbox]" = queue.Queue()
        self._all = [Sandbox(fast_jpeg) for _ in range(slots)]
        for sandbox in self._all:
            self._idle.put(sandbox)
        # an app dropped without its shutdown (tests) does not leave its children behind
        weakref.finalize(self, _stop_all, self._all)

    def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`function(*args, **kwargs)` in a free sandbox within `seconds` (raises `CheckTimedOut`)."""
        try:  # never waits in the web service: its upload pool admits at most `slots` calls at once
            sandbox = self._idle.get(timeout=self.seconds)
        except queue.Empty:
            raise CheckTimedOut(self.seconds) from None
        try:
            return sandbox.call(self.seconds, function, *args, **kwargs)
        finally:
            self._idle.put(sandbox)

    @property
    def killed(self) -> int:
        return sum(s.killed for s in self._all)

    def pids(self) -> list[int]:
        return [p for p in (s.pid for s in self._all) if p is not None]

    def close(self) -> None:
        _stop_all(self._all)


def _stop_all(sandboxes: list[Sandbox]) -> None:
    for sandbox in sandboxes:
        sandbox.stop()


__all__ = ["CheckCrashed", "CheckTimedOut", "Sandbox", "SandboxPool"]
