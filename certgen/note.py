"""Signed tree heads as text: the C2SP tlog-checkpoint body in a C2SP signed note, Ed25519.

    <origin>\\n
    <tree size, decimal>\\n
    <base64 of the 32-byte root hash>\\n
    time <UTC time, YYYY-MM-DDTHH:MM:SS.ffffffZ>\\n      (extension line)
    \\n
    \u2014 <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>\\n

The signature covers the body: every byte before the blank line, final newline included.
Key id = first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key); the verifier key
text (`vkey`) is `<name>+<key id hex>+<base64(0x01 || public key)>`. docs/registry.md is
normative. Pure functions: no files, no database.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import CertgenError

ED25519 = 0x01
DASH = "\u2014"
MAX_NOTE = 8192
_NAME = re.compile(r"[\x21-\x2a\x2c-\x7e]{1,128}")  # printable ASCII without space and '+'
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


class CheckpointProblem(str, enum.Enum):
    """Why a checkpoint text is not accepted."""

    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"


class CheckpointError(CertgenError):
    """A checkpoint text is malformed, signed by no known log key, or its signature fails."""

    def __init__(self, problem: CheckpointProblem, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem


@dataclass(frozen=True)
class LogKey:
    """A log's public key as the trust list names it."""

    name: str
    public_key: bytes  # raw Ed25519, 32 bytes

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"log key name {self.name!r}: printable ASCII without spaces or '+'")
        if len(self.public_key) != 32:
            raise ValueError("an Ed25519 public key has 32 bytes")

    @property
    def key_id(self) -> bytes:
        return hashlib.sha256(self.name.encode() + b"\n" + bytes([ED25519]) + self.public_key).digest()[:4]

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(bytes([ED25519]) + self.public_key).decode()}"

    @classmethod
    def from_vkey(cls, text: str) -> "LogKey":
        """Parse a verifier key; raises ValueError naming what is wrong."""
        parts = text.split("+", 2)  # the base64 key may contain "+"; the name and key id cannot
        if len(parts) != 3:
            raise ValueError(f"verifier key {text[:80]!r} is not name+keyid+key")
        name, kid, encoded = parts
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise ValueError(f"verifier key of {name!r}: key is not base64") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise ValueError(f"verifier key of {name!r}: not an Ed25519 key")
        key = cls(name, raw[1:])
        if key.key_id.hex() != kid.lower():
            raise ValueError(f"verifier key of {name!r}: key id {kid} does not match the key")
        return key


