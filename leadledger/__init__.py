"""leadledger: an event-sourced lead lifecycle engine.

One shared, replayable record of every touch, stage change and sale, and read models
(attribution, SLA, KPIs) that anyone can rebuild from it.
"""

__version__ = "0.1.0"
