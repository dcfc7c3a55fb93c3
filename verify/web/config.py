"""Web service settings: built from the environment by `certverify serve` (docs/deploy.md)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, TypeVar

from certgen.errors import ConfigError

T = TypeVar("T")
#: What `--proxy-headers` / CERTVERIFY_TRUST_FORWARDED_FOR=1 trust: a proxy on the same machine.
LOOPBACK = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class WebConfig:
    trust_list: Path
    root: Path
    #: Registry database URL; None serves seal checks only ("status not checked").
    registry_url: str | None = None
    max_upload_bytes: int = 10 * 1024 * 1024
    #: Requests per minute per client address, over every worker and instance; 0 switches it off.
    rate_limit_per_minute: int = 120
    request_timeout_seconds: float = 20.0
    #: Legacy switch: trust X-Forwarded-For from a proxy on this machine (same as LOOPBACK below).
    trust_forwarded_for: bool = False
    #: Addresses or networks (CIDR) of the reverse proxies whose X-Forwarded-For is believed; the
    #: client is the right-most address in it that is not one of them.
    trusted_proxies: tuple[str, ...] = ()
    #: Complaint caps per Jakarta day: from one address, about one certificate, in all.
    reports_per_address: int = 5
    reports_per_certificate: int = 20
    reports_per_day: int = 500
    #: Uploads checked at once per worker process; one more gets 503 at once.
    upload_slots: int = 2
    #: Wall-clock seconds one upload's check may take in its child process (verify.isolation);
    #: past it the process is killed and the answer is INDETERMINATE `check_timed_out`.
    check_seconds: float = 10.0
    #: Seconds between the batches in which a worker sends its request counts to the registry.
    rate_limit_flush_seconds: float = 2.0
    #: Seconds between two checks of the registry's versions (events, trust list): a change is
    #: seen within this plus the next request (docs/deploy.md, "Changes live"); 0 checks every request.
    live_interval: float = 1.0
    #: Seconds a version check may wait for the registry before it counts as failed; it runs in a
    #: thread, so the event loop never waits for it (verify.live).
    live_timeout: float = 5.0
    #: Seconds a cached record or page is used at most, even with no event (a bound on a row edited
    #: behind the log's back).
    cache_seconds: float = 60.0
    #: Rendered pages kept per worker (verify.web.fast); 0 keeps none.
    page_cache: int = 4096
    #: `/v/` and `/n` answered below the framework (verify.web.fast); off only to compare or diagnose.
    fast_pages: bool = True
    #: Large JPEG uploads decoded on two threads (verify.jpeg_speculative, warmed in the upload
    #: checks' forkserver); off saves numba's memory (about 135 MB per worker, docs/deploy.md).
    fast_jpeg: bool = True

    @property
    def proxies(self) -> tuple[str, ...]:
        """The trusted proxies in force (the legacy switch adds the loopback addresses)."""
        return self.trusted_proxies or (LOOPBACK if self.trust_forwarded_for else ())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "WebConfig":
        env = os.environ if env is None else env
        keys = Path(env.get("CERTGEN_KEYS", "keys"))
        return cls(
            trust_list=Path(env.get("CERTVERIFY_TRUST_LIST", keys / "trustlist.json")),
            root=Path(env.get("CERTVERIFY_ROOT", keys / "root.cert.pem")),
            registry_url=env.get("CERTGEN_REGISTRY_URL") or None,
            max_upload_bytes=_number(env, "CERTVERIFY_MAX_UPLOAD", 10 * 1024 * 1024, int, 1),
            rate_limit_per_minute=_number(env, "CERTVERIFY_RATE_LIMIT", 120, int, 0),
            request_timeout_seconds=_number(env, "CERTVERIFY_TIMEOUT", 20.0, float, 0.1),
            trust_forwarded_for=env.get("CERTVERIFY_TRUST_FORWARDED_FOR", "") in ("1", "true", "yes"),
            trusted_proxies=parse_proxies(env.get("CERTVERIFY_TRUSTED_PROXIES", "")),
            reports_per_address=_number(env, "CERTVERIFY_REPORTS_PER_ADDRESS", 5, int, 0),
            reports_per_certificate=_number(env, "CERTVERIFY_REPORTS_PER_CERTIFICATE", 20, int, 0),
            reports_per_day=_number(env, "CERTVERIFY_REPORTS_PER_DAY", 500, int, 0),
            upload_slots=_number(env, "CERTVERIFY_UPLOAD_SLOTS", 2, int, 1),
            check_seconds=_number(env, "CERTVERIFY_CHECK_SECONDS", 10.0, float, 0.1),
            rate_limit_flush_seconds=_number(env, "CERTVERIFY_RATE_LIMIT_FLUSH", 2.0, float, 0.05),
            live_interval=_number(env, "CERTVERIFY_LIVE_INTERVAL", 1.0, float, 0.0),
            live_timeout=_number(env, "CERTVERIFY_LIVE_TIMEOUT", 5.0, float, 0.05),
            cache_seconds=_number(env, "CERTVERIFY_CACHE_SECONDS", 60.0, float, 0.0),
            page_cache=_number(env, "CERTVERIFY_PAGE_CACHE", 4096, int, 0),
            fast_pages=env.get("CERTVERIFY_FAST_PAGES", "1") not in ("0", "false", "no"),
            fast_jpeg=env.get("CERTVERIFY_FAST_JPEG", "1").strip() not in ("0", "false", "no"),
        )


@dataclass(frozen=True)
class ServerLimits:
    """What the HTTP server allows a connection (verify.web.server): slow or oversized requests
    are cut off before they reach the app."""

    #: Seconds from the connection (or from the first byte of a later request on it) to the end
    #: of the request's headers: a client sending headers a byte a second is cut off (408).
    header_timeout: float = 10.0
    #: Seconds from the end of the headers to the end of the body (an upload).
    body_timeout: float = 60.0
    #: Request line plus headers, in bytes (431 beyond).
    max_header_bytes: int = 16 * 1024
    #: The request line (method, target, version), in bytes (414 beyond).
    max_request_line: int = 8 * 1024
    #: Header fields per request (431 beyond).
    max_headers: int = 100
    #: Seconds an idle keep-alive connection stays open.
    keep_alive: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ServerLimits":
        env = os.environ if env is None else env
        return cls(
            header_timeout=_number(env, "CERTVERIFY_HEADER_TIMEOUT", 10.0, float, 0.1),
            body_timeout=_number(env, "CERTVERIFY_BODY_TIMEOUT", 60.0, float, 0.1),
            max_header_bytes=_number(env, "CERTVERIFY_MAX_HEADER_BYTES", 16 * 1024, int, 1024),
            max_request_line=_number(env, "CERTVERIFY_MAX_REQUEST_LINE", 8 * 1024, int, 256),
            max_headers=_number(env, "CERTVERIFY_MAX_HEADERS", 100, int, 8),
            keep_alive=_number(env, "CERTVERIFY_KEEP_ALIVE", 5, int, 1),
        )


def parse_proxies(text: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR networks; raises ConfigError naming a bad entry (uvicorn
    itself would silently take it as a literal host name that never matches)."""
    entries = tuple(item.strip() for item in text.split(",") if item.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"CERTVERIFY_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
    return entries


def _number(env: Mapping[str, str], name: str, default: T, kind: Callable[[str], T], minimum: float) -> T:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number") from None
    if value < minimum:  # type: ignore[operator]
        raise ConfigError(f"{name}={text!r}: at least {minimum} is required")
    return value
