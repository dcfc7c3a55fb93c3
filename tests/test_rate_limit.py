"""The shared rate limit (batched counts in the registry) and the bounded upload pool."""

import asyncio
import threading
import time

import pytest
from starlette.testclient import TestClient

from certgen.config import sqlite_url
from certgen.registry import Registry
from certgen.registry.counters import SharedCounters
from tests.conftest import NOW
from verify.web.app import create_app
from verify.web.config import WebConfig
from verify.web.pool import PoolFull, UploadPool
from verify.web.ratelimit import RateLimiter


class CountingStore:
    """A shared store in memory that records every call (what the database would get)."""

    def __init__(self, fail: bool = False):
        self.counts: dict[tuple[int, str], int] = {}
        self.calls: list[dict[str, int]] = []
        self.fail = fail

    def add(self, window, deltas):
        if self.fail:
            raise OSError("database unavailable")
        self.calls.append(dict(deltas))
        for key, delta in deltas.items():
            self.counts[(window, key)] = self.counts.get((window, key), 0) + delta
        return {key: self.counts[(window, key)] for key in deltas}

    def prune(self, before, prefix):
        return 0


async def _requests(limiter, client, count):
    answers = []
    for _ in range(count):
        decision = limiter.hit(client)
        if decision == RateLimiter.SYNC:
            decision = await limiter.sync(client)
        answers.append(decision)
    return answers


def test_a_few_requests_cost_no_write_of_their_own():
    store = CountingStore()
    clock = [1000.0]
    limiter = RateLimiter(100, store=store, flush_every=3600, clock=lambda: clock[0])

    async def scenario():
        for i in range(50):
            assert limiter.hit(f"198.51.100.{i}") == RateLimiter.ALLOW  # 50 visitors, 1 scan each
        assert store.calls == []
        await limiter.flush()  # the background batch: one transaction for all of them
        return store.calls

    calls = asyncio.run(scenario())
    assert len(calls) == 1 and len(calls[0]) == 50 and set(calls[0].values()) == {1}


def test_two_workers_share_one_limit():
    store = CountingStore()
    clock = [1000.0]
    first, second = (RateLimiter(100, store=store, flush_every=3600, clock=lambda: clock[0]) for _ in range(2))

    async def scenario():
        answers = []
        for _ in range(20):  # a flood alternating between two workers
            answers += await _requests(first, "203.0.113.5", 5)
            answers += await _requests(second, "203.0.113.5", 5)
        return answers

    answers = asyncio.run(scenario())
    allowed = answers.count(RateLimiter.ALLOW)
    # the limit holds over both workers, up to what they have not sent yet (sync_every - 1 each)
    assert 100 <= allowed <= 100 + 2 * (first.sync_every - 1) and len(answers) - allowed >= 80
    assert len(store.calls) <= 100 // first.sync_every + 4  # a write per sync_every requests, not per request
    # a new window starts afresh
    clock[0] += 60
    assert asyncio.run(_requests(first, "203.0.113.5", 1)) == [RateLimiter.ALLOW]
    assert 1 <= first.retry_after() <= 60


def test_an_unavailable_store_lets_requests_through_and_keeps_the_counts():
    store = CountingStore(fail=True)
    limiter = RateLimiter(10, store=store, flush_every=3600, clock=lambda: 1000.0)
    answers = asyncio.run(_requests(limiter, "203.0.113.5", 10))
    assert answers == [RateLimiter.ALLOW] * 10
    store.fail = False
    asyncio.run(limiter.flush())
    assert store.counts == {(960, "rate:203.0.113.5"): 10}
    assert asyncio.run(_requests(limiter, "203.0.113.5", 1)) == [RateLimiter.DENY]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_shared_counters_in_the_registry_add_up_across_connections(backend, tmp_path, request):
    url = sqlite_url(tmp_path / "registry.sqlite3") if backend == "sqlite" else request.getfixturevalue("postgres_url")
    one, two = Registry.open(url), Registry.open(url)
    a, b = SharedCounters(one.engine), SharedCounters(two.engine)
    assert a.add(60, {"rate:x": 3, "rate:y": 1}) == {"rate:x": 3, "rate:y": 1}
    assert b.add(60, {"rate:x": 2}) == {"rate:x": 5}
    assert b.add(120, {"rate:x": 1}) == {"rate:x": 1}
    a.add(0, {"complaint:day": 1})
    assert a.prune(120, "rate:") == 2 and a.add(120, {"rate:x": 1}) == {"rate:x": 2}
    assert a.add(0, {"complaint:day": 1}) == {"complaint:day": 2}  # another user's counters are not touched
    many = {f"rate:10.0.{i // 256}.{i % 256}": 1 for i in range(3000)}  # one batch of a busy interval
    assert set(a.add(180, many).values()) == {1} and set(b.add(180, many).values()) == {2}
    long_key = "rate:" + "x" * 400  # stored cut to 200 characters, answered under the key given
    assert a.add(180, {long_key: 1}) == {long_key: 1}
    one.close()
    two.close()


