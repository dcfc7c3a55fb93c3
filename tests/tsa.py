"""A local RFC 3161 timestamp authority for tests: pyHanko's dummy TSA behind http.server on
loopback. `fixed_at` freezes the time it stamps (tests judge documents years later)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Iterator, NamedTuple

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from tests.signatures import asn1


class LocalTsa(NamedTuple):
    url: str
    certificate: x509.Certificate
    #: Content-Type of every request received.
    requests: list[str]


def _tsa_identity(around: datetime, valid_days: int = 30) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's dummy TSA is RSA-only
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(around - timedelta(days=1)).not_valid_after(around + timedelta(days=valid_days))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


@contextmanager
def local_tsa(fixed_at: datetime | None = None, valid_days: int = 30) -> Iterator[LocalTsa]:
    """Serve a TSA whose self-signed certificate is valid for `valid_days` from a day before
    `fixed_at` (or now)."""
    key, cert = _tsa_identity(fixed_at or datetime.now(timezone.utc), valid_days)
    stamper = DummyTimeStamper(tsa_cert=asn1(cert), fixed_dt=fixed_at, tsa_key=asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            requests.append(self.headers.get("Content-Type"))
            response = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(response)))
            self.end_headers()
            self.wfile.write(response)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalTsa(f"http://127.0.0.1:{server.server_port}/tsa", cert, requests)
    finally:
        server.shutdown()
        server.server_close()
