"""Running a consumer loop: stopping cleanly (on SIGTERM or SIGINT, or after a quiet spell
when asked to), waiting out a broker that went away, saying it is alive, and its speed."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TypeVar

from leadledger.config import Kafka
from leadledger.kafka import BrokerWatch

log = logging.getLogger("leadledger")
T = TypeVar("T")
# A file the loop touches while it turns and Kafka answers: a container's health check
# reads its age (docker-compose.yml). Unset, no file is written.
HEARTBEAT_ENV = "LEADLEDGER_HEARTBEAT_FILE"
HEARTBEAT_EVERY = 5.0  # seconds between touches


class RunLoop:
    """Tells a consumer loop whether to go on.

    ``until_idle`` (seconds) ends the loop once no work has arrived for that long: how
    tests and one-off catch-up runs end. Without it the loop runs until a signal.

    With a ``watch``, ``go_on`` also waits while the broker is away (logged once each
    way); that wait is not a quiet spell, since nobody knows what input is waiting.
    """

    def __init__(
        self,
        until_idle: float | None = None,
        install_signals: bool = True,
        watch: BrokerWatch | None = None,
        heartbeat: Path | None = None,
    ) -> None:
        self.until_idle = until_idle
        self.stopping = False
        self.watch = watch
        self.heartbeat = heartbeat
        self._last_work = time.monotonic()
        self._last_beat = float("-inf")
        if install_signals:
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)

    @classmethod
    def serving(cls, kafka: Kafka, until_idle: float | None = None) -> RunLoop:
        """The loop of an engine process: watches ``kafka``, beats if the environment asks."""
        beat = os.environ.get(HEARTBEAT_ENV)
        return cls(until_idle, watch=BrokerWatch(kafka), heartbeat=Path(beat) if beat else None)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, finishing the current batch", signal.Signals(signum).name)
        self.stopping = True

    def worked(self) -> None:
        self._last_work = time.monotonic()

    def go_on(self) -> bool:
        if self.stopping:
            return False
        watch = self.watch
        if watch is not None and not watch.check():
            back = self._waiting(lambda: watch.wait(lambda: not self.stopping))
            if not back:
                return False
        self._beat()
        if self.until_idle is None:
            return True
        return time.monotonic() - self._last_work < self.until_idle

    def through_outages(self, action: Callable[[], T]) -> T:
        """``action()`` (a Kafka call), run again once the broker is back if an outage made
        it fail; without a watch, just ``action()``."""
        if self.watch is None:
            return action()
        watch = self.watch
        return self._waiting(lambda: watch.retry(action, lambda: not self.stopping))

    def _waiting(self, action: Callable[[], T]) -> T:
        """``action()``, with any time it spent waiting for Kafka kept out of the quiet
        spell: nobody knows what input waits behind an outage."""
        assert self.watch is not None
        before = self.watch.waited
        try:
            return action()
        finally:
            self._last_work += self.watch.waited - before

    def _beat(self) -> None:
        if self.heartbeat is None or time.monotonic() - self._last_beat < HEARTBEAT_EVERY:
            return
        self.heartbeat.parent.mkdir(parents=True, exist_ok=True)
        self.heartbeat.touch()
        self._last_beat = time.monotonic()


class Throughput:
    """Logs records per second, the total and the lag every ``every`` seconds, idle
    intervals included, so an operator running with ``-v`` sees the process is alive
    and whether it keeps up."""

    def __init__(self, name: str, every: float = 10.0) -> None:
        self.name = name
        self.every = every
        self.total = 0
        self._window = 0
        self._since = time.monotonic()

    def due(self) -> bool:
        """True when the next ``add`` will log (so costly figures such as lag are wanted)."""
        return time.monotonic() - self._since >= self.every

    def add(self, count: int, lag: int | None = None) -> None:
        """Count ``count`` records (0 on an idle turn); log if the interval is over."""
        self.total += count
        self._window += count
        elapsed = time.monotonic() - self._since
        if elapsed >= self.every:
            extra = "" if lag is None else f", lag {lag}"
            log.info(
                "%s: %.0f records/s, %d in total%s",
                self.name,
                self._window / elapsed,
                self.total,
                extra,
            )
            self._window = 0
            self._since = time.monotonic()
