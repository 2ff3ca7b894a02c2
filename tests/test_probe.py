# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#the-probe-a-policy-that-must-learn
"""End to end: the chapter's loss and advantages must make a softmax policy learn (and a sign flip must not)."""

from __future__ import annotations

import pytest

from minimal_impl.probe import train_probe


def _final_reward(curve: list[float]) -> float:
    return sum(curve[-5:]) / 5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_probe_learns(impl, seed: int) -> None:
    curve = train_probe(impl.ppo.ppo_policy_loss, impl.grpo.grpo_advantages, seed=seed)
    assert curve[0] < 0.3, f"the probe should start near chance (1/8), got {curve[0]:.3f}"
    assert _final_reward(curve) > 0.9, f"reward only reached {_final_reward(curve):.3f} (expected > 0.9)"


def test_probe_with_rloo_learns(impl) -> None:
    curve = train_probe(impl.ppo.ppo_policy_loss, impl.grpo.rloo_advantages, seed=0)
    assert _final_reward(curve) > 0.9, f"RLOO probe reached {_final_reward(curve):.3f}"


def test_probe_fails_with_sign_error(impl) -> None:
    """A flipped advantage sign must be caught: the policy then learns to avoid the target."""

    def flipped(scores, group_ids):
        return -impl.grpo.grpo_advantages(scores, group_ids)

    curve = train_probe(impl.ppo.ppo_policy_loss, flipped, seed=0)
    assert _final_reward(curve) < 0.1, f"a sign error should make the probe fail, reward {_final_reward(curve):.3f}"


def test_probe_fails_with_flipped_loss(impl) -> None:
    def ascending(*args, **kwargs):
        loss, stats = impl.ppo.ppo_policy_loss(*args, **kwargs)
        return -loss, stats

    curve = train_probe(ascending, impl.grpo.grpo_advantages, seed=0)
    assert _final_reward(curve) < 0.1, (
        f"minimising the objective instead of the loss should fail, got {_final_reward(curve):.3f}"
    )


def test_actor_loss_trains_the_probe(impl) -> None:
    """Chapter 06's micro-batch loss (log-probs from logits, clipped loss, KL, entropy) trains the probe too."""
    curve = train_probe(advantage_fn=impl.grpo.grpo_advantages, actor_loss_fn=impl.actor_loss.actor_loss, seed=0)
    assert _final_reward(curve) > 0.9, f"the actor loss trained the probe to only {_final_reward(curve):.3f}"

    def flipped(scores, group_ids):
        return -impl.grpo.grpo_advantages(scores, group_ids)

    curve = train_probe(advantage_fn=flipped, actor_loss_fn=impl.actor_loss.actor_loss, seed=0)
    assert _final_reward(curve) < 0.1, f"with a sign error the actor loss should fail, got {_final_reward(curve):.3f}"