@dataclass(frozen=True)
class LogSigner:
    """The log's private key, loaded (from the key folder, with the passphrase)."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    @property
    def public(self) -> LogKey:
        return LogKey(self.name, self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


@dataclass(frozen=True)
class TreeHead:
    """What a checkpoint states: the log `origin` had `size` leaves with `root` at `time`."""

    origin: str
    size: int
    root: bytes
    time: datetime
    #: (seq, sha256) of the newest `trustlist` event among the `size` events, if any: an
    #: extension line, so that rewriting that event in place (which the tree cannot show to a
    #: reader who does not re-hash every event) is caught by whoever reads the checkpoint.
    trust_list: tuple[int, str] | None = None

    def body(self) -> str:
        anchor = "" if self.trust_list is None else f"trustlist {self.trust_list[0]} {self.trust_list[1]}\n"
        return (f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"
                f"time {self.time.astimezone(timezone.utc).strftime(_TIME)}\n{anchor}")


@dataclass(frozen=True)
class SignedTreeHead:
    head: TreeHead
    text: str  # the whole note, as signed and published
    key_name: str  # the trusted key whose signature verified


def sign_tree_head(head: TreeHead, signer: LogSigner) -> str:
    """The checkpoint text of `head`, signed by `signer`."""
    body = head.body()
    signature = signer.private_key.sign(body.encode())
    blob = base64.b64encode(signer.public.key_id + signature).decode()
    return f"{body}\n{DASH} {signer.name} {blob}\n"


def parse_tree_head(text: str | bytes) -> tuple[TreeHead, str, list[tuple[str, bytes, bytes]]]:
    """(head, signed body, [(key name, key id, signature)]) of a checkpoint text; raises
    CheckpointError(MALFORMED) naming the line that is wrong."""
    if isinstance(text, bytes):
        if len(text) > MAX_NOTE:
            raise CheckpointError(CheckpointProblem.MALFORMED, f"checkpoint is larger than {MAX_NOTE} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError(CheckpointProblem.MALFORMED, "checkpoint is not UTF-8 text") from None
    if len(text) > MAX_NOTE:
        raise CheckpointError(CheckpointProblem.MALFORMED, f"checkpoint is larger than {MAX_NOTE} bytes")
    if any((ord(c) < 0x20 and c != "\n") or ord(c) == 0x7f for c in text):
        raise CheckpointError(CheckpointProblem.MALFORMED, "checkpoint contains control characters")
    body, sep, signatures = text.partition("\n\n")
    if not sep or not text.endswith("\n"):
        raise CheckpointError(CheckpointProblem.MALFORMED, "checkpoint has no blank line before its signatures, or no final newline")
    body += "\n"
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise CheckpointError(CheckpointProblem.MALFORMED, "checkpoint body needs origin, size and root hash lines")
    origin, size_text, root_text, *extensions = lines
    if not origin or origin != origin.strip():
        raise CheckpointError(CheckpointProblem.MALFORMED, "line 1: origin is empty or has surrounding spaces")
    if not _DECIMAL.fullmatch(size_text):
        raise CheckpointError(CheckpointProblem.MALFORMED, f"line 2: tree size {size_text[:40]!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        root = b""
    if len(root) != 32:
        raise CheckpointError(CheckpointProblem.MALFORMED, "line 3: root hash is not the base64 of 32 bytes")
    time = None
    trust_list: tuple[int, str] | None = None
    for number, line in enumerate(extensions, start=4):
        if not line:
            raise CheckpointError(CheckpointProblem.MALFORMED, f"line {number}: empty extension line")
        if line.startswith("trustlist "):
            parts = line.split(" ")
            if len(parts) != 3 or not _DECIMAL.fullmatch(parts[1]) or not _SHA256.fullmatch(parts[2]):
                raise CheckpointError(CheckpointProblem.MALFORMED, f"line {number}: {line[:60]!r} is not 'trustlist SEQ SHA256'")
            trust_list = (int(parts[1]), parts[2])
        if line.startswith("time "):
            try:
                time = datetime.strptime(line[5:], _TIME).replace(tzinfo=timezone.utc)
            except ValueError:
                raise CheckpointError(CheckpointProblem.MALFORMED, f"line {number}: time {line[5:40]!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ") from None
    if time is None:
        raise CheckpointError(CheckpointProblem.MALFORMED, "checkpoint has no time line")
    if trust_list is not None and not 1 <= trust_list[0] <= int(size_text):
        raise CheckpointError(CheckpointProblem.MALFORMED, f"trustlist line names event {trust_list[0]}, outside the tree of {size_text}")
    sigs = []
    for line in signatures.split("\n")[:-1]:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH or not _NAME.fullmatch(parts[1]):
            raise CheckpointError(CheckpointProblem.MALFORMED, f"signature line {line[:60]!r} is not '\u2014 name base64'")
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except binascii.Error:
            raise CheckpointError(CheckpointProblem.MALFORMED, f"signature of {parts[1]} is not base64") from None
        if len(blob) < 5:
            raise CheckpointError(CheckpointProblem.MALFORMED, f"signature of {parts[1]} is too short")
        sigs.append((parts[1], blob[:4], blob[4:]))
    if not sigs:
        raise CheckpointError(CheckpointProblem.MALFORMED, "checkpoint carries no signature")
    return TreeHead(origin, int(size_text), root, time, trust_list), body, sigs


def open_tree_head(text: str | bytes, keys: Sequence[LogKey]) -> SignedTreeHead:
    """Parse and check a checkpoint against the trusted log keys: one signature by a trusted key
    (name and key id both match) must verify, and the origin must be that key's name. Signatures
    by keys nobody trusts are ignored, as C2SP says. Raises CheckpointError naming the problem."""
    head, body, sigs = parse_tree_head(text)
    known = {(k.name, k.key_id): k for k in keys}
    trusted = [(known[(name, kid)], sig) for name, kid, sig in sigs if (name, kid) in known]
    if not trusted:
        named = ", ".join(f"{name} ({kid.hex()})" for name, kid, _ in sigs)
        raise CheckpointError(CheckpointProblem.UNKNOWN_KEY, f"checkpoint is signed by {named}: not a log key of the trust list")
    for key, sig in trusted:
        try:
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(sig, body.encode())
        except InvalidSignature:
            continue
        if head.origin != key.name:
            raise CheckpointError(CheckpointProblem.BAD_SIGNATURE,
                                  f"checkpoint of log {head.origin!r} is signed by the key of log {key.name!r}")
        return SignedTreeHead(head, text if isinstance(text, str) else text.decode("utf-8"), key.name)
    raise CheckpointError(CheckpointProblem.BAD_SIGNATURE,
                          f"checkpoint signature by {trusted[0][0].name} does not verify: the checkpoint was altered or forged")
