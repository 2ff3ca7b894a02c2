# Chapter 00 notes: learning_notes/00_foundations/README.md#implementation-checklist
"""Bad input to chapter 00's reference functions gets a message that says what is wrong, not a traceback deep inside."""

from __future__ import annotations

import pytest
import torch

from minimal_impl.foundations import reward_to_go, softmax_score, train_bandit


def test_gamma_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\], got 1.5"):
        reward_to_go(torch.ones(1, 3), gamma=1.5)


def test_softmax_score_refuses_float_or_out_of_range_actions() -> None:
    logits = torch.zeros(2, 3)
    with pytest.raises(TypeError, match="actions must be integers"):
        softmax_score(logits, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"actions must be in \[0, 3\), got values from 0 to 3"):
        softmax_score(logits, torch.tensor([0, 3]))


def test_train_bandit_names_the_baselines() -> None:
    with pytest.raises(ValueError, match="baseline must be one of none, leave-one-out, got 'mean'"):
        train_bandit(baseline="mean")
    with pytest.raises(ValueError, match="leave-one-out baseline needs batch >= 2"):
        train_bandit(batch=1)
