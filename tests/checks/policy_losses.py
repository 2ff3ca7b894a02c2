# Chapter 08 notes: learning_notes/08_beyond_grpo/README.md#gspo-one-ratio-per-sequence
"""Checks for minimal_impl/policy_losses.py: the notes' GSPO, CISPO and GMPO examples, values and gradients."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._util import expect_close, expect_true, run_checks


def _raises_value_error(call: Callable, case: str) -> None:
    try:
        call()
    except ValueError:
        return
    raise AssertionError(f"{case}: expected a ValueError with a message")


def _logprobs(ratios: torch.Tensor, old: float = -1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Current log-probs (leaf with grad) that give these ratios against old log-probs `old`."""
    old_logprobs = torch.full(ratios.shape, old, dtype=torch.float64)
    return (old_logprobs + ratios.double().log()).requires_grad_(True), old_logprobs


# notes: three sequences, clip 0.2. A = +1 on token ratios (1.5, 1); A = -1 on (2, 0.5, 1); A = +1 on (0.81, 1)
GSPO_RATIOS = torch.tensor([[1.5, 1.0, 7.0], [2.0, 0.5, 1.0], [0.81, 1.0, 7.0]], dtype=torch.float64)
GSPO_MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [1.0, 1.0, 0.0]], dtype=torch.float64)
GSPO_ADV = torch.tensor([[1.0], [-1.0], [1.0]], dtype=torch.float64) * GSPO_MASK


def gspo_hand_worked(fn: Callable) -> None:
    logp, old = _logprobs(GSPO_RATIOS)
    inputs = {"ratios": GSPO_RATIOS, "mask": GSPO_MASK, "advantages": GSPO_ADV, "clip": (0.2, 0.2)}
    loss, stats = fn(logp, old, GSPO_ADV, GSPO_MASK, clip_low=0.2, clip_high=0.2, agg="seq-mean-token-mean")
    # s = sqrt(1.5) = 1.2247 -> clipped at 1.2; s = (2 * 0.5 * 1)^(1/3) = 1; s = sqrt(0.81) = 0.9
    expect_close("seq-mean-token-mean of -A * clip(s): (-1.2 + 1 - 0.9) / 3", loss, -1.1 / 3, inputs)
    expect_close("clipfrac: the 2 tokens of the clipped sequence, of 7", stats["clipfrac"], 2 / 7, inputs)
    expect_close("clipfrac_lower is 0 (no dual clip)", stats["clipfrac_lower"], 0.0, inputs)
    approx_kl = -(math.log(1.5) + math.log(2.0) + math.log(0.5) + math.log(0.81)) / 7
    expect_close("approx_kl = masked mean of log pi_old - log pi", stats["approx_kl"], approx_kl, inputs)
    loss.backward()
    expect_true("gradient", logp.grad is not None, "the loss has no gradient w.r.t. logprobs", inputs)
    # -A_i s_i / (|y_i| * 3 sequences) on each token; 0 on the clipped sequence and on masked positions
    expected = [[0.0, 0.0, 0.0], [1 / 9, 1 / 9, 1 / 9], [-0.15, -0.15, 0.0]]
    expect_close("gradient: -A s / (|y| B), 0 where the sequence is clipped", logp.grad, expected, inputs)


def gspo_paper_defaults(fn: Callable) -> None:
    mask = torch.ones(2, 1, dtype=torch.float64)
    adv = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    ratios = torch.tensor([[math.exp(5e-4)], [math.exp(-5e-4)]], dtype=torch.float64)
    logp, old = _logprobs(ratios)
    loss, stats = fn(logp, old, adv, mask)  # defaults: clip_low 3e-4, clip_high 4e-4, seq-mean-token-mean
    inputs = {"ratios": ratios, "advantages": adv}
    expect_close("default band [1 - 3e-4, 1 + 4e-4]: both sequences clipped", loss, (-1.0004 + 0.9997) / 2, inputs)
    expect_close("default band: clipfrac 1", stats["clipfrac"], 1.0, inputs)


