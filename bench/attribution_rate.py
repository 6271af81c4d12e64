"""Benchmark: journeys attributed per second, leadledger beside ChannelAttribution.

    .venv/bin/python bench/attribution_rate.py [--journeys 1000000]

Data: seeded synthetic journeys over 8 channels, 1 to 5 touches each, about a third
converting. Both sides start from the same list of journeys and end with credit per
channel, and each side's time includes turning the raw journeys into its input (leadledger
counts distinct paths; ChannelAttribution needs a pandas frame of joined path strings).
Heuristic models: first touch, last touch, linear (the three ChannelAttribution offers).
Markov: order 1 and order 3; leadledger solves the chain exactly, ChannelAttribution
simulates (its defaults). Removal effects of the two are printed side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from leadledger.projections.algorithmic import removal_effects
from leadledger.projections.attribution import channel_totals

CHANNELS = [
    "paid_search",
    "paid_social",
    "organic",
    "email",
    "referral",
    "display",
    "events",
    "direct",
]


def journeys(count: int, seed: int = 42) -> tuple[list[list[str]], list[list[str]]]:
    rng = random.Random(seed)
    weights = [30, 20, 15, 12, 8, 6, 4, 5]
    converting: list[list[str]] = []
    lost: list[list[str]] = []
    for _ in range(count):
        path = rng.choices(CHANNELS, weights, k=rng.randint(1, 5))
        chance = 0.25 + 0.1 * ("email" in path) + 0.05 * ("events" in path)
        (converting if rng.random() < chance else lost).append(path)
    return converting, lost


def peer_frame(converting: list[list[str]], lost: list[list[str]]) -> Any:
    import pandas as pd

    conv = Counter(">".join(p) for p in converting)
    null = Counter(">".join(p) for p in lost)
    keys = sorted(set(conv) | set(null))
    return pd.DataFrame(
        {"path": keys, "conv": [conv[k] for k in keys], "null": [null[k] for k in keys]}
    )


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = work()
    return time.perf_counter() - start, result


def main() -> None:
    from ChannelAttribution import heuristic_models, markov_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--journeys", type=int, default=1_000_000)
    args = parser.parse_args()
    converting, lost = journeys(args.journeys)
    n = args.journeys
    print(f"data: {n:,} journeys ({len(converting):,} converting), 8 channels, 1-5 touches, "
          f"{len(set(map(tuple, converting + lost))):,} distinct paths")  # fmt: skip
    print(f"{'model':<22} {'leadledger j/s':>15} {'ChannelAttribution j/s':>23}")

    ours_time, _ = timed(
        lambda: [channel_totals(m, converting) for m in ("first_touch", "last_touch", "linear")]
    )
    peer_time, _ = timed(
        lambda: heuristic_models(peer_frame(converting, lost), "path", "conv", flg_pro=False)
    )
    print(f"{'heuristic (3 models)':<22} {n / ours_time:>15,.0f} {n / peer_time:>23,.0f}")

    for order in (1, 3):
        ours_time, ours = timed(lambda: removal_effects(converting, lost, order))  # noqa: B023
        peer_time, peer = timed(
            lambda: markov_model(peer_frame(converting, lost), "path", "conv", var_null="null",
                                 order=order, out_more=True, verbose=False, flg_pro=False)  # noqa: B023
        )  # fmt: skip
        print(f"{f'markov order {order}':<22} {n / ours_time:>15,.0f} {n / peer_time:>23,.0f}")
        theirs = dict(zip(peer["removal_effects"]["channel_name"],
                          peer["removal_effects"]["removal_effect"], strict=True))  # fmt: skip
        diffs = ", ".join(f"{c} {ours[c]:.4f}/{theirs.get(c, float('nan')):.4f}" for c in CHANNELS)
        print(f"  removal effects leadledger/peer: {diffs}")


if __name__ == "__main__":
    main()
