"""The client behind a reverse proxy: the one adapter onto uvicorn's ProxyHeadersMiddleware.

X-Forwarded-For is believed only when the connection comes from a configured proxy (an
address or a CIDR network), and then the client is the right-most address in it that is not
one of those proxies: whatever a client writes into the header itself sits to the left of what
the proxies append, so it cannot choose its own address. uvicorn's middleware does exactly this
(and sets the scheme from X-Forwarded-Proto); it rewrites `scope["client"]`, which the rate
limit and the complaint caps then read.
"""

from __future__ import annotations

from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def forwarded_client(app: Any, proxies: tuple[str, ...]) -> Any:
    """`app` wrapped so that `scope["client"]` is the client behind the trusted `proxies`."""
    return ProxyHeadersMiddleware(app, trusted_hosts=list(proxies))