def gspo_holes_and_weights(fn: Callable) -> None:
    holes = torch.tensor([[1.0, 0.0, 1.0, 0.0]], dtype=torch.float64)
    ratios = torch.tensor([[1.1, 50.0, 1.0, 1e-6]], dtype=torch.float64)  # wild ratios on the tool tokens
    adv = torch.ones(1, 4, dtype=torch.float64)
    logp, old = _logprobs(ratios)
    loss, _ = fn(logp, old, adv, holes, clip_low=0.2, clip_high=0.2)
    inputs = {"ratios": ratios, "mask": holes}
    expect_close("masked tokens do not enter s: s = sqrt(1.1 * 1)", loss, -math.sqrt(1.1), inputs)
    weights = torch.full((1, 4), 0.5, dtype=torch.float64)
    loss_w, _ = fn(logp, old, adv, holes, clip_low=0.2, clip_high=0.2, is_weights=weights)
    expect_close("is_weights multiply the per-token loss", loss_w, -0.5 * math.sqrt(1.1), {**inputs, "is_weights": 0.5})


def gspo_token_advantages(fn: Callable) -> None:
    # GSPO-token: s_it = sg(s_i) * pi_it / sg(pi_it), so a token's gradient carries its own advantage
    ratios = torch.ones(1, 2, dtype=torch.float64)
    adv = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    logp, old = _logprobs(ratios)
    loss, _ = fn(logp, old, adv, torch.ones(1, 2, dtype=torch.float64), clip_low=0.2, clip_high=0.2, agg="token-mean")
    loss.backward()
    inputs = {"ratios": ratios, "advantages": adv, "agg": "token-mean"}
    expect_close(
        "per-token advantages: gradient -A_t s / N on token t (the straight-through ratio), "
        "not the sequence's mean advantage on every token",
        logp.grad,
        [[-1.0, 0.0]],
        inputs,
    )


def gspo_edge_cases(fn: Callable) -> None:
    logp, old = _logprobs(GSPO_RATIOS)
    zeros = torch.zeros_like(GSPO_MASK)
    loss, stats = fn(logp, old, GSPO_ADV, zeros)
    expect_close("all-zero mask: loss 0", loss, 0.0, {"mask": zeros})
    expect_true("all-zero mask", all(math.isfinite(v) for v in stats.values()), f"non-finite stats {stats}")
    _raises_value_error(lambda: fn(logp, old, GSPO_ADV, GSPO_MASK, clip_low=-0.1), "negative clip_low")


# notes: chapter 03's six tokens, old log-prob -1: A = +1 on ratios 1.5, 0.5, 1.1 and A = -1 on 0.5, 1.5, 4.0
CISPO_RATIOS = torch.tensor([[1.5, 0.5, 1.1], [0.5, 1.5, 4.0]], dtype=torch.float64)
CISPO_ADV = torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]], dtype=torch.float64)


def cispo_hand_worked(fn: Callable) -> None:
    logp, old = _logprobs(CISPO_RATIOS)
    mask = torch.ones(2, 3, dtype=torch.float64)
    inputs = {"ratios": CISPO_RATIOS, "advantages": CISPO_ADV, "clip": (0.2, 0.2)}
    loss, stats = fn(logp, old, CISPO_ADV, mask, clip_low=0.2, clip_high=0.2, agg="token-mean")
    weights = torch.tensor([[1.2, 0.8, 1.1], [0.8, 1.2, 1.2]], dtype=torch.float64)  # clip(r, 0.8, 1.2)
    expected_loss = (-weights * CISPO_ADV * logp.detach()).mean()
    expect_close("loss = token-mean of -sg(clip(r)) * A * log pi", loss, expected_loss, inputs)
    expect_close("clipfrac: 5 of 6 ratios leave [0.8, 1.2]", stats["clipfrac"], 5 / 6, inputs)
    expect_close("clipfrac_lower is 0", stats["clipfrac_lower"], 0.0, inputs)
    approx_kl = -sum(math.log(r) for r in CISPO_RATIOS.flatten().tolist()) / 6
    expect_close("approx_kl = mean(log pi_old - log pi)", stats["approx_kl"], approx_kl, inputs)
    loss.backward()
    expect_true("gradient", logp.grad is not None, "the loss has no gradient w.r.t. logprobs", inputs)
    # PPO would give (0, -0.5, -1.1, 0, 1.5, 4.0) / 6: CISPO keeps every token, with a bounded weight
    expect_close(
        "gradient = -clip(r) * A / 6 on every token (the ratio itself gets no gradient)",
        logp.grad,
        -weights * CISPO_ADV / 6,
        inputs,
    )


