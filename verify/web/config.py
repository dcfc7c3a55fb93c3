"""Web service settings: built from the environment by `certverify serve` (docs/deploy.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


@dataclass(frozen=True)
class WebConfig:
    trust_list: Path
    root: Path
    #: Registry database URL; None serves seal checks only ("status not checked").
    registry_url: str | None = None
    max_upload_bytes: int = 10 * 1024 * 1024
    #: Requests per minute per client address; 0 switches the limit off (load tests behind a proxy that limits).
    rate_limit_per_minute: int = 120
    request_timeout_seconds: float = 20.0
    #: Take the client address from X-Forwarded-For (only behind a reverse proxy that sets it).
    trust_forwarded_for: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "WebConfig":
        env = os.environ if env is None else env
        keys = Path(env.get("CERTGEN_KEYS", "keys"))
        return cls(
            trust_list=Path(env.get("CERTVERIFY_TRUST_LIST", keys / "trustlist.json")),
            root=Path(env.get("CERTVERIFY_ROOT", keys / "root.cert.pem")),
            registry_url=env.get("CERTGEN_REGISTRY_URL") or None,
            max_upload_bytes=int(env.get("CERTVERIFY_MAX_UPLOAD", 10 * 1024 * 1024)),
            rate_limit_per_minute=int(env.get("CERTVERIFY_RATE_LIMIT", 120)),
            request_timeout_seconds=float(env.get("CERTVERIFY_TIMEOUT", 20)),
            trust_forwarded_for=env.get("CERTVERIFY_TRUST_FORWARDED_FOR", "") in ("1", "true", "yes"),
        )
