"""Algorithmic attribution: Markov removal effects and Shapley values, fitted on all journeys.

Both models learn from the same paths that are credited, and the Markov chain also from
every journey that did not convert, passed through the same definitions (see
:func:`leadledger.projections.attribution.attribute`); Shapley's game counts conversions
only. The Markov model is
solved exactly (a linear solve on the absorbing chain, no simulation), so it is
deterministic; Shapley values are exact up to ``exact_up_to`` channels and sampled with a
fixed seed beyond.

Two conventions turn the fitted numbers into credit:

- ``per_path``: a conversion's value is split among the channels on its own path in
  proportion to their fitted numbers (:func:`path_weights`), a channel's share among its
  touches equally. Channel totals are sums over paths, not the fitted numbers themselves.
- ``global`` (ChannelAttribution's and most papers' figures): a channel's total is its
  share of all conversions. For Markov that is its removal effect over the sum of removal
  effects (:func:`removal_shares`); for Shapley it is its value in the game, which splits
  exactly into an equal share for each distinct channel on each converting path
  (:func:`shapley_path_weights`), so no fit is needed.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np

Path = Sequence[str]
State = tuple[str, ...]
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"


def _states(path: State, order: int) -> list[State]:
    """The chain's states along a path: the last ``order`` channels at each step."""
    if order == 1:
        return [(channel,) for channel in path]
    return [path[max(0, i - order + 1) : i + 1] for i in range(len(path))]


Transitions = dict[State, dict[State, int]]


def transitions(converting: Sequence[Path], lost: Sequence[Path], order: int = 1) -> Transitions:
    """Counts of moves between the order-k chain's states, over every journey.

    Identical journeys are counted once and weighted, so a million journeys over a few
    thousand distinct paths cost a few thousand walks.
    """
    counts: Transitions = defaultdict(lambda: defaultdict(int))
    for paths, end in ((converting, CONVERSION), (lost, NULL)):
        for path, times in Counter(map(tuple, paths)).items():
            if not path:
                continue
            steps: list[State] = [(START,), *_states(path, order), (end,)]
            for here, there in itertools.pairwise(steps):
                counts[here][there] += times
    return counts


def solve(counts: Transitions, removed: str | None = None) -> float:
    """P(conversion) from the start state of the absorbing chain, by one linear solve.

    With ``removed``, every state containing that channel leads to the null state instead:
    the chain as if the channel did not exist.
    """
    if (START,) not in counts:
        return 0.0  # no journeys at all
    transient = sorted(counts)
    index = {state: i for i, state in enumerate(transient)}
    size = len(transient)
    q = np.zeros((size, size))
    r = np.zeros(size)
    for here, outgoing in counts.items():
        if removed is not None and here != (START,) and removed in here:
            continue  # a removed state converts nothing: all its mass goes to null
        total = sum(outgoing.values())
        for there, count in outgoing.items():
            if there == (CONVERSION,):
                r[index[here]] += count / total
            elif there != (NULL,):
                q[index[here], index[there]] += count / total
    solution = np.linalg.solve(np.eye(size) - q, r)
    return float(solution[index[(START,)]])


def conversion_probability(
    converting: Sequence[Path], lost: Sequence[Path], order: int = 1, removed: str | None = None
) -> float:
    """P(conversion) of the order-k chain fitted on the journeys (optionally less a channel)."""
    return solve(transitions(converting, lost, order), removed)


def removal_effects(
    converting: Sequence[Path], lost: Sequence[Path], order: int = 1
) -> dict[str, float]:
    """How much of the conversion probability is lost when each channel is removed."""
    counts = transitions(converting, lost, order)
    base = solve(counts)
    channels = sorted({c for state in counts for c in state} - {START, CONVERSION, NULL})
    if base == 0:
        return dict.fromkeys(channels, 0.0)
    return {c: max(0.0, 1 - solve(counts, removed=c) / base) for c in channels}


def shapley_values(
    converting: Sequence[Path], exact_up_to: int = 15, samples: int = 2000, seed: int = 7
) -> dict[str, float]:
    """Shapley value of each channel in the game where a coalition is worth the
    conversions whose path uses only its channels (Zhao et al., simplified Shapley)."""
    channels = sorted({c for path in converting for c in path})
    n = len(channels)
    if n == 0:
        return {}
    bit = {c: 1 << i for i, c in enumerate(channels)}
    conversions_by_set: dict[int, int] = defaultdict(int)
    for path in converting:
        conversions_by_set[sum(bit[c] for c in set(path))] += 1
    if n <= exact_up_to:
        worth = np.zeros(1 << n)
        for mask, count in conversions_by_set.items():
            worth[mask] += count
        for i in range(n):  # subset sums: worth[S] = conversions of paths within S
            step = 1 << i
            for mask in range(1 << n):
                if mask & step:
                    worth[mask] += worth[mask ^ step]
        sizes = np.array([bin(m).count("1") for m in range(1 << n)])
        weight = np.array([math.factorial(s) * math.factorial(n - s - 1) for s in range(n)])
        weight = weight / math.factorial(n)
        values = {}
        for i, channel in enumerate(channels):
            without = np.array([m for m in range(1 << n) if not m & (1 << i)])
            gains = worth[without | (1 << i)] - worth[without]
            values[channel] = float(np.sum(weight[sizes[without]] * gains))
        return values

    def coalition_worth(mask: int) -> int:
        return sum(c for s, c in conversions_by_set.items() if s & ~mask == 0)

    rng = random.Random(seed)
    totals = dict.fromkeys(channels, 0.0)
    for _ in range(samples):
        order = channels[:]
        rng.shuffle(order)
        mask, before = 0, 0
        for channel in order:
            mask |= bit[channel]
            after = coalition_worth(mask)
            totals[channel] += after - before
            before = after
    return {c: total / samples for c, total in totals.items()}


def path_weights(path: Sequence[str], scores: Mapping[str, float]) -> list[Fraction]:
    """Weights of a path's touches: channels by score, each channel's share split evenly
    among its touches; equal weights when no channel on the path scores."""
    on_path = sorted(set(path))
    score = {c: Fraction(max(0.0, scores.get(c, 0.0))) for c in on_path}
    total = sum(score.values(), Fraction(0))
    if total == 0:
        return [Fraction(1, len(path))] * len(path)
    touches = {c: path.count(c) for c in on_path}
    return [score[c] / total / touches[c] for c in path]


def removal_shares(effects: Mapping[str, float]) -> dict[str, Fraction]:
    """Each channel's share of all removal effects, exactly summing to one: the global
    Markov convention credits a channel with this share of every conversion. Empty when
    no channel has an effect (no conversions)."""
    exact = {c: Fraction(max(0.0, e)) for c, e in sorted(effects.items())}
    total = sum(exact.values(), Fraction(0))
    return {c: e / total for c, e in exact.items() if e} if total else {}


def shapley_path_weights(path: Sequence[str]) -> list[Fraction]:
    """A converting path's part of the Shapley value of the game :func:`shapley_values`
    plays: an equal share for each distinct channel on it, split among its touches.

    The game (a coalition is worth the conversions whose channels it holds) is a sum of
    unanimity games, one per converting path, and the Shapley value of a unanimity game
    gives each of its players an equal share (Zhao et al. 2018, "simplified Shapley").
    So these per-path weights sum over all paths to the exact Shapley values, for any
    number of channels.
    """
    return path_weights(path, dict.fromkeys(path, 1.0))