def cispo_no_lower_bound(fn: Callable) -> None:
    logp, old = _logprobs(CISPO_RATIOS)
    mask = torch.ones(2, 3, dtype=torch.float64)
    loss, stats = fn(logp, old, CISPO_ADV, mask, clip_low=1.0, clip_high=0.28)
    loss.backward()
    weights = torch.tensor([[1.28, 0.5, 1.1], [0.5, 1.28, 1.28]], dtype=torch.float64)
    inputs = {"ratios": CISPO_RATIOS, "clip_low": 1.0, "clip_high": 0.28}
    expect_close(
        "clip_low = 1 (MiniMax-M1: no lower bound): weights min(r, 1.28)", logp.grad, -weights * CISPO_ADV / 6, inputs
    )
    expect_close("clipfrac: 3 of 6 above 1.28", stats["clipfrac"], 0.5, inputs)


def cispo_edge_cases(fn: Callable) -> None:
    logp, old = _logprobs(CISPO_RATIOS)
    zeros = torch.zeros(2, 3, dtype=torch.float64)
    loss, stats = fn(logp, old, CISPO_ADV, zeros, clip_low=0.2, clip_high=0.2)
    expect_close("all-zero mask: loss 0", loss, 0.0, {"mask": zeros})
    expect_true("all-zero mask", all(math.isfinite(v) for v in stats.values()), f"non-finite stats {stats}")
    _raises_value_error(lambda: fn(logp, old, CISPO_ADV, zeros, clip_low=0.2, clip_high=-0.2), "negative clip_high")


# notes: A = +1 with log-ratios (0.6, -0.2); A = -1 with (-0.6, 0.2, 0.1); clip 0.4 in log space
GMPO_LOG_RATIOS = torch.tensor([[0.6, -0.2, 0.0], [-0.6, 0.2, 0.1]], dtype=torch.float64)
GMPO_MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
GMPO_ADV = torch.tensor([[1.0], [-1.0]], dtype=torch.float64) * GMPO_MASK


def gmpo_hand_worked(fn: Callable) -> None:
    logp, old = _logprobs(GMPO_LOG_RATIOS.exp())
    inputs = {"log_ratios": GMPO_LOG_RATIOS, "mask": GMPO_MASK, "advantages": GMPO_ADV}
    loss, stats = fn(logp, old, GMPO_ADV, GMPO_MASK, clip_low=0.4, clip_high=0.4)
    s0, s1 = math.exp((0.4 - 0.2) / 2), math.exp((-0.4 + 0.2 + 0.1) / 3)  # 0.6 -> 0.4 and -0.6 -> -0.4
    expect_close("loss = mean over sequences of -A * exp(mean clipped log-ratio)", loss, (-s0 + s1) / 2, inputs)
    expect_close("clipfrac: 1 of 5 tokens outside the band with A > 0", stats["clipfrac"], 1 / 5, inputs)
    expect_close("clipfrac_lower: 1 of 5 tokens outside the band with A < 0", stats["clipfrac_lower"], 1 / 5, inputs)
    approx_kl = -(0.6 - 0.2 - 0.6 + 0.2 + 0.1) / 5
    expect_close("approx_kl = mean(log pi_old - log pi)", stats["approx_kl"], approx_kl, inputs)
    loss.backward()
    expect_true("gradient", logp.grad is not None, "the loss has no gradient w.r.t. logprobs", inputs)
    expected = [[0.0, -s0 / 2 / 2, 0.0], [0.0, s1 / 3 / 2, s1 / 3 / 2]]
    expect_close("gradient -A s / (|o| B), 0 on the clipped tokens", logp.grad, expected, inputs)


