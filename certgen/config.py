"""Where things live: the data folder, the key folder, the registry URL, the passphrase.

The library itself reads no environment: `Settings.from_env()` is called by the CLI only,
and everything else receives a `Settings` (or the single value it needs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import ConfigError

#: Environment variables read by `Settings.from_env`, with their meaning (shown by `certgen config`).
ENV_VARS: dict[str, str] = {
    "CERTGEN_DATA": "data folder: registry database and issued documents (default ./data)",
    "CERTGEN_KEYS": "key folder: root and signer keys, trust list (default ./keys)",
    "CERTGEN_REGISTRY_URL": "SQLAlchemy URL of the registry (default: SQLite file in the data folder)",
    "CERTGEN_KEY_PASSPHRASE": "passphrase of the private keys (prompted for when unset)",
    "CERTGEN_VERIFY_URL": "base address of the public verification page, put in every seal",
    "CERTGEN_ISSUER": "short issuer id put in every seal",
    "CERTGEN_TEMPLATES": "template folder (default: templates/ of the installation)",
    "CERTGEN_TSA_URL": "RFC 3161 timestamp authority: signatures become PAdES B-LTA",
    "CERTGEN_ADAPTERS": "off: stock ReportLab and pyHanko, no fast paths (docs/adapters.md); default on",
    "CERTGEN_TSA_ROOT": "PEM file of the timestamp authority's root certificate(s) (with CERTGEN_TSA_URL)",
    "CERTGEN_PKCS11_PIN": "PIN of the PKCS#11 token holding the document signer key (prompted for when unset)",
    "CERTGEN_PKCS11_MODULE": "PKCS#11 module path, instead of the one recorded in keystore.json (the library moved)",
}

DEFAULT_VERIFY_URL = "https://verifikasi.example.id/v/"
DEFAULT_ISSUER = "ID-BSKP"
PASSPHRASE_VAR = "CERTGEN_KEY_PASSPHRASE"
PKCS11_PIN_VAR = "CERTGEN_PKCS11_PIN"
PKCS11_MODULE_VAR = "CERTGEN_PKCS11_MODULE"


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one certgen run."""

    data_dir: Path
    keys_dir: Path
    registry_url: str
    verify_url: str = DEFAULT_VERIFY_URL
    #: Issuer id in seals: short, because every byte of the seal enlarges the QR code.
    issuer: str = DEFAULT_ISSUER
    #: Template folder; None means the bundled templates/.
    templates_dir: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        """Build settings from environment variables (see `ENV_VARS`), with defaults; the CLI
        passes its environment (tests/test_architecture.py: only the CLI reads `os.environ`)."""
        env = environ
        data_dir = Path(env.get("CERTGEN_DATA", "data")).expanduser()
        keys_dir = Path(env.get("CERTGEN_KEYS", "keys")).expanduser()
        url = env.get("CERTGEN_REGISTRY_URL") or sqlite_url(data_dir / "registry.sqlite3")
        verify_url = env.get("CERTGEN_VERIFY_URL", DEFAULT_VERIFY_URL)
        check_verify_url(verify_url)
        templates = env.get("CERTGEN_TEMPLATES")
        return cls(data_dir=data_dir, keys_dir=keys_dir, registry_url=url,
                   verify_url=verify_url, issuer=env.get("CERTGEN_ISSUER", DEFAULT_ISSUER),
                   templates_dir=Path(templates).expanduser() if templates else None)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite file (absolute, so a later `cd` changes nothing)."""
    return f"sqlite:///{path.resolve()}"


def check_verify_url(url: str) -> None:
    """A seal address must open in any phone camera: lower-case https, ending in `/v/`."""
    if not url.startswith("https://") or url != url.lower() or not url.endswith("/v/"):
        raise ConfigError(
            f"CERTGEN_VERIFY_URL {url!r}: must be a lower-case https:// address ending in /v/"
        )
