# Chapter 08 notes: learning_notes/08_beyond_grpo/README.md#what-each-method-changes
"""Every worked number of chapter 08: the hand-worked examples computed by reinforce.py, policy_losses.py and
rollout_correction.py on the inputs of their checks (tests/checks/), and the simulations by the notebook's own
cells (notebooks/08_beyond_grpo.py, run without figures). The estimator bake-off section's numbers are computed from the committed bench/results/estimator_bakeoff.json."""

from __future__ import annotations

import inspect
import json
import math
import statistics
from dataclasses import fields

import numpy as np
import torch

from minimal_impl import foundations, policy_losses, ppo, reinforce, rollout_correction
from minimal_impl.config import TrainConfig
from scripts.check_numbers import ROOT, Asserted, Cited, Computed, Given, Measured
from tests.checks import policy_losses as loss_checks
from tests.checks import reinforce as reinforce_checks
from tests.checks import rollout_correction as correction_checks
from tests.numbers._notebook import run_sections

NOTE = "learning_notes/08_beyond_grpo/README.md"
COMPLETE = True

NOTEBOOK = "notebooks/08_beyond_grpo.py"
F64 = torch.float64


def _notebook() -> dict:
    """Sections 4 (multi-turn credit), 5 (GSPO spread), 9 (bf16 engine), 10 (staleness), 11 (entropy)."""
    return run_sections(NOTEBOOK, 4, 5, 9, 10, 11)


def _default(fn: object, name: str) -> object:
    return inspect.signature(fn).parameters[name].default


# ------------------------------------------------------------------------------ REINFORCE++
def _reinforce_pp() -> list:
    rewards, mask, gamma = reinforce_checks.RF_REWARDS, reinforce_checks.RF_MASK, 0.5
    adv = reinforce.reinforce_pp_advantages(rewards, mask, gamma=gamma)
    valid = mask.bool()
    # the returns of the valid tokens: reward-to-go on each row with the tool tokens cut out
    g0, g1 = (foundations.reward_to_go(rewards[i][valid[i]], gamma=gamma).tolist() for i in range(2))
    returns = torch.tensor(g0 + g1, dtype=F64)
    squares = sorted({round(v * v, 12) for v in returns.tolist()})
    var = returns.var().item()  # unbiased
    a0 = adv[0][valid[0]].tolist()  # row 0: G_0, G_1, G_4 whitened; row 1 is its mirror image
    assert torch.allclose(adv[1][valid[1]].abs(), adv[0][valid[0]].abs())
    return [
        gamma,
        0, mask[0].tolist(), rewards[0, -1],
        1, mask[1].tolist(), rewards[1][valid[1]][-1],
        0, g0[2],
        rewards[0, 1], gamma, g0[2], g0[1], g0[0],
        1, g1[::-1],
        returns.mean(), 2, squares, len(returns) - 1, var, math.sqrt(var),
        a0,
    ]  # fmt: skip


def _rpp_baseline() -> list:
    scores, groups, mask = reinforce_checks.RB_SCORES, reinforce_checks.RB_GROUPS, reinforce_checks.RB_MASK
    adv = reinforce.reinforce_pp_baseline_advantages(scores, groups, mask)
    tokens = mask.sum(-1)
    centred = scores.clone()
    for g in dict.fromkeys(groups):
        rows = [i for i, x in enumerate(groups) if x == g]
        if len(rows) > 1:  # a singleton keeps its raw score
            centred[rows] = scores[rows] - scores[rows].mean()
    values = (centred[:, None] * mask)[mask.bool()]
    mean = values.mean().item()
    deviations = [
        (round(d, 6), (values - mean)[(values - mean - d).abs() < 1e-6].numel()) for d in (0.3, -0.7, -0.2, 0.8)
    ]
    assert sum(n for _, n in deviations) == values.numel()
    var = values.var().item()
    first = adv[:, 0].tolist()
    assert all(torch.allclose(adv[i][mask[i].bool()], adv[i, 0]) for i in range(len(first)))  # one value per row
    assert first[4] == first[5] == first[6]
    squares = []
    for d, n in deviations:
        squares += [n, d * d]
    return [
        scores[:4].tolist(), scores[4:7].tolist(), scores[7:].tolist(), tokens.tolist(),
        centred.tolist(),
        values.numel(), values.sum().item() / values.numel(), mean,
        squares[:-2], squares[-1], values.numel() - 1, var, math.sqrt(var),
        first[:4], first[4], 3, first[7],
    ]  # fmt: skip


