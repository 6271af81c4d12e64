"""Stopping cleanly: on SIGTERM or SIGINT, or after a quiet spell when asked to."""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType

log = logging.getLogger("leadledger")


class RunLoop:
    """Tells a consumer loop whether to go on.

    ``until_idle`` (seconds) ends the loop once no work has arrived for that long: how
    tests and one-off catch-up runs end. Without it the loop runs until a signal.
    """

    def __init__(self, until_idle: float | None = None, install_signals: bool = True) -> None:
        self.until_idle = until_idle
        self.stopping = False
        self._last_work = time.monotonic()
        if install_signals:
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, finishing the current batch", signal.Signals(signum).name)
        self.stopping = True

    def worked(self) -> None:
        self._last_work = time.monotonic()

    def go_on(self) -> bool:
        if self.stopping:
            return False
        if self.until_idle is None:
            return True
        return time.monotonic() - self._last_work < self.until_idle


class Throughput:
    """Logs records per second every ``every`` seconds, so lag and speed are visible."""

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
