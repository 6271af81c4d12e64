"""How much the engine and its libraries say on stderr, by the count of ``-v``.

Without ``-v`` only the engine's own warnings show (such as "waiting for Kafka at ..."):
kafka-python's retries and reconnects are the engine's to summarise, not the operator's to
read line by line. ``-v`` adds the engine's progress (throughput and lag per interval) and
kafka-python's warnings, each distinct one at most once a minute. ``-vv`` shows
everything, the library's debug lines included.
"""

from __future__ import annotations

import logging
import sys
import time

LIBRARIES = ("kafka",)  # loggers of libraries whose retries the engine reports itself
REPEAT_AFTER = 60.0  # seconds before the same library message may show again


class Repeats(logging.Filter):
    """Lets each distinct library message (by its format string) through once per
    ``seconds``; the engine's own lines all pass.

    A broker that is down makes kafka-python log the same line several times a second;
    one of them says all there is to say. It sits on the handler, because a logger's
    filter does not see what its child loggers (``kafka.net.manager``) log.
    """

    def __init__(self, seconds: float = REPEAT_AFTER) -> None:
        super().__init__()
        self.seconds = seconds
        self._shown: dict[tuple[str, object], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] not in LIBRARIES:
            return True
        key = (record.name, record.msg)
        now = time.monotonic()
        if now - self._shown.get(key, float("-inf")) < self.seconds:
            return False
        self._shown[key] = now
        return True


def configure(verbosity: int) -> None:
    """Set up stderr logging for ``verbosity`` (the number of ``-v``)."""
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    if verbosity < 2:
        handler.addFilter(Repeats())
    logging.basicConfig(level=level, handlers=[handler])
    for name in LIBRARIES:
        library = logging.getLogger(name)
        if verbosity >= 2:
            library.setLevel(logging.DEBUG)
        elif verbosity == 1:
            library.setLevel(logging.WARNING)
        else:
            library.setLevel(logging.CRITICAL + 1)  # silent: the engine reports outages
