"""``leadledger report attribution --model M`` for every model, beside ChannelAttribution.

leadledger's figure is ``leadledger.reports.attribution_report``, the function the command
calls: it reads the journeys and conversions from the read model (SQLite), fits the model
if it is algorithmic, and credits every conversion. The baseline is the ChannelAttribution
package run in the same process on the same journeys: its heuristic models (first touch,
last touch, linear, in one call) for the rule-based models, and its Markov model (order 1,
its default simulation) for Markov and Shapley. Its time starts from the journeys as
channel lists and includes building the pandas frame of joined paths it needs; it does
not include reading them from the database, which leadledger's figure does (the load is
also printed on its own).
"""

from __future__ import annotations

import contextlib
import io
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.embedded import sqlite
from leadledger import readmodels
from leadledger.ledgerdb import LedgerDB
from leadledger.projections.attribution import MODELS, Conversion, TouchPoint
from leadledger.projections.definitions import path_function
from leadledger.reports import attribution_report, load_journeys

ALGORITHMIC = ("markov", "shapley")


def measure(work: Callable[[], Any]) -> tuple[float, float]:
    """Seconds of one run, and the peak of Python allocations (MiB) of a second run
    (tracemalloc slows what it traces, so the timed run is not traced)."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        work()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    with contextlib.redirect_stdout(io.StringIO()):
        work()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def same_paths(ledger: LedgerDB, model: readmodels.ReadModel) -> tuple[list[str], list[str]]:
    """The channel paths the report credits (each deal_won conversion's path after the
    definitions' windows, filters and transforms) and the journeys that did not convert,
    passed through the same function from their last touch, as ChannelAttribution reads
    them: channel names joined by ``>``."""
    definitions = model.definitions
    journeys = load_journeys(ledger, model, definitions.attribution.conversion)
    path_of = path_function(definitions)
    order = lambda t: (t.occurred_at, t.event_id)  # noqa: E731
    paths = {lead: sorted(found, key=order) for lead, found in journeys.fitted_on().items()}
    converting: list[str] = []
    converted: set[str] = set()
    for conversion in journeys.conversions:
        at = conversion.occurred_at
        before = [t for t in paths.get(conversion.lead_id, ()) if t.occurred_at <= at]
        if kept := path_of(conversion, before):
            converting.append(">".join(t.channel for t in kept))
        converted.add(conversion.lead_id)
    lost: list[str] = []
    others = [p for lead, p in paths.items() if lead not in converted]
    others += [sorted(p, key=order) for p in journeys.visitors.values()]
    for path in others:
        if path and (kept := path_of(_at_last(path), path)):
            lost.append(">".join(t.channel for t in kept))
    return converting, lost


def _at_last(path: list[TouchPoint]) -> Conversion:
    """A probe conversion at a journey's last touch: its windows are measured from there."""
    return Conversion("probe", "probe", path[-1].occurred_at, Decimal(0), "EUR")


def frame(converting: list[str], lost: list[str]) -> Any:
    import pandas as pd

    conv, null = Counter(converting), Counter(lost)
    keys = sorted(set(conv) | set(null))
    return pd.DataFrame(
        {"path": keys, "conv": [conv[k] for k in keys], "null": [null[k] for k in keys]}
    )


def run(folder: Path) -> dict[str, Any]:
    """Every model's report, ChannelAttribution's heuristics and Markov, on one read model."""
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a banner when imported
        from ChannelAttribution import heuristic_models, markov_model

    database = sqlite(folder)
    ledger = LedgerDB(database.ledger_url())
    served = readmodels.served(ledger)
    definitions = served.definitions
    converting, lost = same_paths(ledger, served)
    load_s, _ = measure(lambda: load_journeys(ledger, served, definitions.attribution.conversion))
    heuristic = measure(lambda: heuristic_models(frame(converting, lost), "path", "conv",
                                                 flg_pro=False))  # fmt: skip
    markov = measure(lambda: markov_model(frame(converting, lost), "path", "conv",
                                          var_null="null", order=1, out_more=True,
                                          verbose=False, flg_pro=False))  # fmt: skip
    ours: dict[str, tuple[float, float]] = {}
    for name in MODELS:
        ours[name] = measure(lambda: attribution_report(ledger, served, name, definitions))  # noqa: B023
    report = attribution_report(ledger, served, "first_touch", definitions)
    ledger.close()
    return {
        "journeys": len(converting) + len(lost), "converting": len(converting),
        "distinct_paths": len(set(converting) | set(lost)),
        "conversions": report.get("conversions", len(converting)),
        "load_s": load_s, "heuristic": heuristic, "markov": markov, "ours": ours,
    }  # fmt: skip