def test_two_app_instances_on_one_registry_share_the_limit(keystore, tmp_path):
    url = sqlite_url(tmp_path / "registry.sqlite3")
    Registry.open(url).close()
    config = WebConfig(trust_list=keystore.trustlist_path, root=keystore.root_cert_path, registry_url=url,
                       rate_limit_per_minute=30)
    with TestClient(create_app(config, now=lambda: NOW)) as first, TestClient(create_app(config, now=lambda: NOW)) as second:
        codes = []
        for _ in range(30):
            codes += [first.get("/api/v1/health").status_code, second.get("/api/v1/health").status_code]
        refused = second.get("/api/v1/health")
    assert 30 <= codes.count(200) <= 30 + 2 * 2 and codes.count(429) >= 26
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert "too many requests: try again in" in refused.json()["error"]


def test_static_files_do_not_count(keystore):
    config = WebConfig(trust_list=keystore.trustlist_path, root=keystore.root_cert_path, rate_limit_per_minute=3)
    with TestClient(create_app(config, now=lambda: NOW)) as client:
        assert {client.get("/static/style.css").status_code for _ in range(10)} == {200}
        assert [client.get("/api/v1/health").status_code for _ in range(4)] == [200, 200, 200, 429]


# -- the upload pool --------------------------------------------------------------------------

def test_the_pool_refuses_at_once_when_full_and_frees_the_slot_when_work_ends():
    pool = UploadPool(1)
    gate = threading.Event()

    async def scenario():
        busy = asyncio.ensure_future(pool.run(gate.wait, 5))
        await asyncio.sleep(0.05)
        assert pool.full
        with pytest.raises(PoolFull):
            await pool.run(lambda: None)
        # a request that gives up waiting does not free the slot: the thread still runs
        busy.cancel()
        await asyncio.sleep(0.05)
        assert pool.full
        gate.set()
        for _ in range(100):
            if not pool.full:
                break
            await asyncio.sleep(0.01)
        return await pool.run(lambda: "done")

    assert asyncio.run(scenario()) == "done"
    pool.close()


def test_a_full_upload_pool_answers_503_with_retry_after_at_once(keystore, monkeypatch):
    from verify.service import Verifier

    gate = threading.Event()
    entered = threading.Event()

    def slow_scan(self, data, source=None):
        entered.set()
        gate.wait(10)
        return []

    monkeypatch.setattr(Verifier, "verify_image", slow_scan)
    config = WebConfig(trust_list=keystore.trustlist_path, root=keystore.root_cert_path, rate_limit_per_minute=0,
                       upload_slots=1)
    with TestClient(create_app(config, now=lambda: NOW)) as client:
        first = threading.Thread(target=lambda: client.post("/api/v1/upload", files={"file": ("a.png", b"x" * 100)}))
        first.start()
        assert entered.wait(10)
        started = time.monotonic()
        busy = client.post("/api/v1/upload", files={"file": ("b.png", b"x" * 100)})
        page = client.post("/upload", files={"file": ("b.png", b"x" * 100)})
        waited = time.monotonic() - started
        gate.set()
        first.join(10)
        after = client.post("/api/v1/upload", files={"file": ("c.png", b"x" * 100)})
    assert busy.status_code == 503 and busy.headers["retry-after"] == "5" and "busy" in busy.json()["error"]
    assert page.status_code == 503 and "busy" in page.text
    assert waited < 5  # not after the 20 s request timeout
    assert after.status_code == 200


def test_the_web_role_keeps_the_counters_and_nothing_more(postgres_url):
    """The PostgreSQL role of the web service (certgen.registry.roles) upserts and prunes the
    shared counters and stores capped complaints, and still cannot touch anything else."""
    import psycopg
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from certgen.registry.reports import ReportCaps, ReportLimitError
    from certgen.registry.roles import grant_statements

    registry = Registry.open(postgres_url)
    url = make_url(postgres_url)
    with psycopg.connect(host=url.query["host"], port=url.query["port"], user="postgres", dbname=url.database,
                         autocommit=True) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='t_web2') THEN CREATE ROLE t_web2 LOGIN; END IF; END $$")
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='t_owner2') THEN CREATE ROLE t_owner2 LOGIN; END IF; END $$")
    with registry.engine.begin() as connection:
        for statement in grant_statements("t_web2", "t_owner2"):
            connection.execute(text(statement))
    registry.close()
    web = Registry.open(postgres_url.replace("postgres@", "t_web2@"), migrate=False)
    try:
        counters = SharedCounters(web.engine)
        assert counters.add(60, {"rate:x": 2}) == {"rate:x": 2} and counters.add(60, {"rate:x": 1}) == {"rate:x": 3}
        assert counters.prune(120, "rate:") == 1
        caps = ReportCaps(per_address=1, per_certificate=5, per_day=10)
        web.add_report(message="boleh", now=NOW, client="198.51.100.7", caps=caps)
        with pytest.raises(ReportLimitError):
            web.add_report(message="lagi", now=NOW, client="198.51.100.7", caps=caps)
        with pytest.raises(Exception, match="permission denied"), web.engine.begin() as connection:
            connection.execute(text("DELETE FROM reports"))
    finally:
        web.close()