def gmpo_is_a_geometric_mean(fn: Callable) -> None:
    gen = torch.Generator().manual_seed(3)
    log_ratios = torch.randn(4, 6, generator=gen, dtype=torch.float64) * 0.3
    mask = (torch.rand(4, 6, generator=gen) > 0.3).double()
    mask[:, 0] = 1.0
    adv = torch.randn(4, 1, generator=gen, dtype=torch.float64) * mask
    logp, old = _logprobs(log_ratios.exp())
    loss, _ = fn(logp, old, adv, mask, clip_low=10.0, clip_high=10.0)  # nothing clipped
    rows = []
    for i in range(4):
        ratios = log_ratios[i][mask[i].bool()].exp()
        rows.append(-adv[i, 0] * ratios.prod() ** (1 / len(ratios)))  # (prod r)^(1/n)
    inputs = {"log_ratios": log_ratios, "mask": mask, "advantages": adv}
    expect_close("unclipped: -A (prod_t r_t)^(1/|o|), averaged over sequences", loss, torch.stack(rows).mean(), inputs)
    weights = torch.full((4, 6), 2.0, dtype=torch.float64)
    loss_w, _ = fn(logp, old, adv, mask, clip_low=10.0, clip_high=10.0, is_weights=weights)
    expect_close("is_weights of 2 everywhere: geometric mean 2 per sequence", loss_w, 2 * loss.detach(), inputs)


def gmpo_edge_cases(fn: Callable) -> None:
    logp, old = _logprobs(GMPO_LOG_RATIOS.exp())
    zeros = torch.zeros_like(GMPO_MASK)
    loss, stats = fn(logp, old, GMPO_ADV, zeros)
    expect_close("all-zero mask: loss 0", loss, 0.0, {"mask": zeros})
    expect_true("all-zero mask", all(math.isfinite(v) for v in stats.values()), f"non-finite stats {stats}")
    # float32, log-ratio 101 on a sequence with A < 0: the max keeps 101, and exp(101) overflows float32
    huge, old32 = torch.full((2, 3), 100.0), torch.full((2, 3), -1.0)
    loss, _ = fn(huge, old32, GMPO_ADV.float(), GMPO_MASK.float())
    expect_true(
        "log-ratio of 101",
        math.isfinite(float(loss)),
        "loss overflowed: clamp the log-ratio to [-20, 20]",
        {"logprobs": 100.0, "old_logprobs": -1.0},
    )
    empty = torch.zeros(0, 3, dtype=torch.float64)
    loss, _ = fn(empty, empty, empty, empty)
    expect_close("empty batch: loss 0", loss, 0.0, {"B": 0})


GSPO_CHECKS = [gspo_hand_worked, gspo_paper_defaults, gspo_holes_and_weights, gspo_token_advantages, gspo_edge_cases]
CISPO_CHECKS = [cispo_hand_worked, cispo_no_lower_bound, cispo_edge_cases]
GMPO_CHECKS = [gmpo_hand_worked, gmpo_is_a_geometric_mean, gmpo_edge_cases]


def check_gspo(fn: Callable, verbose: bool = True) -> None:
    run_checks("gspo_policy_loss", fn, GSPO_CHECKS, verbose)


def check_cispo(fn: Callable, verbose: bool = True) -> None:
    run_checks("cispo_policy_loss", fn, CISPO_CHECKS, verbose)


def check_gmpo(fn: Callable, verbose: bool = True) -> None:
    run_checks("gmpo_policy_loss", fn, GMPO_CHECKS, verbose)


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {
    ("policy_losses", "gspo_policy_loss"): GSPO_CHECKS,
    ("policy_losses", "cispo_policy_loss"): CISPO_CHECKS,
    ("policy_losses", "gmpo_policy_loss"): GMPO_CHECKS,
}
