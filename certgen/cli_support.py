"""What both command-line tools share: the app context (settings, clock, passphrase),
error translation, time parsing. Library code never imports this module."""

from __future__ import annotations

import getpass
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timezone
from typing import TYPE_CHECKING, Callable, Iterator

import click

from .config import PASSPHRASE_VAR, PKCS11_MODULE_VAR, PKCS11_PIN_VAR, Settings
from .errors import CertgenError, ConfigError
from .registry.lifecycle import WIB
if TYPE_CHECKING:
    from .keys import KeyStore
from .terminal import safe, safe_json  # noqa: F401 - re-exported: the one escaping helper


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class AppContext:
    """Passed to every command as click's `obj`; tests build one with a frozen clock."""

    settings: Settings | None = None
    now: Callable[[], datetime] = utc_now
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    _asked_pin: list[str] = field(default_factory=list, repr=False)

    def get_settings(self) -> Settings:
        if self.settings is None:
            self.settings = Settings.from_env(self.environ)
        return self.settings

    @property
    def passphrase_given(self) -> bool:
        """True when the passphrase comes from the environment (no one will be asked)."""
        return bool(self.environ.get(PASSPHRASE_VAR))

    def passphrase(self, *, confirm: bool = False) -> bytes:
        """From CERTGEN_KEY_PASSPHRASE, else a hidden prompt on a terminal."""
        value = self.environ.get(PASSPHRASE_VAR)
        if value:
            return value.encode("utf-8")
        if not sys.stdin.isatty():
            raise ConfigError(f"no key passphrase: set {PASSPHRASE_VAR} or run on a terminal to be asked")
        return click.prompt("Key passphrase", hide_input=True, confirmation_prompt=confirm).encode("utf-8")

    def token_pin(self) -> str:
        """The PIN of a PKCS#11 token: CERTGEN_PKCS11_PIN, else a hidden prompt on a terminal (once)."""
        value = self.environ.get(PKCS11_PIN_VAR)
        if value:
            return value
        if not self._asked_pin:
            if not sys.stdin.isatty():
                raise ConfigError(f"no token PIN: set {PKCS11_PIN_VAR} or run on a terminal to be asked")
            self._asked_pin.append(click.prompt("Token PIN", hide_input=True))
        return self._asked_pin[0]

    def keystore(self) -> "KeyStore":
        """The key folder, with the token PIN asked only if a key in a token is used, and the
        module path of CERTGEN_PKCS11_MODULE (if set) instead of the recorded one."""
        from .keys import KeyStore

        return KeyStore(self.get_settings().keys_dir, token_pin=self.token_pin,
                        token_module=self.environ.get(PKCS11_MODULE_VAR) or None)

    def actor(self) -> str:
        """Who is acting, for the event log."""
        return self.environ.get("CERTGEN_ACTOR") or getpass.getuser()


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn domain errors into one clear line and exit code 1; never a traceback."""
    try:
        yield
    except CertgenError as exc:  # messages quote stored values (names, reasons): shown, never acted on
        raise click.ClickException("\n".join(safe(line) for line in str(exc).split("\n"))) from exc


def parse_time(text: str) -> datetime:
    """ISO 8601 time with a zone (`2026-11-20T09:30+07:00`, `...Z`), or a date meaning 00:00 WIB."""
    try:
        if len(text) == 10:
            return datetime.combine(datetime.fromisoformat(text).date(), time(0, 0), WIB)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time, e.g. 2026-11-20T09:30:00+07:00") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{text!r} has no time zone; add one, e.g. +07:00 or Z")
    return moment
