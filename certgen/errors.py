"""The domain errors of certgen.

Every error says what is wrong and where; the CLI turns any `CertgenError` into a
one-line message and a non-zero exit, never a traceback.
"""

from __future__ import annotations


class CertgenError(Exception):
    """Base of every error certgen raises on purpose."""


class ConfigError(CertgenError):
    """The configuration (environment, options) is missing or inconsistent."""


class KeyStoreError(CertgenError):
    """Key files are missing, corrupted, locked with another passphrase, or would be overwritten."""


class TrustListError(CertgenError):
    """A trust list cannot be read, or its root signature does not check out."""


class SealFormatError(CertgenError, ValueError):
    """Barcode text or COSE bytes are not a well-formed seal (the message says which part)."""


class NumberFormatError(CertgenError, ValueError):
    """A certificate number is malformed or its check character does not match."""


class RegistryError(CertgenError):
    """A registry operation cannot be carried out."""


class NotFoundError(RegistryError):
    """No certificate with that number is in the registry."""


class TransitionError(RegistryError):
    """A status change that the certificate's life cycle does not allow."""


class ReplaceRefused(TransitionError):
    """A successor cannot be issued: the certificate it replaces can no longer be replaced
    (withdrawn or replaced meanwhile). The successor stays pending; nothing is issued."""


class SuccessorDiscarded(ReplaceRefused):
    """A successor was discarded before issue (`certgen discard`, certgen/registry/discard.py):
    it is never issued; files drawn for it are not valid."""
