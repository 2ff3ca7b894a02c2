# Chapter 08 notes: learning_notes/08_beyond_grpo/README.md#implementation-details-checklist
"""Chapter 08 against verl 0.9.1: REINFORCE++, GSPO, CISPO, GMPO, rollout correction, DAPO's overlong penalty.

Random float64 inputs with multi-turn masks (holes inside a response, an empty row), singleton and
all-equal groups; values and gradients must agree within 1e-6. The last tests pin down every place
where our numbers differ from verl's (all on inputs where verl raises, returns NaN or overflows):
they check our behaviour and that verl 0.9.1 still behaves as the notes say.
Skipped, with the reason, when verl is not importable. Runs against the package chosen with `--impl`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

core_algos = pytest.importorskip(
    "verl.trainer.ppo.core_algos", reason="verl is not installed: the verl conformance oracle is optional"
)
rollout_corr = pytest.importorskip("verl.trainer.ppo.rollout_corr_helper", reason="verl is not installed")
ActorConfig = pytest.importorskip("verl.workers.config.actor", reason="verl is not installed").ActorConfig
OmegaConf = pytest.importorskip("omegaconf", reason="omegaconf (a verl dependency) is not installed").OmegaConf

TOL = dict(atol=1e-6, rtol=1e-6)
SEEDS = range(3)
AGG_MODES = ["token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"]


def _close(ours, theirs, what: str) -> None:
    torch.testing.assert_close(torch.as_tensor(ours).double(), torch.as_tensor(theirs).double(), **TOL, msg=what)


def _mask(gen: torch.Generator, batch: int, length: int, empty_row: bool) -> torch.Tensor:
    """Ragged right padding, tool-output holes inside responses, optionally one empty response."""
    lengths = torch.randint(2, length + 1, (batch,), generator=gen)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).double()  # [B, T]
    mask = mask * (torch.rand(batch, length, generator=gen) > 0.3).double()
    mask[:, 0] = 1.0
    if empty_row:
        mask[-1] = 0.0
    return mask


def _groups_and_scores(gen: torch.Generator, batch: int) -> tuple[np.ndarray, torch.Tensor]:
    """Groups of 3 with ids as verl gets them (an object array), one all-equal group, one singleton."""
    ids = np.array([f"uid-{i // 3}" for i in range(batch)], dtype=object)
    ids[-1] = "singleton"
    scores = (torch.rand(batch, generator=gen) > 0.5).double() + 0.1 * torch.randn(batch, generator=gen).double()
    scores[:3] = 0.7  # the first group is tied
    return ids, scores


def _token_rewards(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The score on the last valid token of each row, as verl's reward managers place it."""
    rewards = torch.zeros_like(mask)
    last = (mask * torch.arange(mask.shape[1])).argmax(dim=-1)
    rewards[torch.arange(mask.shape[0]), last] = scores * (mask.sum(-1) > 0)
    return rewards


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_reinforce_pp(impl, seed: int, gamma: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    mask = _mask(gen, 9, 10, empty_row=True)
    rewards = torch.randn(9, 10, generator=gen).double() * (torch.rand(9, 10, generator=gen) > 0.6)  # turn rewards
    ours = impl.reinforce.reinforce_pp_advantages(rewards, mask, gamma=gamma)
    theirs, _ = core_algos.compute_reinforce_plus_plus_outcome_advantage(
        rewards.clone(), mask, config=OmegaConf.create({"gamma": gamma})
    )
    _close(ours, theirs, f"REINFORCE++ advantages, gamma={gamma}")


@pytest.mark.parametrize("seed", SEEDS)
def test_reinforce_pp_baseline(impl, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    mask = _mask(gen, 10, 8, empty_row=False)
    ids, scores = _groups_and_scores(gen, 10)
    ours = impl.reinforce.reinforce_pp_baseline_advantages(scores, ids, mask)
    theirs, _ = core_algos.compute_reinforce_plus_plus_baseline_outcome_advantage(
        _token_rewards(scores, mask), mask, ids
    )
    _close(ours, theirs, "REINFORCE++-baseline advantages")
    tied = ours[:3][mask[:3].bool()]
    assert (tied != 0).all(), "a tied group is shifted by the batch whitening, as in verl"


@pytest.mark.parametrize("seed", SEEDS)
def test_opo(impl, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    mask = _mask(gen, 10, 8, empty_row=True)
    ids, scores = _groups_and_scores(gen, 10)
    ours = impl.reinforce.opo_advantages(scores, ids, mask)
    theirs, _ = core_algos.compute_opo_outcome_advantage(_token_rewards(scores, mask), mask, ids)
    _close(ours, theirs, "OPO advantages")


def _actor_config(clip_low: float, clip_high: float, agg: str = "token-mean"):
    return ActorConfig(
        strategy="fsdp",
        rollout_n=1,
        ppo_micro_batch_size_per_gpu=1,
        clip_ratio=clip_low,
        clip_ratio_low=clip_low,
        clip_ratio_high=clip_high,
        loss_agg_mode=agg,
    )


def _loss_inputs(seed: int, noise: float, with_weights: bool):
    gen = torch.Generator().manual_seed(seed)
    mask = _mask(gen, 8, 12, empty_row=True)
    logp = -torch.rand(8, 12, generator=gen).double() * 3
    old = logp + torch.randn(8, 12, generator=gen).double() * noise
    seq_adv = torch.randn(8, 1, generator=gen).double()
    seq_adv[0] = 0.0
    advantages = seq_adv * mask  # one advantage per sequence, as GSPO and GMPO expect
    weights = torch.rand(8, 12, generator=gen).double() * 2 * mask if with_weights else None
    return logp, old, advantages, mask, weights


def _compare_loss(ours_fn, verl_fn, inputs, config, stat_keys, what: str, **kwargs) -> None:
    """Value, gradient w.r.t. logprobs, and the stats named in stat_keys (ours -> verl's key)."""
    logp, old, advantages, mask, weights = inputs
    lp_ours, lp_theirs = logp.clone().requires_grad_(True), logp.clone().requires_grad_(True)
    loss, stats = ours_fn(lp_ours, old, advantages, mask, is_weights=weights, **kwargs)
    ref_loss, ref_stats = verl_fn(
        old, lp_theirs, advantages, mask, loss_agg_mode=config.loss_agg_mode, config=config, rollout_is_weights=weights
    )
    _close(loss, ref_loss, f"{what}: loss")
    loss.backward()
    ref_loss.backward()
    _close(lp_ours.grad, lp_theirs.grad, f"{what}: gradient")
    for ours_key, verl_key in stat_keys.items():
        _close(stats[ours_key], ref_stats[verl_key], f"{what}: {ours_key}")


VERL_STATS = {"clipfrac": "actor/pg_clipfrac", "clipfrac_lower": "actor/pg_clipfrac_lower", "approx_kl": "actor/ppo_kl"}
GSPO_CLIPS = {"paper": (3e-4, 4e-4, 2e-3), "wide": (0.2, 0.28, 0.8)}  # (low, high, log-ratio noise)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("clip", list(GSPO_CLIPS))
@pytest.mark.parametrize("agg", AGG_MODES)
def test_gspo(impl, seed: int, clip: str, agg: str) -> None:
    low, high, noise = GSPO_CLIPS[clip]
    inputs = _loss_inputs(seed, noise, with_weights=seed == 0)
    config = _actor_config(low, high, agg)
    fn = impl.policy_losses.gspo_policy_loss
    _compare_loss(
        fn,
        core_algos.compute_policy_loss_gspo,
        inputs,
        config,
        VERL_STATS,
        f"GSPO {clip} {agg}",
        clip_low=low,
        clip_high=high,
        agg=agg,
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("low", "high"), [(0.2, 0.28), (1.0, 2.0)])
@pytest.mark.parametrize("agg", AGG_MODES)
def test_cispo(impl, seed: int, low: float, high: float, agg: str) -> None:
    inputs = _loss_inputs(seed, 0.5, with_weights=seed == 0)
    config = _actor_config(low, high, agg)
    fn = impl.policy_losses.cispo_policy_loss
    _compare_loss(
        fn,
        core_algos.compute_policy_loss_cispo,
        inputs,
        config,
        VERL_STATS,
        f"CISPO ({low}, {high}) {agg}",
        clip_low=low,
        clip_high=high,
        agg=agg,
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("low", "high"), [(0.4, 0.4), (0.1, 0.3)])
@pytest.mark.parametrize("with_weights", [False, True])
def test_gmpo(impl, seed: int, low: float, high: float, with_weights: bool) -> None:
    inputs = _loss_inputs(seed, 0.5, with_weights=with_weights)
    config = _actor_config(low, high)
    fn = impl.policy_losses.gmpo_policy_loss
    _compare_loss(
        fn,
        core_algos.compute_policy_loss_geo_mean,
        inputs,
        config,
        VERL_STATS,
        f"GMPO ({low}, {high})",
        clip_low=low,
        clip_high=high,
    )


IS_THRESHOLDS = {"TIS 2": 2.0, "TIS 1.2": 1.2, "IcePop 0.5-2": (0.5, 2.0), "IcePop 0.2-5": (0.2, 5.0)}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("level", ["token", "sequence"])
@pytest.mark.parametrize("threshold", list(IS_THRESHOLDS))
def test_rollout_is_weights(impl, seed: int, level: str, threshold: str) -> None:
    gen = torch.Generator().manual_seed(seed)
    mask = _mask(gen, 8, 10, empty_row=True)
    log_ratio = (torch.randn(8, 10, generator=gen).double() * 0.4).requires_grad_(True)
    value = IS_THRESHOLDS[threshold]
    weights, stats = impl.rollout_correction.rollout_is_weights(log_ratio, mask, level=level, threshold=value)
    verl_threshold = value if isinstance(value, float) else f"{value[0]}_{value[1]}"
    ref_weights, ref_stats = rollout_corr.compute_rollout_correction_weights(
        log_ratio.detach(), mask, rollout_is=level, rollout_is_threshold=verl_threshold
    )
    _close(weights, ref_weights, f"{level} {threshold}: weights")
    assert not weights.requires_grad, "the weights must be detached"
    _close(stats["weight_mean"], ref_stats["rollout_is_mean"], "weight_mean")
    _close(stats["ess"], ref_stats["rollout_is_eff_sample_size"], "ess")
    if isinstance(value, tuple):
        _close(stats["masked_fraction"], ref_stats["rollout_is_oob_ratio"], "masked_fraction")
    elif level == "token":  # verl's sequence-level fraction counts sequences (empty ones too), ours tokens
        _close(stats["truncated_fraction"], ref_stats["rollout_is_ratio_fraction_high"], "truncated_fraction")
    _close(stats["log_ratio_abs_mean"], (log_ratio.detach().abs() * mask).sum() / mask.sum(), "log_ratio_abs_mean")


class _NoTextTokenizer:
    """The DAPO reward manager decodes for its score function; ours returns a constant score."""

    eos_token = "</s>"

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return ""


@pytest.mark.parametrize("factor", [1.0, 0.5])
def test_overlong_penalty(impl, factor: float) -> None:
    from verl import DataProto
    from verl.workers.reward_manager.dapo import DAPORewardManager

    max_len, buffer_len, width, batch = 16, 5, 20, 21
    lengths = torch.arange(batch) % width + 1  # 1..20: below, inside and beyond the soft zone
    ours = impl.rollout_correction.overlong_penalty(lengths, max_len, buffer_len, penalty_factor=factor)
    attention = torch.cat([torch.ones(batch, 2), (torch.arange(width)[None] < lengths[:, None]).float()], 1)
    data = DataProto.from_dict(
        tensors={
            "prompts": torch.ones(batch, 2, dtype=torch.long),
            "responses": torch.ones(batch, width, dtype=torch.long),
            "attention_mask": attention.long(),
        },
        non_tensors={
            "reward_model": np.array([{"ground_truth": ""}] * batch, dtype=object),
            "data_source": np.array(["synthetic"] * batch, dtype=object),
        },
    )
    buffer_cfg = OmegaConf.create({"enable": True, "len": buffer_len, "penalty_factor": factor, "log": False})
    manager = DAPORewardManager(
        _NoTextTokenizer(),
        num_examine=0,
        compute_score=lambda **_: 0.0,
        max_resp_len=max_len,
        overlong_buffer_cfg=buffer_cfg,
    )
    theirs = manager(data).sum(dim=-1)  # the penalty sits on the last response token
    _close(ours, theirs, f"overlong penalty, factor {factor}")


# ---- where we differ from verl 0.9.1, on purpose: each test checks ours first, then that verl still does this


def test_differs_reinforce_pp_with_one_valid_token(impl) -> None:
    mask = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    rewards = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    assert torch.equal(impl.reinforce.reinforce_pp_advantages(rewards, mask), torch.zeros(2, 2))
    baseline = impl.reinforce.reinforce_pp_baseline_advantages(torch.tensor([1.0, 0.0]), [0, 1], mask)
    assert torch.equal(baseline, torch.zeros(2, 2))
    with pytest.raises(ValueError):  # verl: masked_var refuses one valid token
        core_algos.compute_reinforce_plus_plus_outcome_advantage(rewards, mask, config=OmegaConf.create({"gamma": 1.0}))
    with pytest.raises(ValueError):
        core_algos.compute_reinforce_plus_plus_baseline_outcome_advantage(rewards, mask, np.array([0, 1]))


def test_differs_opo_group_of_empty_responses(impl) -> None:
    mask = torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    ids = np.array([0, 1, 1])
    ours = impl.reinforce.opo_advantages(torch.tensor([1.0, 0.0, 1.0]), ids, mask)
    assert torch.equal(ours, torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]))
    theirs, _ = core_algos.compute_opo_outcome_advantage(torch.zeros(3, 2), mask, ids)
    assert torch.isnan(theirs[1:]).all(), "verl's length-weighted mean is 0 / 0 for an all-empty group"


def test_differs_gmpo_huge_log_ratio(impl) -> None:
    logp, old, adv, mask = torch.tensor([[100.0]]), torch.tensor([[0.0]]), torch.tensor([[-1.0]]), torch.ones(1, 1)
    loss, _ = impl.policy_losses.gmpo_policy_loss(logp, old, adv, mask)
    assert math.isclose(float(loss), math.exp(20.0), rel_tol=1e-5), "our log-ratio is clamped to 20"
    theirs, _ = core_algos.compute_policy_loss_geo_mean(old, logp, adv, mask, config=_actor_config(0.4, 0.4))
    assert math.isinf(float(theirs)), "verl does not clamp: exp(100) overflows float32"


def test_differs_rollout_is_weights_without_valid_weights(impl) -> None:
    fn = impl.rollout_correction.rollout_is_weights
    weights, stats = fn(torch.zeros(2, 3), torch.zeros(2, 3), level="token", threshold=2.0)
    assert torch.equal(weights, torch.zeros(2, 3)) and all(v == 0.0 for v in stats.values()), stats
    weights, stats = fn(torch.full((2, 3), 3.0), torch.ones(2, 3), level="token", threshold=(0.5, 2.0))
    assert torch.equal(weights, torch.zeros(2, 3)) and stats["ess"] == 0.0 and stats["masked_fraction"] == 1.0
    with pytest.raises(ValueError):  # verl refuses an all-zero mask
        rollout_corr.compute_rollout_correction_weights(torch.zeros(2, 3), torch.zeros(2, 3), "token", 2.0)
    with pytest.raises(ZeroDivisionError):  # verl's ESS divides by 0 when IcePop drops every token
        rollout_corr.compute_rollout_correction_weights(torch.full((2, 3), 3.0), torch.ones(2, 3), "token", "0.5_2.0")
