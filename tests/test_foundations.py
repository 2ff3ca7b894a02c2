# Chapter 00 notes: learning_notes/00_foundations/README.md#reinforce-on-a-bandit-and-on-the-probe
"""End to end: REINFORCE written with the chapter's functions must learn a bandit and chapter 03's probe,
and must fail with a flipped sign; a leave-one-out baseline makes a constant reward offset irrelevant."""

from __future__ import annotations

import pytest

from minimal_impl.foundations import BASELINES, train_bandit
from minimal_impl.probe import train_probe

ARMS = (0.2, 0.5, 0.8)  # the default bandit: chance (uniform policy) 0.5, best arm 0.8


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reinforce_learns_the_bandit(impl, seed: int) -> None:
    curve = train_bandit(impl.foundations.reinforce_loss, arm_means=ARMS, seed=seed)
    assert abs(curve[0] - 0.5) < 1e-6, f"a uniform policy starts at the mean arm, 0.5; got {curve[0]:.4f}"
    assert curve[-1] > 0.75, f"expected reward only reached {curve[-1]:.3f} after 100 steps (best arm 0.8)"


def test_reinforce_fails_with_a_flipped_sign(impl) -> None:
    """Gradient ascent on the loss (a sign error) must drive the policy to the worst arm, and the test must see it."""

    def ascending(*args, **kwargs):
        return -impl.foundations.reinforce_loss(*args, **kwargs)

    curve = train_bandit(ascending, arm_means=ARMS, seed=0)
    assert curve[-1] < 0.25, f"a flipped sign should drive the policy to the 0.2 arm, got {curve[-1]:.3f}"


def test_leave_one_out_baseline_cancels_a_reward_offset(impl) -> None:
    """(r_i + c) - mean_{j != i}(r_j + c) = r_i - mean_{j != i} r_j: with the baseline, adding 5 to every
    reward changes nothing, step for step. A loss that ignores its baseline fails this."""
    plain = train_bandit(impl.foundations.reinforce_loss, arm_means=ARMS, seed=0, steps=40)
    shifted = train_bandit(impl.foundations.reinforce_loss, arm_means=ARMS, seed=0, steps=40, reward_offset=5.0)
    worst = max(abs(a - b) for a, b in zip(plain, shifted))
    assert worst < 1e-4, f"a reward offset of 5 changed the learning curve by up to {worst:.4f} despite the baseline"


def test_reinforce_learns_the_probe(impl) -> None:
    """Chapter 03's probe with plain REINFORCE (one on-policy step per batch, leave-one-out baseline)."""

    def policy_loss(logprobs, old_logprobs, advantages, mask):
        return impl.foundations.reinforce_loss(logprobs, advantages, mask), {}

    def advantages(scores, group_ids):
        return scores - BASELINES["leave-one-out"](scores)

    curve = train_probe(policy_loss, advantages, ppo_epochs=1, seed=0)
    final = sum(curve[-5:]) / 5
    assert curve[0] < 0.3 and final > 0.9, f"REINFORCE on the probe: {curve[0]:.3f} -> {final:.3f} (expected > 0.9)"


def test_surrogate_reuses_a_batch_on_the_probe(impl) -> None:
    """Two gradient steps per batch need the importance ratio: the unclipped surrogate still learns the probe."""

    def policy_loss(logprobs, old_logprobs, advantages, mask):
        return impl.foundations.surrogate_loss(logprobs, old_logprobs, advantages, mask), {}

    def advantages(scores, group_ids):
        return scores - BASELINES["leave-one-out"](scores)

    curve = train_probe(policy_loss, advantages, ppo_epochs=2, seed=0)
    final = sum(curve[-5:]) / 5
    assert final > 0.9, f"the surrogate on the probe reached {final:.3f} (expected > 0.9)"
