"""Certificates about to expire, and the renewal reminders sent to their holders.

Expiry is judged as `certgen.registry.lifecycle` judges it: a certificate is valid through its
expiry day in Jakarta, so "within 90 days" means an expiry day from today (Jakarta) to today + 90
days, both included. Only stored-active certificates are listed: a withdrawn, replaced or
suspended certificate is not reminded to renew, and an expired one is past reminding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from string import Formatter
from typing import Any, Iterable, Mapping

from .errors import ConfigError
from .model import Status
from .registry.lifecycle import local_day
from .registry.repository import Certificate


@dataclass(frozen=True)
class ExpiringItem:
    number: str
    kind: str
    holder: str
    scheme: str
    expires: date
    #: Days from today (Jakarta) to the expiry day; 0: it expires at the end of today.
    days_left: int
    #: The holder's address when the record has one (product certificates).
    address: str | None

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "kind": self.kind, "holder": self.holder, "scheme": self.scheme,
                "expires": self.expires.isoformat(), "days_left": self.days_left, "address": self.address}


def window(within_days: int, now: datetime) -> tuple[date, date]:
    """The expiry days the listing covers: today (Jakarta) to today + `within_days`."""
    today = local_day(now)
    return today, today + timedelta(days=within_days)


def expiring(certificates: Iterable[Certificate], *, within_days: int, now: datetime) -> list[ExpiringItem]:
    """Active certificates whose expiry day is from today to today + `within_days` (Jakarta), soonest first."""
    today = local_day(now)
    last = today + timedelta(days=within_days)
    out = [ExpiringItem(c.number, c.kind.value, c.holder, c.scheme, c.expires, (c.expires - today).days,
                        c.record.get("client_address") if isinstance(c.record, Mapping) else None)
           for c in certificates
           if c.status is Status.ACTIVE and c.expires is not None and today <= c.expires <= last]
    return sorted(out, key=lambda i: (i.expires, i.number))


# -- the reminder letter's text (templates/renewal.yaml) -------------------------------------------

#: The placeholders a renewal letter's texts may use.
PLACEHOLDERS = frozenset({"number", "holder", "scheme", "expires_id", "expires_en", "days_left", "body"})


@dataclass(frozen=True)
class Text:
    id: str
    en: str


@dataclass(frozen=True)
class RenewalText:
    """What a renewal reminder says, Indonesian first, English second."""

    title: Text
    paragraphs: tuple[Text, ...]

    @classmethod
    def from_config(cls, data: Any, where: str = "renewal.yaml") -> "RenewalText":
        """Check the template: keys, pairs, and placeholders (an unknown `{name}` names the key)."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a mapping")
        unknown = set(map(str, data)) - {"title", "paragraphs"}
        missing = {"title", "paragraphs"} - set(map(str, data))
        if unknown or missing:
            raise ConfigError(f"{where}: " + "; ".join(filter(None, [
                unknown and f"unknown key(s) {', '.join(sorted(unknown))}",
                missing and f"missing key(s) {', '.join(sorted(missing))}"])))
        if not isinstance(data["paragraphs"], list) or not data["paragraphs"]:
            raise ConfigError(f"{where}: paragraphs: expected a list of {{id: ..., en: ...}}")
        return cls(_pair(data["title"], f"{where}: title"),
                   tuple(_pair(p, f"{where}: paragraphs[{i}]") for i, p in enumerate(data["paragraphs"])))

    def fill(self, item: ExpiringItem, body: str) -> tuple[Text, tuple[Text, ...]]:
        """The title and paragraphs with the certificate's values put in."""
        values = {"number": item.number, "holder": item.holder, "scheme": item.scheme, "days_left": str(item.days_left),
                  "expires_id": date_id(item.expires), "expires_en": date_en(item.expires), "body": body}
        def put(t: Text) -> Text:
            return Text(t.id.format_map(values), t.en.format_map(values))
        return put(self.title), tuple(put(p) for p in self.paragraphs)


def _pair(value: Any, where: str) -> Text:
    if not isinstance(value, Mapping) or set(map(str, value)) != {"id", "en"}:
        raise ConfigError(f"{where}: expected {{id: ..., en: ...}}")
    for lang in ("id", "en"):
        text = value[lang]
        if not isinstance(text, str):
            raise ConfigError(f"{where}.{lang}: expected text")
        try:
            names = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
        except ValueError as exc:
            raise ConfigError(f"{where}.{lang}: {exc} (write a literal brace as {{{{ or }}}})") from None
        bad = names - PLACEHOLDERS
        if bad:
            raise ConfigError(f"{where}.{lang}: unknown placeholder(s) {', '.join(sorted(bad))}; "
                              f"known: {', '.join(sorted(PLACEHOLDERS))}")
    return Text(value["id"], value["en"])


_MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
              "November", "Desember")


def date_id(day: date) -> str:
    return f"{day.day} {_MONTHS_ID[day.month - 1]} {day.year}"


def date_en(day: date) -> str:
    return f"{day.day} {day:%B} {day.year}"
