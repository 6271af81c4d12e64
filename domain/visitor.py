"""The Visitor aggregate: touches of someone not yet known as a lead (cookie, device).

An ``identify`` on the lead's stream links a visitor to a lead; the journey read model joins
the visitor's touches to the lead's path at query time, so it does not matter which
arrives first, nor on which partition each lives.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from leadledger.domain.stream import Stream


class Visitor(Stream):
    KIND: ClassVar[str] = "visitor"

    class Fact(Stream.Fact):
        pass

    class TouchRecorded(Fact):
        """The same fields as a lead's touch: it is the same public event type."""

        NAME = "touch"
        channel: str
        source: str | None
        medium: str | None
        campaign: str | None
        content: str | None
        keyword: str | None
        cost: Decimal | None
        kind: str
        anonymous_id: str | None
