"""The fast path of `/v/<seal>` and `/n` (verify.web.fast) answers byte for byte what the framework
path answers (status, every header, body), in both languages, for HEAD, for every verdict and
for hostile seals; its cached pages go when their certificate changes."""

from __future__ import annotations

import asyncio
import base64
from datetime import date, datetime, timezone
from urllib.parse import quote

import pytest

from certgen.config import sqlite_url
from certgen.keys import KeyStore
from certgen.model import DocumentKind, Series
from certgen.numbers import check_character
from certgen.registry import Issued, NewCertificate, Registry
from certgen.seal import SealClaims, seal_text, sign_seal
from tests.conftest import NOW, PASSPHRASE, TEST_KDF_ITERATIONS
from verify.web.app import create_app
from verify.web.config import WebConfig

URL = "https://verifikasi.example.id/v/"
VALID, SUSPENDED, WITHDRAWN, EXPIRED, CHANGING = range(5)


def _record(name: str, expires: date) -> dict:
    return {"name": name, "scheme_code": "SKM-PTK-03", "scheme_name": "Pengawas Mutu Barang",
            "scope": "Pengawasan mutu barang", "grant_date": "2026-11-01", "expiry_date": expires.isoformat()}


@pytest.fixture(scope="module")
def world(tmp_path_factory, keystore, signer):
    """Five issued certificates with seals (valid, suspended, withdrawn, expired, one to change)."""
    folder = tmp_path_factory.mktemp("fast")
    url = sqlite_url(folder / "registry.sqlite3")
    registry = Registry.open(url)
    expiries = [date(2029, 10, 31)] * 5
    expiries[EXPIRED] = date(2026, 11, 20)
    items = [NewCertificate(Series.PERSON, f"Peserta Nomor {i} <b>&amp;", "SKM-PTK-03", date(2026, 11, 1), expiries[i],
                            _record(f"Peserta Nomor {i} <b>&amp;", expiries[i]), f"fast-{i}") for i in range(5)]
    reserved = registry.reserve(items, now=NOW)
    issued, codes = [], []
    for r, item in zip(reserved, items):
        claims = SealClaims(r.number, DocumentKind.PERSON, item.holder, item.scheme, item.granted, item.expires,
                            "ID-BSKP", NOW)
        text = seal_text(sign_seal(claims, signer), URL)
        issued.append(Issued(r.number, "ab" * 32, None, text))
        codes.append(text.rsplit("/v/", 1)[1])
    registry.mark_issued_many(issued, dsc_kid=signer.kid.hex(), now=NOW, actor="t")
    numbers = [r.number for r in reserved]
    registry.suspend(numbers[SUSPENDED], reason="gagal surveilans <script>", now=NOW, actor="t")
    registry.withdraw(numbers[WITHDRAWN], reason="dicabut", now=NOW, actor="t")
    # a seal from a signer the trust list does not know, for a real number
    other = KeyStore(folder / "other-keys", kdf_iterations=TEST_KDF_ITERATIONS)
    other.init(PASSPHRASE, now=datetime(2026, 10, 24, tzinfo=timezone.utc))
    stranger = other.current_signer(PASSPHRASE, now=NOW)
    claims = SealClaims(numbers[VALID], DocumentKind.PERSON, items[VALID].holder, "SKM-PTK-03", date(2026, 11, 1),
                        expiries[VALID], "ID-BSKP", NOW)
    unknown = seal_text(sign_seal(claims, stranger), URL).rsplit("/v/", 1)[1]
    yield {"registry": registry, "url": url, "numbers": numbers, "codes": codes, "unknown": unknown, "keys": keystore}
    registry.close()


def _apps(world, **settings):
    keys = world["keys"]

    def make(fast: bool):
        config = WebConfig(trust_list=keys.trustlist_path, root=keys.root_cert_path, registry_url=world["url"],
                           fast_pages=fast, **{"rate_limit_per_minute": 0, **settings})
        return create_app(config, now=lambda: NOW)
    return make(True), make(False)


