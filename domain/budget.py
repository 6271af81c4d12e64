"""Money that is not a lead's: marketing spend per day, and plan targets per period.

Each key (a channel, campaign and day; a period and team) is a stream; a later report
for the same key is a correction, and the read models take the latest by event time.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar

from leadledger.domain.stream import Stream


def spend_key(channel: str, campaign: str | None, day: date) -> str:
    return f"{channel}|{campaign or ''}|{day.isoformat()}"


def target_key(period: str, team: str | None) -> str:
    return f"{period}|{team or ''}"


class Spend(Stream):
    KIND: ClassVar[str] = "spend"

    class Fact(Stream.Fact):
        pass

    class Reported(Fact):
        NAME = "spend"
        channel: str
        campaign: str | None
        day: date
        amount: Decimal
        currency: str


class Target(Stream):
    KIND: ClassVar[str] = "target"

    class Fact(Stream.Fact):
        pass

    class Set(Fact):
        NAME = "plan_target"
        period: str
        team: str | None
        amount: Decimal
        currency: str
