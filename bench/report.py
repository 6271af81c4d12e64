"""How a benchmark figure is measured in a process of its own and printed beside its baseline."""

from __future__ import annotations

import os
import platform
import resource
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path
from typing import Any

RATIO_RULE = "ratio = leadledger / baseline (same data, same run); above 1 is faster than it"


@dataclass(frozen=True)
class Figure:
    """One measured figure and the baseline measured beside it in the same run."""

    name: str
    ours: float
    baseline_name: str
    baseline: float
    unit: str
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("nan")

    def line(self) -> str:
        load = os.getloadavg()[0]
        text = (
            f"{self.name}: {self.ours:,.0f} {self.unit} | baseline {self.baseline_name}: "
            f"{self.baseline:,.0f} {self.unit} | ratio {self.ratio:.2f} | load {load:.2f}"
        )
        return f"{text} | {self.note}" if self.note else text


def in_child(work: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``work(*args)`` in a fresh process, so its peak memory (max RSS) is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_measured, work, *args).result()


def _measured(work: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    result = work(*args)
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def disk_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"machine: {os.cpu_count()} cores ({platform.machine()}, {platform.system()} "
        f"{platform.release()}), load average {load} (1, 5, 15 min; the machine is shared), "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"eventsourcing {version('eventsourcing')}"
    )
