"""Which status changes are allowed, and the status a reader sees (EXPIRED is derived).

    active    --suspend-->   suspended   --reinstate--> active
    active | suspended --withdraw--> withdrawn   (final)
    active | suspended --replace-->  replaced    (final; names its successor)

Suspending or reinstating an expired certificate is refused; withdrawing one is allowed
(a withdrawal after expiry still tells the public the certificate was withdrawn).
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta, timezone

from ..errors import TransitionError
from ..model import EventType, Status

#: The body works on Jakarta time (WIB, UTC+7): a certificate is valid through its expiry day there.
WIB = timezone(timedelta(hours=7), "WIB")

_TRANSITIONS: dict[tuple[Status, EventType], Status] = {
    (Status.ACTIVE, EventType.SUSPEND): Status.SUSPENDED,
    (Status.SUSPENDED, EventType.REINSTATE): Status.ACTIVE,
    (Status.ACTIVE, EventType.WITHDRAW): Status.WITHDRAWN,
    (Status.SUSPENDED, EventType.WITHDRAW): Status.WITHDRAWN,
    (Status.ACTIVE, EventType.REPLACE): Status.REPLACED,
    (Status.SUSPENDED, EventType.REPLACE): Status.REPLACED,
    (Status.ACTIVE, EventType.REDEEM): Status.REDEEMED,  # apology letters only (certgen/service/letters.py)
}
_FORBIDDEN_WHEN_EXPIRED = {EventType.SUSPEND, EventType.REINSTATE}


class EffectiveStatus(str, enum.Enum):
    """The status as the public sees it at a given moment."""

    PENDING = "pending"
    VALID = "valid"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    REPLACED = "replaced"
    EXPIRED = "expired"
    REDEEMED = "redeemed"


def local_day(moment: datetime) -> date:
    """The calendar day in Jakarta at `moment`."""
    return moment.astimezone(WIB).date()


def is_expired(expires: date | None, now: datetime) -> bool:
    return expires is not None and local_day(now) > expires


def effective_status(status: Status, expires: date | None, now: datetime) -> EffectiveStatus:
    """Withdrawn and replaced outrank expiry (they say more); active and suspended expire."""
    if status in (Status.WITHDRAWN, Status.REPLACED, Status.PENDING, Status.REDEEMED):
        return EffectiveStatus(status.value)
    if is_expired(expires, now):
        return EffectiveStatus.EXPIRED
    return EffectiveStatus.VALID if status is Status.ACTIVE else EffectiveStatus.SUSPENDED


def transition(current: Status, change: EventType) -> Status | None:
    """The status `change` leads to from `current` by the life cycle alone (no expiry rule), or None."""
    return _TRANSITIONS.get((current, change))


def next_status(number: str, current: Status, change: EventType, expires: date | None, now: datetime) -> Status:
    """The status after `change`, or `TransitionError` saying why it is not allowed."""
    if current is Status.PENDING:
        raise TransitionError(f"{number} is not issued yet (pending); it cannot be {_past(change)}")
    if change in _FORBIDDEN_WHEN_EXPIRED and is_expired(expires, now):
        raise TransitionError(f"{number} expired on {expires:%Y-%m-%d}; an expired certificate cannot be {_past(change)}")
    new = _TRANSITIONS.get((current, change))
    if new is None:
        raise TransitionError(f"{number} is {current.value}; it cannot be {_past(change)}")
    return new


def _past(change: EventType) -> str:
    return {EventType.SUSPEND: "suspended", EventType.REINSTATE: "reinstated", EventType.WITHDRAW: "withdrawn",
            EventType.REPLACE: "replaced", EventType.ISSUE: "issued", EventType.REDEEM: "redeemed"}.get(change, change.value)
