"""`certverify`: verification for the public and auditors, offline with a trust list."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from cryptography import x509

from certgen.cli_support import parse_time, user_errors, utc_now
from certgen.errors import TrustListError
from certgen.seal import open_seal
from certgen.trust import TrustList


def _load_trust(trust_list: str, root: str) -> TrustList:
    try:
        root_cert = x509.load_pem_x509_certificate(Path(root).read_bytes())
    except (OSError, ValueError) as exc:
        raise TrustListError(f"{root}: cannot read the root certificate ({exc})") from None
    try:
        data = Path(trust_list).read_bytes()
    except OSError as exc:
        raise TrustListError(f"{trust_list}: cannot read the trust list ({exc.strerror})") from None
    return TrustList.load_signed(data, root_cert)


trust_options = [
    click.option("--trust-list", default="keys/trustlist.json", show_default=True, help="Signed trust list file."),
    click.option("--root", default="keys/root.cert.pem", show_default=True, help="Root certificate (PEM)."),
]


def with_trust(func):  # type: ignore[no-untyped-def]
    for option in reversed(trust_options):
        func = option(func)
    return func


@click.group()
@click.version_option(package_name="certgen")
def main() -> None:
    """Verify certificates of the certification body."""


@main.command("trustlist")
@with_trust
def trustlist_cmd(trust_list: str, root: str) -> None:
    """Check a trust list against the root certificate and list its signers."""
    with user_errors():
        trust = _load_trust(trust_list, root)
    click.echo(f"trust list signed by the root, issued {trust.issued_at:%Y-%m-%d %H:%M}Z")
    for signer in trust.signers.values():
        revoked = f"revoked from {signer.revoked_at:%Y-%m-%d %H:%M}Z ({signer.revocation_reason})" if signer.revoked_at else "not revoked"
        click.echo(f"  {signer.kid.hex()}  {signer.not_before:%Y-%m-%d}..{signer.not_after:%Y-%m-%d}  {revoked}")


@main.command("seal")
@click.argument("text")
@with_trust
@click.option("--at", "at", help="Judge at this time instead of now (ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def seal_cmd(text: str, trust_list: str, root: str, at: str | None, as_json: bool) -> None:
    """Check a seal (the barcode text) offline. Status is not checked here."""
    with user_errors():
        trust = _load_trust(trust_list, root)
    result = open_seal(text, trust, parse_time(at) if at else utc_now())
    claims = result.claims
    if as_json:
        click.echo(json.dumps({
            "ok": result.ok, "reason": result.reason.value, "detail": result.detail,
            "kid": result.kid.hex() if result.kid else None,
            "claims": None if claims is None else {
                "number": claims.number, "kind": claims.kind.value, "holder": claims.holder, "scheme": claims.scheme,
                "granted": claims.granted.isoformat(), "expires": claims.expires.isoformat() if claims.expires else None,
                "subject": claims.subject, "issuer": claims.issuer, "signed_at": claims.signed_at.isoformat()},
        }, indent=2, ensure_ascii=False))
    elif claims is not None:
        click.echo(f"seal valid, status not checked ({result.detail})")
        click.echo(f"  number  {claims.number}\n  holder  {claims.holder}\n  scheme  {claims.scheme}\n"
                   f"  granted {claims.granted}" + (f"\n  expires {claims.expires}" if claims.expires else ""))
    else:
        click.echo(f"seal INVALID: {result.reason.value}: {result.detail}")
    sys.exit(0 if result.ok else 1)
