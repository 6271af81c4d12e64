"""leadledger's exact Markov removal effects against ChannelAttribution's simulation."""

import contextlib
import io
import random
from collections import Counter

import pandas as pd
import pytest
from ChannelAttribution import markov_model

from leadledger.projections.algorithmic import removal_effects


def test_removal_effects_agree_with_channelattribution_within_one_percent() -> None:
    rng = random.Random(1)
    channels = ["a", "b", "c", "d", "e"]
    converting: list[list[str]] = []
    lost: list[list[str]] = []
    for _ in range(3000):
        path = [rng.choices(channels, [5, 3, 2, 2, 1])[0] for _ in range(rng.randint(1, 5))]
        (converting if rng.random() < 0.2 + 0.15 * ("c" in path) else lost).append(path)
    ours = removal_effects(converting, lost, order=1)

    conv = Counter(">".join(p) for p in converting)
    null = Counter(">".join(p) for p in lost)
    keys = sorted(set(conv) | set(null))
    frame = pd.DataFrame({"path": keys, "conv": [conv[k] for k in keys],
                          "null": [null[k] for k in keys]})  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        result = markov_model(frame, "path", "conv", var_null="null", order=1, out_more=True,
                              verbose=False, flg_pro=False, nsim_start=1e7, conv_par=0.005,
                              max_step=1000, seed=3)  # fmt: skip
    theirs = dict(zip(result["removal_effects"]["channel_name"],
                      result["removal_effects"]["removal_effect"], strict=True))  # fmt: skip
    assert set(theirs) == set(ours)
    for channel, effect in ours.items():
        assert effect == pytest.approx(theirs[channel], rel=0.01), channel