def _opo() -> list:
    scores, groups, mask = (
        reinforce_checks.OPO_SCORES[:3],
        reinforce_checks.OPO_GROUPS[:3],
        reinforce_checks.OPO_MASK[:3],
    )
    lengths = mask.sum(-1)
    adv = reinforce.opo_advantages(scores, groups, mask)
    weighted = (lengths * scores).tolist()
    return [
        scores.tolist(), lengths.tolist(),
        weighted, lengths.sum(), sum(weighted) / lengths.sum().item(), scores.mean(),
        adv[:, 0].tolist(),
    ]  # fmt: skip


# ------------------------------------------------------------------------------ GSPO
def _gspo() -> tuple[torch.Tensor, dict, torch.Tensor]:
    logp, old = loss_checks._logprobs(loss_checks.GSPO_RATIOS)
    loss, stats = policy_losses.gspo_policy_loss(
        logp, old, loss_checks.GSPO_ADV, loss_checks.GSPO_MASK, clip_low=0.2, clip_high=0.2, agg="seq-mean-token-mean"
    )
    loss.backward()
    return loss.detach(), stats, logp.grad


def _gspo_s(i: int) -> float:
    mask = loss_checks.GSPO_MASK[i].bool()
    return loss_checks.GSPO_RATIOS[i][mask].prod().item() ** (1 / mask.sum().item())


def _gspo_row(i: int) -> list:
    mask = loss_checks.GSPO_MASK[i].bool()
    a = loss_checks.GSPO_ADV[i, 0].item()
    ratios = loss_checks.GSPO_RATIOS[i][mask].tolist()
    s = _gspo_s(i)
    clipped = min(max(s, 0.8), 1.2)
    grad = _gspo()[2][i][mask].tolist()
    n = len(ratios)
    if i == 0:  # | 0 | +1 | 1.5, 1 | √1.5 = 1.2247 → clipped at 1.2 | −1.2 | 0, 0 |
        return [i, a, ratios, ratios[0], s, clipped, -a * clipped, grad]
    if i == 1:  # | 1 | −1 | 2, 0.5, 1 | (2 · 0.5 · 1)^(1/3) = 1 | 1 | 1/9 each |
        assert len(set(grad)) == 1
        return [i, a, ratios, ratios, 1 / n, s, -a * clipped, grad[0]]
    # | 2 | +1 | 0.81, 1 | √0.81 = 0.9 | −0.9 | −0.9 / (2 · 3) = −0.15 each |
    assert len(set(grad)) == 1
    b = loss_checks.GSPO_RATIOS.shape[0]
    return [i, a, ratios, ratios[0], s, -a * clipped, -a * clipped, n, b, grad[0]]


def _gspo_loss() -> list:
    loss, stats, _ = _gspo()
    terms = [-loss_checks.GSPO_ADV[i, 0].item() * min(max(_gspo_s(i), 0.8), 1.2) for i in range(3)]
    return [terms, loss, stats["clipfrac"], loss_checks.GSPO_MASK.sum().item()]


def _gspo_spread() -> list:
    nb = _notebook()
    spread, lengths = nb["spread"], nb["seq_lengths"]
    return [
        nb["SIGMA"],
        spread["GSPO mean"][0], lengths[0], spread["GSPO mean"][-1], lengths[-1],
        spread["sequence product"][0], spread["sequence product"][-1],
    ]  # fmt: skip


# ------------------------------------------------------------------------------ CISPO
def _cispo_grads(clip_low: float, clip_high: float) -> tuple[torch.Tensor, dict]:
    logp, old = loss_checks._logprobs(loss_checks.CISPO_RATIOS)
    loss, stats = policy_losses.cispo_policy_loss(
        logp, old, loss_checks.CISPO_ADV, torch.ones(2, 3, dtype=F64), clip_low=clip_low, clip_high=clip_high
    )
    loss.backward()
    return logp.grad, stats


def _ppo_grads() -> torch.Tensor:
    logp, old = loss_checks._logprobs(loss_checks.CISPO_RATIOS)
    loss, _ = ppo.ppo_policy_loss(logp, old, loss_checks.CISPO_ADV, torch.ones(2, 3, dtype=F64), clip_low=0.2)
    loss.backward()
    return logp.grad


