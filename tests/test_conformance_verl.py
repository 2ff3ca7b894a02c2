# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#implementation-details-checklist
"""Conformance with the reference practitioners use: verl 0.9.x `core_algos.py`, on random inputs.

Skipped, with the reason, when verl is not importable (`bash tests/run.sh` installs it; see README).
The checks run against the package chosen with `--impl`, so a learner can test their own code too.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

core_algos = pytest.importorskip(
    "verl.trainer.ppo.core_algos", reason="verl is not installed: the verl conformance oracle is optional"
)
verl_F = pytest.importorskip("verl.utils.torch_functional", reason="verl is not installed")
OmegaConf = pytest.importorskip("omegaconf", reason="omegaconf (a verl dependency) is not installed").OmegaConf

TOL = dict(atol=1e-5, rtol=1e-5)
SEEDS = range(5)


def _batch(seed: int, batch: int = 6, length: int = 12, holes: bool = True):
    """Random [B, T] tensors; masks are ragged (right padding) with optional tool-output holes."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, length + 1, (batch,), generator=gen)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).float()  # [B, T]
    if holes:
        mask = mask * (torch.rand(batch, length, generator=gen) > 0.25).float()
        mask[:, 0] = 1.0  # at least one valid token per row
    values = torch.randn(batch, length, generator=gen)
    rewards = torch.zeros(batch, length)
    last = (mask * torch.arange(length)).argmax(dim=-1)
    rewards[torch.arange(batch), last] = torch.randn(batch, generator=gen)
    logp = -torch.rand(batch, length, generator=gen) * 3
    old_logp = logp + torch.randn(batch, length, generator=gen) * 0.3
    adv = torch.randn(batch, length, generator=gen)
    return mask, values, rewards, logp, old_logp, adv, gen


def _assert_close(ours, theirs, what: str) -> None:
    torch.testing.assert_close(torch.as_tensor(ours).double(), torch.as_tensor(theirs).double(), **TOL, msg=what)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("gamma", "lam"), [(1.0, 1.0), (0.99, 0.95), (0.9, 0.0)])
def test_gae_with_whitening(impl, seed: int, gamma: float, lam: float) -> None:
    mask, values, rewards, *_ = _batch(seed)
    ref_adv, ref_ret = core_algos.compute_gae_advantage_return(rewards, values, mask, gamma, lam)
    adv, ret = impl.gae.compute_gae(rewards, values, mask, gamma=gamma, lam=lam)
    _assert_close(ret, ref_ret, "GAE returns")
    _assert_close(impl.masked.masked_whiten(adv, mask), ref_adv, "whitened GAE advantages")


@pytest.mark.parametrize("seed", SEEDS)
def test_masked_statistics(impl, seed: int) -> None:
    mask, values, *_ = _batch(seed)
    _assert_close(impl.masked.masked_mean(values, mask), verl_F.masked_mean(values, mask), "masked_mean")
    _assert_close(
        impl.masked.masked_mean(values, mask, dim=-1), verl_F.masked_mean(values, mask, axis=-1), "masked_mean dim"
    )
    _assert_close(impl.masked.masked_var(values, mask), verl_F.masked_var(values, mask), "masked_var")
    _assert_close(impl.masked.masked_whiten(values, mask), verl_F.masked_whiten(values, mask), "masked_whiten")
    _assert_close(
        impl.masked.masked_whiten(values, mask, shift_mean=False),
        verl_F.masked_whiten(values, mask, shift_mean=False),
        "masked_whiten shift_mean=False",
    )


