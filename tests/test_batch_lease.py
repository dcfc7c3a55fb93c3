"""The registry's batch lease (certgen/registry/leases.py) with two registries on one database,
on SQLite and on a real PostgreSQL: one holder at a time, takeover of an expired lease or of a
dead holder on the same host, renewal while running."""

import subprocess
import sys
import threading
import time

import pytest

from certgen.config import sqlite_url
from certgen.registry import Registry
from certgen.registry.leases import BatchLease, LeaseLost, this_host

NAME = "input:" + "ab" * 32


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "registry.sqlite3")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def two(url):
    """Two registries on one database, as two machines would open it."""
    first, second = Registry.open(url), Registry.open(url)
    yield first, second
    first.close()
    second.close()


def _until(condition, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_one_holder_at_a_time(two):
    a = BatchLease(two[0], NAME, host="alpha/1", pid=101)
    b = BatchLease(two[1], NAME, host="beta/2", pid=202)
    assert a.try_acquire() is None
    holder = b.try_acquire()
    assert (holder.holder, holder.host, holder.pid) == (a.holder, "alpha/1", 101)
    assert holder.expires_at > holder.acquired_at
    assert b.acquire(wait=False) is not None  # no waiting: who holds it, not the lease
    a.check()
    with pytest.raises(LeaseLost, match="is not held"):
        b.check()
    a.release()
    assert b.try_acquire() is None and b.holder_info().holder == b.holder
    b.release()
    assert a.holder_info() is None


def test_many_at_once_one_wins(url):
    registries = [Registry.open(url) for _ in range(6)]
    leases = [BatchLease(r, NAME, host=f"host-{i}/0", pid=1000 + i) for i, r in enumerate(registries)]
    barrier = threading.Barrier(len(leases))
    results: list = [None] * len(leases)

    def race(i: int) -> None:
        barrier.wait()
        results[i] = leases[i].try_acquire()

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(leases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1
    assert all(r.holder == leases[winners[0]].holder for r in results if r is not None)
    for r in registries:
        r.close()


def test_an_expired_lease_is_taken_over_and_its_old_holder_knows(two):
    """The holder stopped renewing (a stalled or dead machine): after the expiry, by the
    database's clock, another takes it; the old holder's renew and check then fail."""
    a = BatchLease(two[0], NAME, seconds=1, host="alpha/1", pid=101)
    b = BatchLease(two[1], NAME, host="beta/2", pid=202)
    assert a.try_acquire() is None
    assert b.try_acquire() is not None
    assert _until(lambda: b.try_acquire() is None)
    assert not a.renew()
    with pytest.raises(LeaseLost, match=r"was taken over by process 202 on beta since"):
        a.check()
    a.release()  # releasing a lease that is no longer ours leaves the new holder alone
    assert b.holder_info().holder == b.holder


def test_a_dead_holder_on_this_host_is_taken_over_at_once(two):
    """A batch killed on this machine: its process is gone, so the next run need not wait for
    the expiry. A holder with the same process id on another host is not this host's to judge."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)
    elsewhere = BatchLease(two[0], NAME, host="elsewhere/9", pid=pid)
    assert elsewhere.try_acquire() is None
    here = BatchLease(two[1], NAME)
    assert here.try_acquire().host == "elsewhere/9"
    elsewhere.release()
    killed = BatchLease(two[0], NAME, host=this_host(), pid=pid)
    assert killed.try_acquire() is None
    assert here.try_acquire() is None and here.holder_info().pid == here.pid


def test_a_running_holder_keeps_its_lease_by_renewing_it(two):
    a = BatchLease(two[0], NAME, seconds=1.5, host="alpha/1", pid=101)
    b = BatchLease(two[1], NAME, host="beta/2", pid=202)
    assert a.acquire(wait=False) is None  # starts renewing every 0.5 s
    first_expiry = a.holder_info().expires_at
    time.sleep(2.5)
    assert b.try_acquire() is not None
    assert a.holder_info().expires_at > first_expiry
    a.check()
    told = []
    waiter = threading.Thread(target=lambda: told.append(b.acquire(wait=True, on_wait=told.append, poll=0.1)))
    waiter.start()
    assert _until(lambda: len(told) == 1)  # told once who holds it, then waits
    assert told[0].holder == a.holder
    a.release()
    waiter.join(timeout=30)
    assert told[1] is None and b.holder_info().holder == b.holder
    b.release()
