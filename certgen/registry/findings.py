"""What the auditor reports: one `LogProblem` per thing that does not check out.

Values quoted in a problem come from the database, which an attacker may have written: `show`
escapes control characters, so a problem printed on a terminal cannot drive it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LogProblem:
    """One thing that does not check out; `where` names the event, checkpoint, certificate or
    table, `what` says what is wrong; `code` is a stable reason code for machines and `column`
    the column concerned, when there is one."""

    where: str
    what: str
    code: str = ""
    column: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"where": self.where, "what": self.what, "code": self.code}
        if self.column is not None:
            out["column"] = self.column
        return out


def safe(text: Any, limit: int = 120) -> str:
    """`text` with control and format characters escaped, cut at `limit` characters."""
    value = str(text)
    cut = value[:limit]
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)
    return shown + ("..." if len(value) > limit else "")


def show(value: Any) -> str:
    """A column value quoted for a problem message ('empty' for null)."""
    return "empty" if value is None else f"'{safe(value)}'"