def _groups(seed: int, batch: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = np.array([f"uid-{i}" for i in rng.integers(0, max(1, batch // 3), size=batch)], dtype=object)
    ids[-1] = "singleton"  # always one group of size one
    return ids


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scale_by_std", [True, False])
def test_grpo(impl, seed: int, scale_by_std: bool) -> None:
    mask, _, rewards, *_ = _batch(seed, batch=16)
    index = _groups(seed, 16)
    rewards[:3] = rewards[3:6] = 1.0  # some ties
    ref_adv, _ = core_algos.compute_grpo_outcome_advantage(
        rewards.clone(), mask, index, epsilon=1e-6, norm_adv_by_std_in_grpo=scale_by_std
    )
    seq_adv = impl.grpo.grpo_advantages(rewards.sum(-1), index, eps=1e-6, scale_by_std=scale_by_std)
    _assert_close(impl.grpo.spread_over_tokens(seq_adv, mask), ref_adv, f"GRPO scale_by_std={scale_by_std}")


@pytest.mark.parametrize("seed", SEEDS)
def test_rloo(impl, seed: int) -> None:
    mask, _, rewards, *_ = _batch(seed, batch=16)
    index = _groups(seed, 16)
    ref_adv, _ = core_algos.compute_rloo_outcome_advantage(rewards.clone(), mask, index)
    seq_adv = impl.grpo.rloo_advantages(rewards.sum(-1), index)
    _assert_close(impl.grpo.spread_over_tokens(seq_adv, mask), ref_adv, "RLOO")


AGG_MODES = ["token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"]
CLIPS = {  # name: (clip_low, clip_high, dual_clip); verl always dual-clips, a huge c switches it off
    "symmetric": (0.2, None, None),
    "asymmetric": (0.2, 0.28, None),
    "dual": (0.2, 0.2, 3.0),
    "asymmetric+dual": (0.1, 0.3, 2.0),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("clip", list(CLIPS))
@pytest.mark.parametrize("agg", AGG_MODES)
def test_policy_loss(impl, seed: int, clip: str, agg: str) -> None:
    mask, _, _, logp, old_logp, adv, _ = _batch(seed)
    low, high, dual = CLIPS[clip]
    logp = logp * 2  # ratios far from 1, so that every clip branch is taken
    config = OmegaConf.create(
        {
            "clip_ratio": low,
            "clip_ratio_low": low,
            "clip_ratio_high": high,
            "clip_ratio_c": dual if dual is not None else 1e12,
            "global_batch_info": {},
        }
    )
    ref_loss, ref_stats = core_algos.compute_policy_loss_vanilla(old_logp, logp, adv, mask.bool(), agg, config)
    loss, stats = impl.ppo.ppo_policy_loss(
        logp, old_logp, adv, mask, clip_low=low, clip_high=high, dual_clip=dual, agg=agg
    )
    _assert_close(loss, ref_loss, f"policy loss {clip} {agg}")
    _assert_close(stats["clipfrac"], ref_stats["actor/pg_clipfrac"], "clipfrac")
    _assert_close(stats["clipfrac_lower"], ref_stats["actor/pg_clipfrac_lower"], "clipfrac_lower")
    _assert_close(stats["approx_kl"], ref_stats["actor/ppo_kl"], "approx_kl")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("agg", AGG_MODES)
def test_value_loss_and_aggregation(impl, seed: int, agg: str) -> None:
    mask, values, rewards, *_ = _batch(seed)
    gen = torch.Generator().manual_seed(100 + seed)
    vpreds = values + torch.randn(values.shape, generator=gen) * 0.5
    returns = rewards + torch.randn(values.shape, generator=gen)
    ref_loss, ref_clipfrac = core_algos.compute_value_loss(vpreds, returns, values, mask, 0.2, agg)
    loss, stats = impl.ppo.value_loss(vpreds, values, returns, mask, clip=0.2, agg=agg)
    _assert_close(loss, ref_loss, f"value loss {agg}")
    _assert_close(stats["vf_clipfrac"], ref_clipfrac, "vf_clipfrac")
    _assert_close(
        impl.ppo.aggregate_loss(returns, mask, agg), core_algos.agg_loss(returns, mask, agg), f"agg_loss {agg}"
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["k1", "k2", "k3", "abs", "kl", "mse", "low_var_kl", "k1+", "k3+"])
def test_kl_estimators(impl, seed: int, kind: str) -> None:
    _, _, _, logp, old_logp, *_ = _batch(seed)
    logp_ours = (logp * 3).clone().requires_grad_(True)  # large log-ratios reach the k3 clamps
    logp_ref = (logp * 3).clone().requires_grad_(True)
    ours = impl.kl.kl_estimate(logp_ours, old_logp, kind)
    theirs = core_algos.kl_penalty(logp_ref, old_logp, kind)
    _assert_close(ours, theirs, f"KL {kind}")
    ours.sum().backward()
    theirs.sum().backward()
    _assert_close(logp_ours.grad, logp_ref.grad, f"KL {kind} gradient")


def test_entropy(impl) -> None:
    logits = torch.randn(4, 7, 11, generator=torch.Generator().manual_seed(0)) * 4
    _assert_close(impl.ppo.entropy_from_logits(logits), verl_F.entropy_from_logits(logits), "entropy")


def test_kl_controllers(impl) -> None:
    ours = impl.kl.AdaptiveKLController(init_kl_coef=0.2, target_kl=0.1, horizon=500)
    theirs = core_algos.AdaptiveKLController(init_kl_coef=0.2, target_kl=0.1, horizon=500)
    fixed_ours, fixed_theirs = impl.kl.FixedKLController(0.05), core_algos.FixedKLController(0.05)
    for kl in [0.3, 0.12, 0.05, 0.0, 0.09, 1.0]:
        for a, b in ((ours, theirs), (fixed_ours, fixed_theirs)):
            a.update(kl, 64)
            b.update(kl, 64)
            _assert_close(a.value, b.value, "KL coefficient")
