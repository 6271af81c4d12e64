"""The Visitor aggregate: touches of someone not yet known as a lead (cookie, device).

An ``identify`` on the lead's stream links a visitor to a lead; the journey read model joins
the visitor's touches to the lead's path at query time, so it does not matter which
arrives first, nor on which partition each lives.
"""

from __future__ import annotations

from typing import ClassVar

from leadledger.domain.stream import Stream


class Visitor(Stream):
    KIND: ClassVar[str] = "visitor"

    class Fact(Stream.Fact):
        pass

    class TouchRecorded(Stream.Touched, Fact):
        NAME = "touch"