def _cispo_row(i: int, j: int) -> list:
    a, r = loss_checks.CISPO_ADV[i, j].item(), loss_checks.CISPO_RATIOS[i, j].item()
    cispo, _ = _cispo_grads(0.2, 0.2)
    weight = -cispo[i, j].item() * 6 / a  # the gradient is -w A / 6
    row = [a, r, _ppo_grads()[i, j], weight, cispo[i, j]]
    return row + [cispo[i, j]] if (i, j) in ((0, 0), (0, 1)) else row  # written as "−1.2 / 6 = −0.2"


def _cispo_no_lower_bound() -> list:
    grads, _ = _cispo_grads(1.0, 0.28)
    weights = -grads * 6 / loss_checks.CISPO_ADV
    return [1, 0.28, weights.max()]


def _cispo_clamp() -> float:
    """The log-ratio bound, observed: approx_kl is the mean of the clamped log(pi_old / pi)."""
    old = torch.zeros(1, 1, dtype=F64)
    _, stats = policy_losses.cispo_policy_loss(old + 50.0, old, torch.ones(1, 1), torch.ones(1, 1), 0.2, 0.2)
    return -stats["approx_kl"]


# ------------------------------------------------------------------------------ GMPO
EPS_GMPO = _default(policy_losses.gmpo_policy_loss, "clip_low")


def _gmpo() -> tuple[torch.Tensor, dict, torch.Tensor]:
    logp, old = loss_checks._logprobs(loss_checks.GMPO_LOG_RATIOS.exp())
    loss, stats = policy_losses.gmpo_policy_loss(logp, old, loss_checks.GMPO_ADV, loss_checks.GMPO_MASK)
    loss.backward()
    return loss.detach(), stats, logp.grad


def _gmpo_worked() -> list:
    lr, mask = loss_checks.GMPO_LOG_RATIOS, loss_checks.GMPO_MASK
    loss, stats, grad = _gmpo()
    eps = EPS_GMPO
    l0 = [min(v, eps) for v in lr[0][:2].tolist()]  # A > 0: min(l, clip(l)): only the top is cut
    l1 = [max(v, -eps) for v in lr[1].tolist()]  # A < 0: max(l, clip(l)): only the bottom is cut
    s0, s1 = math.exp(sum(l0) / 2), math.exp(sum(l1) / 3)
    assert abs(loss.item() - (-s0 + s1) / 2) < 1e-8
    assert stats["clipfrac"] == stats["clipfrac_lower"]
    return [
        0, 1, lr[0][:2].tolist(), lr[0, 0], l0[0], sum(l0), mask[0].sum(), s0,
        1, -1, lr[1].tolist(), lr[1, 0], l1[0], sum(l1), mask[1].sum(), s1,
        -s0, s1, 2, loss,
        grad[0, 1], 0, grad[1, 1], 1,
        0, eps, lr[0, 1], 2, (math.exp(l0[0]) + math.exp(l0[1])) / 2,
        stats["clipfrac"],
    ]  # fmt: skip


# ------------------------------------------------------------------------------ DAPO, rollout correction
def _overlong() -> list:
    lengths = torch.tensor([10, 16, 17, 18, 20])
    return [20, 4, lengths.tolist(), rollout_correction.overlong_penalty(lengths, 20, 4).tolist()]


IS_LOG, IS_MASK = correction_checks.IS_LOG, correction_checks.IS_MASK


def _valid(row: int, tensor: torch.Tensor) -> list[float]:
    return [v for v, m in zip(tensor[row].tolist(), IS_MASK[row].tolist()) if m]


def _is_token() -> list:
    ratios = IS_LOG.exp()
    tis, stats = rollout_correction.rollout_is_weights(IS_LOG, IS_MASK, "token", 2.0)
    ice, ice_stats = rollout_correction.rollout_is_weights(IS_LOG, IS_MASK, "token", (0.5, 2.0))
    mean_square = stats["weight_mean"] ** 2 / stats["ess"]  # ESS = mean(w)^2 / mean(w^2)
    return [
        _valid(0, ratios), _valid(1, ratios),
        2, _valid(0, tis), tis[1].tolist(),
        stats["weight_mean"], mean_square, stats["weight_mean"] ** 2 / mean_square, stats["ess"],
        stats["truncated_fraction"], 2,
        0.5, 2, _valid(0, ice), ice[1].tolist(),
        ice_stats["masked_fraction"] * 6, 6,  # "masked 1/6." ends a sentence: read as 1 and 6 (1 of the 6 tokens)
    ]  # fmt: skip


