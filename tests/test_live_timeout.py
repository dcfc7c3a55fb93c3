"""A registry that stops answering (a real PostgreSQL behind a proxy that goes silent): the
version check runs in a thread of its own with a bounded wait, so requests are never held by it;
cached pages are served meanwhile, and once the check is overdue the look-ups fail at once
(`registry_unavailable`) instead of waiting on the event loop (verify.live, docs/deploy.md)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy.engine import make_url

from certgen.registry import Registry, live
from tests.conftest import NOW, PASSPHRASE
from tests.live_server import live_server
from tests.pausable_proxy import PausableProxy
from tests.test_live_state import _issue
from verify.live import Invalidation, LiveRegistryStatus, LiveState

TIMEOUT = 1.0


@pytest.fixture
def proxied(postgres_url, postgres_server):
    """(direct registry, proxy, URL through the proxy) on a fresh PostgreSQL database."""
    registry = Registry.open(postgres_url)
    database = make_url(postgres_url).database
    with PausableProxy(f"{postgres_server['host']}/.s.PGSQL.{postgres_server['port']}") as proxy:
        yield registry, proxy, proxy.url_for(database)
    registry.close()


class Recorder:
    def __init__(self) -> None:
        self.drops: list[Invalidation] = []

    def drop(self, change: Invalidation) -> None:
        self.drops.append(change)


def test_the_check_never_holds_the_caller_and_gives_up_after_its_timeout(proxied, fresh_keystore):
    registry, proxy, url = proxied
    number, _seal = _issue(registry, fresh_keystore.current_signer(PASSPHRASE, now=NOW), "Ani")
    web = Registry.open(url, migrate=False)
    root = fresh_keystore.root_certificate()
    data = fresh_keystore.trustlist_path.read_bytes()
    status, recorder = LiveRegistryStatus(web, lambda: NOW), Recorder()
    state = LiveState(web, root, data, fresh_keystore.trust_list(), interval=0, on_trust=lambda *a: None,
                      listeners=[status, recorder], timeout=TIMEOUT, background=True)
    status.unanswered = lambda: state.stalled
    state.poll(force=True)
    state.wait()
    assert state.ok and status.lookup(number).status.value == "valid" and status.count == 1
    proxy.pause()
    waits = []
    deadline = time.monotonic() + TIMEOUT * 0.8
    while time.monotonic() < deadline:  # within the timeout: every poll returns at once, the kept record is used
        started = time.monotonic()
        state.poll()
        waits.append(time.monotonic() - started)
        assert status.lookup(number).status.value == "valid"
        time.sleep(0.02)
    assert max(waits) <= state.grace + 0.2 and sorted(waits)[-2] < 0.1  # only the first poll waited, its grace
    assert state.ok and len(recorder.drops) == 1  # the first check's drop only
    time.sleep(TIMEOUT * 0.3)
    started = time.monotonic()
    state.poll()  # overdue: counted as failed, every kept result dropped
    assert time.monotonic() - started < 0.1
    assert not state.ok and state.stalled and recorder.drops[-1].all_numbers and status.count == 0
    assert state.problem == f"registry version check failed: the registry did not answer within {TIMEOUT:g} s"
    started = time.monotonic()
    with pytest.raises(Exception, match="the registry is not answering"):  # no look-up waits for it either
        status.lookup(number)
    assert time.monotonic() - started < 0.1
    proxy.resume()  # the late answer comes, and the next check finds the registry well
    state.wait(10)
    assert not state.stalled
    state.poll()
    state.wait(10)
    assert state.ok and state.problem is None and status.lookup(number).status.value == "valid"
    web.close()


def test_a_server_keeps_answering_while_its_database_hangs(proxied, fresh_keystore):
    """A real `certverify serve` on the silent registry: the cached page and the home page keep
    coming at once; once the check is overdue the page says registry_unavailable, still at once."""
    registry, proxy, url = proxied
    root = fresh_keystore.root_certificate()
    live.publish_trust_list(registry, fresh_keystore.trustlist_path.read_bytes(), root, now=NOW, actor="t")
    _number, seal = _issue(registry, fresh_keystore.current_signer(PASSPHRASE, now=NOW), "Budi")
    path = "/v/" + seal.rsplit("/v/", 1)[1]
    env = {"CERTVERIFY_LIVE_TIMEOUT": str(TIMEOUT), "CERTVERIFY_LIVE_INTERVAL": "0.1"}
    with live_server(fresh_keystore.trustlist_path, fresh_keystore.root_cert_path, url, env=env) as (base, _port):
        with httpx.Client(base_url=base, timeout=5) as client:
            assert 'data-verdict="VALID"' in client.get(path).text  # the page is cached
            proxy.pause()
            answers = []

            def fetch(target: str) -> tuple[str, float, str]:
                started = time.monotonic()
                response = client.get(target)
                return target, time.monotonic() - started, response.text

            deadline = time.monotonic() + TIMEOUT + 1.5
            with ThreadPoolExecutor(2) as pool:
                while time.monotonic() < deadline:
                    answers += list(pool.map(fetch, [path, "/"]))
                    time.sleep(0.05)
            # before, the first version check held the event loop until the database answered (never, here)
            assert max(took for _t, took, _b in answers) < 2.0, [(t, round(s, 3)) for t, s, _ in answers]
            pages = [body for target, _s, body in answers if target == path]
            assert 'data-verdict="VALID"' in pages[0]  # from the cache, while the check is not yet overdue
            assert 'data-verdict="INDETERMINATE"' in pages[-1] and "registry_unavailable" in pages[-1]
            health = client.get("/api/v1/health")
            assert health.status_code == 503 and health.json()["registry"] == "unavailable"
            assert "did not answer within 1 s" in health.json()["trust_list_problem"]
            proxy.resume()
            deadline = time.monotonic() + 10
            while 'data-verdict="VALID"' not in client.get(path).text:
                assert time.monotonic() < deadline, "the server did not recover after the database answered again"
                time.sleep(0.1)
