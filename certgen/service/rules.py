"""The service standard's rules as data (templates/service.yaml): days per kind, when each
clock starts, what may pause it, the channels, the document limits.

`ServiceRules.from_config(mapping)` checks the mapping and rejects unknown keys; only
`ServiceRules.load(path)` reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import ConfigError

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "templates" / "service.yaml"
CERTIFICATE_KINDS = ("product", "person", "training")


@dataclass(frozen=True)
class Label:
    id: str
    en: str

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.id


@dataclass(frozen=True)
class KindRule:
    name: str
    label: Label
    #: The kind of certificate issued from such an application.
    certificate: str
    #: At most this many working days from the clock's start to the reported result.
    days: int
    #: Conditions that must all be recorded before the clock starts.
    starts_when: tuple[str, ...]
    #: Reasons for which the clock may be paused.
    pauses: tuple[str, ...]


@dataclass(frozen=True)
class ServiceRules:
    standard: str
    near_deadline_days: int
    conditions: Mapping[str, Label]
    pause_reasons: Mapping[str, Label]
    kinds: Mapping[str, KindRule]
    channels: Mapping[str, Label]
    complaint_days: int
    complaint_channels: Mapping[str, Label]
    max_document_bytes: int
    document_types: tuple[str, ...]

    @classmethod
    def load(cls, path: Path | None = None) -> "ServiceRules":
        path = Path(path or DEFAULT_FILE)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: service rules file is missing") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        return cls.from_config(data, str(path))

    @classmethod
    def from_config(cls, data: Any, where: str = "service rules") -> "ServiceRules":
        top = _mapping(data, where, {"standard", "near_deadline_days", "conditions", "pause_reasons", "kinds",
                                     "channels", "complaints", "documents"})
        conditions = _labels(top["conditions"], f"{where}: conditions")
        reasons = _labels(top["pause_reasons"], f"{where}: pause_reasons")
        kinds: dict[str, KindRule] = {}
        for name, body in _mapping(top["kinds"], f"{where}: kinds").items():
            at = f"{where}: kinds.{name}"
            k = _mapping(body, at, {"label", "certificate", "days", "starts_when", "pauses"})
            if k["certificate"] not in CERTIFICATE_KINDS:
                raise ConfigError(f"{at}.certificate: {k['certificate']!r} is not one of {', '.join(CERTIFICATE_KINDS)}")
            starts = _names(k["starts_when"], f"{at}.starts_when", conditions)
            if "complete" not in starts:
                raise ConfigError(f"{at}.starts_when: must include `complete`")
            kinds[str(name)] = KindRule(str(name), _label(k["label"], f"{at}.label"), k["certificate"],
                                        _int(k["days"], f"{at}.days", 1, 400), starts,
                                        _names(k["pauses"], f"{at}.pauses", reasons))
        complaints = _mapping(top["complaints"], f"{where}: complaints", {"days", "channels"})
        documents = _mapping(top["documents"], f"{where}: documents", {"max_bytes", "types"})
        types = documents["types"]
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            raise ConfigError(f"{where}: documents.types: expected a list of media types")
        if not isinstance(top["standard"], str):
            raise ConfigError(f"{where}: standard: expected text")
        return cls(top["standard"], _int(top["near_deadline_days"], f"{where}: near_deadline_days", 0, 100),
                   conditions, reasons, kinds, _labels(top["channels"], f"{where}: channels"),
                   _int(complaints["days"], f"{where}: complaints.days", 1, 400),
                   _labels(complaints["channels"], f"{where}: complaints.channels"),
                   _int(documents["max_bytes"], f"{where}: documents.max_bytes", 1, 2**31), tuple(types))

    def kind(self, name: str) -> KindRule:
        rule = self.kinds.get(name)
        if rule is None:
            raise ConfigError(f"unknown application kind {name!r} (known: {', '.join(self.kinds)})")
        return rule


def _mapping(value: Any, where: str, keys: set[str] | None = None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    if keys is not None:
        unknown = set(value) - keys
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        missing = keys - set(value)
        if missing:
            raise ConfigError(f"{where}: missing key(s) {', '.join(sorted(missing))}")
    return value


def _label(value: Any, where: str) -> Label:
    m = _mapping(value, where, {"id", "en"})
    if not all(isinstance(m[k], str) and m[k].strip() for k in ("id", "en")):
        raise ConfigError(f"{where}: `id` and `en` must be non-empty text")
    return Label(m["id"], m["en"])


def _labels(value: Any, where: str) -> dict[str, Label]:
    return {str(k): _label(v, f"{where}.{k}") for k, v in _mapping(value, where).items()}


def _names(value: Any, where: str, known: Mapping[str, Label]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of names")
    for v in value:
        if v not in known:
            raise ConfigError(f"{where}: {v!r} is not defined (known: {', '.join(known)})")
    return tuple(value)


def _int(value: Any, where: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{where}: expected a whole number from {low} to {high}")
    return value