def _is_sequence() -> list:
    raw, _ = rollout_correction.rollout_is_weights(IS_LOG, IS_MASK, "sequence", 1e30)
    tis, _ = rollout_correction.rollout_is_weights(IS_LOG, IS_MASK, "sequence", 2.0)
    ice, _ = rollout_correction.rollout_is_weights(IS_LOG, IS_MASK, "sequence", (0.5, 2.0))
    return [
        _valid(0, IS_LOG.exp()), raw[0, 0], _valid(1, IS_LOG.exp()), raw[1, 0],
        tis[0, 0], tis[1, 0], ice[0, 0], ice[1, 0],
    ]  # fmt: skip


MISMATCH = (
    "a vocabulary of 4096 and a mean\nentropy of 1.0 nat: `|log π_fp32 − log π_bf16|` averages 0.018 per sampled "
    "token (99th percentile 0.09,\nmaximum 0.16). Here precision alone never pushes a token weight past 2: TIS "
    "does nothing at token level\n(ESS 0.999); at sequence level the ESS of the untruncated product falls from "
    "0.99 at 16 tokens to 0.50\nat 1024 and 0.18 at 4096 (0.47 with TIS at 2)."
)


def _mismatch() -> list:
    nb = _notebook()
    lr = nb["token_log_ratio"].abs()
    assert lr.exp().max() < 2  # no token weight reaches the TIS threshold
    token_ess = nb["ess"]["token, TIS 2"]
    assert max(token_ess) - min(token_ess) < 5e-4
    lengths, raw = nb["seq_lens"], nb["ess"]["sequence, no truncation"]
    return [
        nb["VOCAB"], nb["entropy"], lr.mean(), lr.quantile(0.99), lr.max(),
        2, token_ess[0],
        raw[0], lengths[0], raw[lengths.index(1024)], 1024, raw[-1], lengths[-1],
        nb["ess"]["sequence, TIS 2"][-1], 2,
    ]  # fmt: skip


# ------------------------------------------------------------------------------ staleness, credit, entropy
def _staleness_clip() -> list:
    runs = _notebook()["runs"]
    return [100 * np.mean(run["clipfrac"]) for run in runs.values()] + list(runs)


def _staleness_steps() -> list:
    runs = _notebook()["runs"]
    reach = {k: next((i for i, r in enumerate(run["reward"]) if r >= 0.9), None) for k, run in runs.items()}
    assert reach[8] is None
    return [
        reach[0], reach[2], reach[4],
        8, len(runs[8]["reward"]),
        np.mean(runs[8]["reward"][-5:]), np.mean(runs[0]["reward"][-5:]),
    ]  # fmt: skip


def _credit() -> list:
    nb = _notebook()
    found = [i for i, f in enumerate(nb["found"].tolist()) if f]
    right = [i for i, o in enumerate(nb["outcome"].tolist()) if o]
    return [found, right]


def _credit_turn1() -> list:
    nb = _notebook()
    panels = nb["panels"]
    grpo = panels["GRPO\noutcome only"][:, 0].tolist()
    bonus = nb["turn_rewards"][0, nb["turn1"] - 1].item()  # the retrieval reward of episode 0 (it found the answer)
    rpp = panels["REINFORCE++\n+ turn reward"][:, 0].tolist()
    return [grpo, bonus, rpp]


def _credit_discount() -> list:
    panels = _notebook()["panels"]
    (title,) = [t for t in panels if "gamma" in t]
    assert panels[title][3, 0] < 0  # turn 1 of episode 3
    return [float(title.split("gamma ")[1]), 1, 3]


def _entropy() -> list:
    nb = _notebook()
    bandit = nb["bandit"]
    return [float(np.corrcoef(bandit["predicted"], bandit["actual"])[0, 1])]


def _collapse() -> list:
    nb = _notebook()
    final = torch.softmax(nb["z"], 0)
    return [nb["rewards_bandit"][final.argmax()].item()]


def _config_default(name: str) -> object:
    return next(f.default for f in fields(TrainConfig) if f.name == name)


