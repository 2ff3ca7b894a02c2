# Chapter 08 notes: learning_notes/08_beyond_grpo/README.md#gspo-one-ratio-per-sequence
"""End to end: chapter 03's probe policy must also learn with GSPO's, CISPO's and GMPO's losses."""

from __future__ import annotations

from functools import partial

import pytest

from minimal_impl.grpo import grpo_advantages
from minimal_impl.probe import train_probe

LOSSES = {  # name: (function name in policy_losses, keyword arguments); defaults are the papers'
    "gspo": ("gspo_policy_loss", {}),
    "cispo": ("cispo_policy_loss", {"clip_low": 1.0, "clip_high": 0.28}),  # MiniMax-M1: no lower bound
    "gmpo": ("gmpo_policy_loss", {}),
}


@pytest.mark.parametrize("loss", list(LOSSES))
def test_probe_learns_with_each_loss(impl, loss: str) -> None:
    name, kwargs = LOSSES[loss]
    curve = train_probe(partial(getattr(impl.policy_losses, name), **kwargs), grpo_advantages, steps=30, seed=0)
    final = sum(curve[-5:]) / 5
    assert curve[0] < 0.3, f"the probe should start near chance (1/8), got {curve[0]:.3f}"
    assert final > 0.9, f"{loss}: reward only reached {final:.3f} after 30 steps (expected > 0.9)"