def _call(app, method: str, path: str, query: bytes = b"", headers: tuple = (),
          client: str = "203.0.113.9") -> tuple[int, list, bytes]:
    """One request straight through the ASGI app: the exact status, header list and body."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": quote(path).encode(), "query_string": query, "root_path": "",
             "headers": [(b"host", b"verifikasi.example.id"), *headers], "client": (client, 50000),
             "server": ("verifikasi.example.id", 80)}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    assert start["type"] == "http.response.start"
    return start["status"], [tuple(h) for h in start["headers"]], b"".join(m.get("body", b"") for m in sent[1:])


def _hostile_codes(world) -> list[str]:
    valid = world["codes"][VALID]
    flipped = valid[:40] + ("A" if valid[40] != "A" else "B") + valid[41:]
    nested = base64.b32encode(b"\x81" * 2000 + b"\x00").decode().rstrip("=")
    return [flipped, nested, "AAAAAAAAAAAAAAAA", "<script>alert(1)</script>", "not base32 at all!", "ÄÖÜ\u202e",
            valid.lower(), valid + "=="]


def _variants(path: str, query: bytes = b"") -> list[tuple[str, str, bytes, tuple]]:
    join = (lambda extra: query + b"&" + extra) if query else (lambda extra: extra)
    return [("GET", path, query, ()), ("GET", path, join(b"lang=en"), ()), ("GET", path, join(b"lang=id"), ()),
            ("GET", path, join(b"lang=xx"), ()), ("GET", path, query, ((b"cookie", b"lang=en"),)),
            ("GET", path, query, ((b"cookie", b"lang=en; other=1"),)), ("HEAD", path, query, ()),
            ("HEAD", path, join(b"lang=en"), ())]


def test_fast_pages_are_byte_identical_to_the_framework(world):
    fast, framework = _apps(world)
    numbers, codes = world["numbers"], world["codes"]
    requests = []
    for code in [*codes[:4], world["unknown"], *_hostile_codes(world)]:
        requests += _variants(f"/v/{code}")
    requests += _variants(f"/V/{codes[VALID]}")
    unknown_number = "SK-2026-000999-" + check_character("SK2026000999")
    typo = numbers[VALID][:-1] + ("X" if numbers[VALID][-1] != "X" else "Y")
    for number in [*numbers[:4], unknown_number, typo, "  ", "x" * 200]:
        requests += _variants("/n", b"number=" + quote(number).encode())
    for _round in ("first (rendered)", "second (from the page cache)"):
        for method, path, query, headers in requests:
            answered = fast.fast.answered
            mine = _call(fast, method, path, query, headers)
            theirs = _call(framework, method, path, query, headers)
            assert mine == theirs, (method, path, query, headers)
            # left to the framework: a blank number (its redirect home), a "/" in the seal (its 404)
            left = query.startswith(b"number=%20%20") or "/" in path[3:]
            assert fast.fast.answered == answered + (0 if left else 1), (path, query)
            assert framework.fast.answered == 0
    pages = fast.fast.cache
    # kept: the pages of known certificates (4 seals and 4 numbers, in their language and cookie variants)
    assert pages.count > 0 and {p.number for p in pages._pages.values()} == set(numbers[:4])
    verdicts = [_call(fast, "GET", f"/v/{codes[i]}")[2].split(b'data-verdict="')[1].split(b'"')[0] for i in range(4)]
    assert verdicts == [b"VALID", b"SUSPENDED", b"WITHDRAWN", b"EXPIRED"]
    # security headers, the cookie and HEAD as the guard gives them
    status, headers, body = _call(fast, "HEAD", f"/v/{codes[VALID]}", b"lang=en")
    names = [h[0] for h in headers]
    assert status == 200 and body == b"" and b"content-security-policy" in names and b"set-cookie" in names


def test_paths_the_fast_path_leaves_to_the_framework(world):
    fast, framework = _apps(world)
    code = world["codes"][VALID]
    for method, path, query, headers in [("GET", f"/v/{code}/", b"", ()), ("GET", "/v/", b"", ()),
                                         ("GET", f"/v/{code}/x", b"", ()), ("POST", f"/v/{code}", b"", ()),
                                         ("GET", "/n", b"", ()), ("GET", f"/v/{code}", b"", ((b"content-length", b"3"),))]:
        answered = fast.fast.answered
        assert _call(fast, method, path, query, headers) == _call(framework, method, path, query, headers)
        assert fast.fast.answered == answered, path


def test_a_cached_page_goes_when_its_certificate_changes(world):
    """With the version check held back, the page stays cached; the check drops exactly it."""
    fast, framework = _apps(world, live_interval=3600)
    registry, numbers, codes = world["registry"], world["numbers"], world["codes"]
    service = fast.fast.service
    before = _call(fast, "GET", f"/v/{codes[CHANGING]}")
    assert b'data-verdict="VALID"' in before[2]
    other = _call(fast, "GET", f"/v/{codes[VALID]}")
    kept = pages_of(service)
    assert {numbers[CHANGING], numbers[VALID]} <= kept
    registry.suspend(numbers[CHANGING], reason="pengaduan", now=NOW, actor="t")
    try:
        assert _call(fast, "GET", f"/v/{codes[CHANGING]}") == before  # not checked yet: the cached page
        service.live.poll(force=True)
        assert numbers[CHANGING] not in pages_of(service) and numbers[VALID] in pages_of(service)
        after = _call(fast, "GET", f"/v/{codes[CHANGING]}")
        assert b'data-verdict="SUSPENDED"' in after[2] and after == _call(framework, "GET", f"/v/{codes[CHANGING]}")
        assert _call(fast, "GET", f"/v/{codes[VALID]}") == other
    finally:
        registry.reinstate(numbers[CHANGING], reason="selesai", now=NOW, actor="t")
    service.live.poll(force=True)
    assert b'data-verdict="VALID"' in _call(fast, "GET", f"/v/{codes[CHANGING]}")[2]


def test_no_cached_page_is_served_when_the_version_check_fails(world, tmp_path):
    """A registry that stops answering: the cached page goes, the page says the status could not be checked."""
    import sqlite3

    keys = world["keys"]
    copy = tmp_path / "copy.sqlite3"
    with sqlite3.connect(world["url"].replace("sqlite:///", "")) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    config = WebConfig(trust_list=keys.trustlist_path, root=keys.root_cert_path, registry_url=sqlite_url(copy),
                       rate_limit_per_minute=0, live_interval=0)
    app = create_app(config, now=lambda: NOW)
    path = f"/v/{world['codes'][VALID]}"
    assert b'data-verdict="VALID"' in _call(app, "GET", path)[2] and app.fast.cache.count == 1
    with sqlite3.connect(copy) as conn:  # the tables the web reads vanish (a broken restore, say)
        conn.execute("ALTER TABLE chain_head RENAME TO gone_head")
        conn.execute("ALTER TABLE certificates RENAME TO gone_certificates")
    status, _headers, body = _call(app, "GET", path)
    assert status == 200 and b'data-verdict="INDETERMINATE"' in body and b"registry_unavailable" in body
    assert app.fast.cache.count == 0 and app.fast.service.live.problem.startswith("registry version check failed")


def test_a_page_is_never_older_than_the_cache_bound_even_when_made_from_a_kept_record(world, tmp_path):
    """CERTVERIFY_CACHE_SECONDS bounds what the pages show, not only how long a page is kept: a
    page made from a record the status cache has kept for 50 s goes 10 s later with the record,
    so a row edited behind the log's back shows within the bound (not within twice the bound)."""
    import sqlite3

    keys = world["keys"]
    copy = tmp_path / "copy.sqlite3"
    with sqlite3.connect(world["url"].replace("sqlite:///", "")) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    config = WebConfig(trust_list=keys.trustlist_path, root=keys.root_cert_path, registry_url=sqlite_url(copy),
                       rate_limit_per_minute=0, live_interval=3600, cache_seconds=60)
    app = create_app(config, now=lambda: NOW)
    moment = [0.0]
    app.fast.service.status.clock = app.fast.cache.clock = lambda: moment[0]
    number, code = world["numbers"][VALID], world["codes"][VALID]
    query = b"number=" + quote(number).encode()
    assert b'data-verdict="VALID"' in _call(app, "GET", f"/v/{code}")[2]  # the record is kept from 0 s
    with sqlite3.connect(copy) as conn:  # no event: only the cache bound can bring this out
        conn.execute("UPDATE certificates SET status = 'withdrawn' WHERE number = ?", (number,))
    moment[0] = 50.0
    assert b'data-verdict="VALID"' in _call(app, "GET", "/n", query)[2]  # made from the kept record
    moment[0] = 61.0
    assert b'data-verdict="WITHDRAWN"' in _call(app, "GET", f"/v/{code}")[2]
    assert b'data-verdict="WITHDRAWN"' in _call(app, "GET", "/n", query)[2]


def pages_of(service) -> set[str]:
    return {p.number for p in service.pages._pages.values()}


def test_the_rate_limit_applies_to_fast_pages_as_to_the_framework(world):
    """The guard counts and refuses before the fast path: the same 429 either way."""
    fast, framework = _apps(world, rate_limit_per_minute=2)
    path = f"/v/{world['codes'][VALID]}"
    mine = [_call(fast, "GET", path, client="198.51.100.1") for _ in range(3)]
    theirs = [_call(framework, "GET", path, client="198.51.100.2") for _ in range(3)]
    assert [r[0] for r in mine] == [200, 200, 429] and mine == theirs
    assert b"too many requests" in mine[2][2] and fast.fast.answered == 2