NUMBERS = [
    # REINFORCE++
    Computed(
        "γ = 0.5, two\nresponses: row 0 has mask `[1, 1, 0, 0, 1]` (two tool tokens) and reward 1 on its last token; "
        "row 1 has\nmask `[1, 1, 1, 0, 0]` and reward −1 on its last valid token. Returns, from the end: row 0 "
        "`G_4 = 1`,\nthe tool tokens carry it, `G_1 = 0 + 0.5 · 1 = 0.5`, `G_0 = 0.25`; row 1 `−1, −0.5, −0.25`. "
        "The six valid\nreturns have mean 0 and unbiased variance `2 · (0.0625 + 0.25 + 1) / 5 = 0.525`, std 0.7246, "
        "so the\nadvantages are `±0.3450, ±0.6901, ±1.3801`.",
        _reinforce_pp,
    ),
    Computed(
        "groups, a = `[1, 0, 0, 1]`, b = `[1, 1, 1]` (tied), c = `[1]` (a singleton), with 2, 1, 1, 2 | 1, 1, 1 | 1\n"
        "valid tokens (the first response has a tool hole). After the group means: `0.5, −0.5, −0.5, 0.5 | 0, 0, 0 | "
        "1`\n(the singleton keeps its raw score: verl's mean-0 rule). Over the 10 tokens the mean is `2 / 10 = 0.2`\n"
        "and the unbiased variance `(4 · 0.09 + 2 · 0.49 + 3 · 0.04 + 0.64) / 9 = 2.1 / 9`, std 0.4830, so the\n"
        "advantages are `0.6211, −1.4491, −1.4491, 0.6211 | −0.4140 ×3 | 1.6562`.",
        _rpp_baseline,
    ),
    Computed("so they are pushed down by 0.41", lambda: -_rpp_baseline()[-3]),
    Computed(
        "scores `[1, 0, 0]` with 2, 2 and\n4 tokens give `b = (2 + 0 + 0) / 8 = 0.25` (the plain mean is 1/3), "
        "advantages `[0.75, −0.25, −0.25]`.",
        _opo,
    ),
    # GSPO
    Given(
        "`[1 − 3e-4, 1 + 4e-4]` instead of `[0.8, 1.2]`",
        "GSPO's default band against PPO's ε = 0.2 band (the inputs being compared)",
    ),
    Computed(
        "with token noise of std 0.05,\nthe std of GSPO's log s is 0.013 at 16 tokens and 0.0008 at 4096, while the "
        "product of the ratios\n(sequence-level importance sampling) grows from 0.21 to 3.2",
        _gspo_spread,
    ),
    Given("clip 0.2 for\nreadability", "the worked example's clip (the check passes clip_low = clip_high = 0.2)"),
    Computed("| 0 | +1 | 1.5, 1 | √1.5 = 1.2247 → clipped at 1.2 | −1.2 | 0, 0 |", lambda: _gspo_row(0)),
    Computed("| 1 | −1 | 2, 0.5, 1 | (2 · 0.5 · 1)^(1/3) = 1 | 1 | 1/9 each |", lambda: _gspo_row(1)),
    Computed("| 2 | +1 | 0.81, 1 | √0.81 = 0.9 | −0.9 | −0.9 / (2 · 3) = −0.15 each |", lambda: _gspo_row(2)),
    Computed(
        "The loss is `(−1.2 + 1 − 0.9) / 3 = −0.3667`; `clipfrac` counts the two tokens of sequence 0, 2/7.",
        # "2/7." ends a sentence: read as 2 and 7, the clipped tokens and the valid ones
        lambda: (lambda t, loss, cf, n: [t[0], t[1], -t[2], 3, loss, 0, cf * n, n])(*_gspo_loss()),  # − 0.9: minus 0.9
    ),
    Computed(
        "In\nsequence 1, PPO would have treated the tokens very differently (the r = 0.5 token clipped",
        lambda: [1, loss_checks.GSPO_RATIOS[1, 1]],
    ),
    Computed(
        "The notebook's simulation with 1% of tokens re-routed",
        lambda: 100 * _notebook()["flips"].float().mean().item(),
        tol=0.05,  # the share of flipped tokens drawn, not a parameter
    ),
    Computed("PPO's band catches 0.8% of the tokens", lambda: 100 * _notebook()["token_clipped"]),
    Computed("GSPO's 94% of the sequences", lambda: 100 * _notebook()["gspo_clipped"], tol=0.5),
    # CISPO
    Given("here `clip_low = 1.0`, a lower bound of 0", "CISPO's setting in this chapter (1 − 1.0 = 0): an input"),
    Given("ε = 0.2 on both sides, token-mean", "the worked example's clip (the check passes 0.2 and 0.2)"),
    Computed("| +1 | 1.5 | 0 (clipped) | 1.2 | −1.2 / 6 = −0.2 |", lambda: _cispo_row(0, 0)),
    Computed("| +1 | 0.5 | −0.5 / 6 | 0.8 | −0.8 / 6 = −0.1333 |", lambda: _cispo_row(0, 1)),
    Computed("| +1 | 1.1 | −1.1 / 6 | 1.1 | −0.1833 |", lambda: _cispo_row(0, 2)),
    Computed("| −1 | 0.5 | 0 (clipped) | 0.8 | +0.1333 |", lambda: _cispo_row(1, 0)),
    Computed("| −1 | 1.5 | +1.5 / 6 | 1.2 | +0.2 |", lambda: _cispo_row(1, 1)),
    Computed("| −1 | 4.0 | +4.0 / 6 | 1.2 | +0.2 |", lambda: _cispo_row(1, 2)),
    Computed("is 5/6", lambda: _cispo_grads(0.2, 0.2)[1]["clipfrac"]),
    Computed("(`clip_low = 1`,\n`clip_high = 0.28`) the weights are `min(r, 1.28)`", _cispo_no_lower_bound),
    # GMPO
    Computed(
        "band: `ε = 0.4` in log space, the ratio range `(e^−0.4, e^0.4) = (0.67, 1.49)`.",
        lambda: [EPS_GMPO, -EPS_GMPO, EPS_GMPO, math.exp(-EPS_GMPO), math.exp(EPS_GMPO)],
    ),
    Computed(
        "ε = 0.4, two\nsequences, loss averaged over the B = 2 rows",
        lambda: [EPS_GMPO, loss_checks.GMPO_MASK.shape[0]],
    ),
    Computed(
        "sequence 0 has A = +1 and log-ratios (0.6, −0.2); 0.6 is clipped to 0.4, so `s_0 = exp(0.2 / 2) = 1.1052`.\n"
        "Sequence 1 has A = −1 and log-ratios (−0.6, 0.2, 0.1); −0.6 is clipped to −0.4, `s_1 = exp(−0.1 / 3) = "
        "0.9672`.\nThe loss is `(−1.1052 + 0.9672) / 2 = −0.0690`. The clipped tokens get no gradient; the others "
        "get\n`−A s / (|o| B)`: −0.2763 for sequence 0's second token, +0.1612 for sequence 1's last two. For "
        "comparison,\nthe arithmetic mean of sequence 0's clipped token ratios would be `(e^0.4 + e^−0.2) / 2 = "
        "1.1553`.\n`clipfrac` and `clipfrac_lower` (1/5 each here)",
        _gmpo_worked,
    ),
    # DAPO
    Cited("`ε_high = 0.28 > ε_low = 0.2`", "DAPO, arXiv 2503.14476, section 3.1 (clip-higher): ε_low 0.2, ε_high 0.28"),
    Computed(
        "`max_len = 20`, `buffer_len = 4`,\nlengths `[10, 16, 17, 18, 20]` give `[0, 0, −0.25, −0.5, −1]`", _overlong
    ),
    Cited(
        "DAPO used `L_max = 20480`, `L_buffer = 4096`",
        "DAPO, arXiv 2503.14476, section 4.1: an expected maximum of 16,384 tokens plus a 4,096-token soft punishment "
        "cache, 20,480 tokens of generation in all",
    ),
    Computed(
        "(−2 at `max_len + buffer_len`)",
        lambda: rollout_correction.overlong_penalty(torch.tensor([20 + 4]), 20, 4).item(),
    ),
    # rollout correction
    Cited(
        "(verl's preset band is [0.5, 5])",
        "verl 0.9.1 trainer/config/algorithm.py, RolloutCorrectionConfig.decoupled_token_icepop: threshold_lower=0.5, "
        "threshold=5.0",
    ),
    Computed("the log-weight is clamped to ±20 before `exp`", lambda: rollout_correction.SAFETY_BOUND),
    Computed(
        "token\nratios `[0.5, 1, 3]` and `[2, 2, ·, 0.9]` (· a tool token). TIS at 2: `[0.5, 1, 2]` and `[2, 2, 0, "
        "0.9]`;\nmean 1.4, mean square `14.06 / 6`, ESS `1.96 / 2.3433 = 0.8364`, truncated 1/6 (a weight of exactly "
        "2 is\nnot truncated). IcePop [0.5, 2]: `[0.5, 1, 0]` and `[2, 2, 0, 0.9]`, masked 1/6.",
        _is_token,
    ),
    Computed(
        "`0.5 · 1 · 3 = 1.5` and `2 · 2 · 0.9 = 3.6`; TIS gives 1.5 and 2 on every valid token, IcePop 1.5 and 0.",
        _is_sequence,
    ),
    Computed(
        MISMATCH,
        lambda: _mismatch()[:7],
        at=(
            "a vocabulary of 4096 and a mean\nentropy of 1.0 nat: `|log π_fp32 − log π_bf16|` averages 0.018 per sampled "
            "token (99th percentile 0.09,\nmaximum 0.16). Here precision alone never pushes a token weight past 2: TIS "
            "does nothing at token level\n(ESS 0.999)"
        ),
    ),
    Computed(
        MISMATCH,
        lambda: _mismatch()[7:],
        at="from 0.99 at 16 tokens to 0.50\nat 1024 and 0.18 at 4096 (0.47 with TIS at 2)",
        # products of up to 4096 resampled token weights: the third decimal moves with the CPU's float rounding
        tol=0.005,
    ),
    # staleness
    Given("(a table policy, GRPO, PPO clip 0.2)", "the clip of the notebook's stale_probe (clip_low=0.2), an input"),
    Computed(
        "PPO already clips on average 0, 7%, 19% and 32% of the\ntokens for k = 0, 2, 4, 8",
        _staleness_clip,
        tol=0.5,  # whole percents
    ),
    Given("to reach a reward of 0.9", "the threshold the notebook counts steps to"),
    Computed(
        "grows from 16 to 29 and 44\n(k = 8 does not reach it in 60 steps; its last-5-steps reward is 0.80 against "
        "0.996)",
        _staleness_steps,
    ),
    # multi-turn credit
    Computed("episodes 0 and 1 found the answer, 0 and 3 answered right", _credit),
    Computed(
        "gives turn 1 `[0.87, −0.87, −0.87, 0.87]`; REINFORCE++ with a +0.5 retrieval reward gives turn 1\n"
        "`[1.55, −0.25, −1.15, 0.65]`",
        lambda: [1, *_credit_turn1()[:2], 1, _credit_turn1()[2]],
    ),
    Computed("(γ = 0.8 gives\nturn 1 of episode 3 a negative advantage)", _credit_discount),
    # entropy
    Computed("correlate\nat 0.999", _entropy),
    Computed("collapses onto a decent action (reward 0.8)", _collapse),
    Computed(
        "probability goes to 0.",
        lambda: _notebook()["bandit"]["p_best"][-1],
        tol=1e-3,  # a limit: 4e-4 after the notebook's 150 steps
    ),
    # the trainer's keys
    Asserted(
        "on the tiny model, ESS 1.0, nothing truncated",
        test="tests/repo/test_train.py::test_chapter_08_estimators_and_losses_train",
    ),
    Computed(
        "0.4 / 0.4)",
        lambda: (
            _default(policy_losses.gmpo_policy_loss, "clip_low") / _default(policy_losses.gmpo_policy_loss, "clip_high")
        ),
    ),
    Given("1.0 / 0.28", "CISPO's values as this chapter sets them: no lower bound (1.0), DAPO's clip-higher 0.28"),
    Computed("(TIS, default 2.0)", lambda: float(_config_default("rollout_is_threshold"))),
    Computed(
        "0 = off; e.g. a quarter of the model-token budget, 1.0",
        lambda: [_config_default("overlong_buffer_len"), _config_default("overlong_penalty_factor")],
    ),
    # checklist and interview
    Computed("the log-ratio is clamped to ±20 (verl too)", _cispo_clamp),
    Computed("log-weight clamped to ±20", lambda: rollout_correction.SAFETY_BOUND),
    Cited("PPO's is 0.2", "PPO (Schulman et al. 2017, arXiv 1707.06347): ε = 0.2, its best setting in section 6.1"),
]


