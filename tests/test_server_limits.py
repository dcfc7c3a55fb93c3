"""The HTTP server's limits, against a real `certverify serve` (uvicorn with verify.web.server's
protocol): slow clients are cut off while the verification page keeps answering; oversized
heads are refused with their own status; HEAD works wherever GET does."""

import asyncio
import time
import urllib.request

import pytest

from certgen.config import sqlite_url
from certgen.registry import Registry
from certgen.seal import seal_text, sign_seal
from tests.conftest import PASSPHRASE
from tests.live_server import live_server
from tests.test_seal import person_claims

URL = "https://verifikasi.example.id/v/"


@pytest.fixture(scope="module")
def server(keystore, tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    registry_url = sqlite_url(folder / "registry.sqlite3")
    Registry.open(registry_url).close()
    env = {"CERTVERIFY_RATE_LIMIT": "100000", "CERTVERIFY_HEADER_TIMEOUT": "1", "CERTVERIFY_BODY_TIMEOUT": "1.5"}
    code = seal_text(sign_seal(person_claims(), keystore.current_signer(PASSPHRASE)), URL).rsplit("/v/", 1)[1]
    with live_server(keystore.trustlist_path, keystore.root_cert_path, registry_url, env=env) as (base, port):
        yield {"port": port, "base": base, "code": code}


async def _exchange(port: int, data: bytes, *, trickle: float | None = None, read_for: float = 5.0) -> tuple[bytes, float]:
    """Send `data` (a byte every `trickle` seconds, if given) and read until the server closes."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send() -> None:
        try:
            if trickle is None:
                writer.write(data)
                await writer.drain()
                return
            for byte in data:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(trickle)
        except (ConnectionError, OSError):
            pass

    sender = asyncio.create_task(send())
    answer = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), read_for):
            answer += chunk
    except ConnectionResetError:
        pass
    finally:
        sender.cancel()
        writer.close()
    return answer, time.monotonic() - started


def _get(port: int, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, dict(response.headers), response.read()


def test_slow_clients_are_cut_off_and_the_page_still_answers(server):
    port, code = server["port"], server["code"]
    slow_head = b"GET /v/" + code.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    slow_body = b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"

    async def scenario():
        # 10 slow clients at once: 5 trickle their headers, 3 send nothing, 2 stall in the body
        slow = [asyncio.create_task(_exchange(port, slow_head, trickle=0.05)) for _ in range(5)]
        slow += [asyncio.create_task(_exchange(port, b"")) for _ in range(3)]
        slow += [asyncio.create_task(_exchange(port, slow_body + b'{"message": "', trickle=None)) for _ in range(2)]
        await asyncio.sleep(0.3)
        pages = [await asyncio.to_thread(_get, port, f"/v/{code}") for _ in range(10)]
        return pages, await asyncio.gather(*slow)

    pages, slow = asyncio.run(scenario())
    assert all(status == 200 and b'data-verdict="UNKNOWN"' in body for status, _, body in pages)
    for answer, seconds in slow[:8]:
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout") and b"request headers did not arrive within 1 seconds" in answer
        assert seconds < 4
    for answer, seconds in slow[8:]:
        assert answer.startswith(b"HTTP/1.1 408") and b"request body did not arrive within 1.5 seconds" in answer
    assert _get(port, f"/v/{code}")[0] == 200


def test_oversized_heads_are_refused_with_their_status(server):
    port = server["port"]

    async def scenario():
        return await asyncio.gather(
            _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (8 * 1024 * 1024) + b"\r\n\r\n"),
            _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n"),
            _exchange(port, b"GET /v/" + b"A" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"))

    big, many, long_line = asyncio.run(scenario())
    assert big[0].startswith(b"HTTP/1.1 431 ") and b"request headers larger than 16384 bytes" in big[0]
    assert many[0].startswith(b"HTTP/1.1 431 ") and b"more than 100 request header fields" in many[0]
    assert long_line[0].startswith(b"HTTP/1.1 414 ") and b"request line longer than 8192 bytes" in long_line[0]


def test_head_works_wherever_get_does(server):
    port, code = server["port"], server["code"]
    for path in (f"/v/{code}", "/", "/api/v1/health", "/api/v1/trustlist", "/static/style.css", f"/api/v1/seal/{code}"):
        status, headers, body = _get(port, path, "HEAD")
        get_status, get_headers, get_body = _get(port, path)
        assert status == get_status == 200, path
        assert body == b"" and int(headers["content-length"]) == len(get_body), path
        assert headers["x-frame-options"] == "DENY"


def test_limits_and_proxies_are_read_from_the_environment_with_clear_errors():
    from certgen.errors import ConfigError
    from verify.web.config import ServerLimits, WebConfig

    limits = ServerLimits.from_env({"CERTVERIFY_HEADER_TIMEOUT": "2.5", "CERTVERIFY_MAX_HEADER_BYTES": "4096"})
    assert limits.header_timeout == 2.5 and limits.max_header_bytes == 4096 and limits.body_timeout == 60
    with pytest.raises(ConfigError, match=r"CERTVERIFY_HEADER_TIMEOUT='soon' is not a number"):
        ServerLimits.from_env({"CERTVERIFY_HEADER_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match=r"CERTVERIFY_MAX_HEADER_BYTES='10': at least 1024 is required"):
        ServerLimits.from_env({"CERTVERIFY_MAX_HEADER_BYTES": "10"})
    config = WebConfig.from_env({"CERTVERIFY_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16,::1"})
    assert config.proxies == ("10.0.0.5", "10.1.0.0/16", "::1")
    assert WebConfig.from_env({"CERTVERIFY_TRUST_FORWARDED_FOR": "1"}).proxies == ("127.0.0.1", "::1")
    assert WebConfig.from_env({}).proxies == ()
    with pytest.raises(ConfigError, match=r"CERTVERIFY_TRUSTED_PROXIES: 'nginx' is not an IP address or network"):
        WebConfig.from_env({"CERTVERIFY_TRUSTED_PROXIES": "10.0.0.5,nginx"})