# ------------------------------------------------------------------------------ the estimator bake-off
BAKEOFF = "bench/results/estimator_bakeoff.json"
BAKEOFF_MD = "bench/results/estimator_bakeoff.md"
METHODS = ("grpo", "rloo", "dr_grpo", "reinforce_pp_baseline", "gspo", "cispo", "ppo_gae")


def _runs(method: str | None = None) -> list[dict]:
    runs = json.loads((ROOT / BAKEOFF).read_text(encoding="utf-8"))["runs"]
    return [r for r in runs if method is None or r["method"] == method]


def _mean(method: str, value) -> float:  # noqa: ANN001
    return statistics.fmean(value(r) for r in _runs(method))


def _bakeoff() -> list:
    """The table is written by the bench itself (estimator_bakeoff.md); the prose is computed from the JSON."""
    best = {m: _mean(m, lambda r: r["best_accuracy"]) for m in METHODS}
    sd = {m: statistics.stdev(r["best_accuracy"] for r in _runs(m)) for m in METHODS}
    cpu = {m: _mean(m, lambda r: r["cpu_s"]) for m in METHODS}
    others = [e for r in _runs() if r["method"] != "dr_grpo" for e in [r["entropy"][-1]] if e is not None]
    dr_entropy = [r["entropy"][-1] for r in _runs("dr_grpo")]
    seed1 = [r["best_accuracy"] for r in _runs() if r["seed"] == 1]
    table = (ROOT / BAKEOFF_MD).read_text(encoding="utf-8").split("\n\n", 1)[1].strip().splitlines()[2:]
    return [
        *(Measured(row, BAKEOFF_MD) for row in table),
        Given("steps to reach 0.3 (per seed)", "the bench's REACH threshold"),
        Given("30 RL steps of 8 prompts × 8 samples", "the tiny_sample_nq preset's budget"),
        Given("on the 187 held-out questions every 5\nsteps", "the sample test split and eval_steps of the preset"),
        Given("the same 500-step warm-up", "warmup_sft_steps of the preset"),
        Computed("trains the 21\nruns", lambda: len(_runs())),
        Computed("(29 CPU-minutes here", lambda: sum(r["cpu_s"] for r in _runs()) / 60, tol=0.5),
        Computed("at 0.47 or above", lambda: min(r["evals"][0]["accuracy"] for r in _runs()), tol=0.005),
        Computed(
            "(step 5; the baseline is 0.000)",
            lambda: [_runs()[0]["evals"][0]["step"], max(r["baseline_accuracy"] for r in _runs())],
        ),  # fmt: skip
        Computed("lie between 0.535 and 0.556 on\n  average", lambda: [min(best.values()), max(best.values())]),
        Computed(
            "seed 1 is the lowest of the three for every\n  method",
            lambda: 1 if all(min(_runs(m), key=lambda r: r["best_accuracy"])["seed"] == 1 for m in METHODS) else None,
        ),  # fmt: skip
        Computed("(0.487 to 0.535)", lambda: [min(seed1), max(seed1)]),
        Computed("(0.021)", lambda: max(best.values()) - min(best.values())),
        Computed("(sd/√3, 0.008 to 0.027)", lambda: [3, min(sd.values()) / 3**0.5, max(sd.values()) / 3**0.5]),
        Computed(
            '"Steps to reach 0.3" is 5 for all 21 runs',
            lambda: (
                [0.3, 5, len(_runs())]
                if all(next(e["step"] for e in r["evals"] if e["accuracy"] >= 0.3) == 5 for r in _runs())
                else None
            ),
        ),  # fmt: skip
        Computed("(0.049 to 0.089 on the\n  three seeds", lambda: [min(dr_entropy), max(dr_entropy)]),
        Computed("against 0.273 to 0.805 for every other run", lambda: [min(others), max(others)]),
        Computed(
            "about 1.5 times the CPU",
            lambda: cpu["ppo_gae"] / statistics.fmean(v for m, v in cpu.items() if m != "ppo_gae"),
            rel=0.05,
        ),  # fmt: skip
        Computed(
            "(113 s per run against 69 to 85 s)",
            lambda: [
                cpu["ppo_gae"],
                min(v for m, v in cpu.items() if m != "ppo_gae"),
                max(v for m, v in cpu.items() if m != "ppo_gae"),
            ],
            tol=0.5,
        ),  # fmt: skip
        Computed(
            "(dr_grpo:\n  73 to 107 s)",
            lambda: [min(r["cpu_s"] for r in _runs("dr_grpo")), max(r["cpu_s"] for r in _runs("dr_grpo"))],
            tol=0.5,
        ),  # fmt: skip
        Given("30 steps of a 0.5M-parameter model", "the preset's budget and the tiny model's size (chapter 01)"),
    ]


NUMBERS += _bakeoff()
