# Chapter 06 notes: learning_notes/06_training_engineering/README.md#the-actor-loss-of-one-micro-batch
"""Checks for minimal_impl/actor_loss.py: the one-token example of the docstring, and a fixed micro-batch
(masks with holes) against an oracle written here from the formulas, values and gradients."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._util import expect_close, expect_true, run_checks


def logprobs_hand_worked(fn: Callable) -> None:
    logits = torch.tensor([[[0.0, 0.0, math.log(2.0)]]])
    targets = torch.tensor([[2]])
    inputs = {"logits": logits, "targets": targets}
    expect_close("probabilities 0.25, 0.25, 0.5: log 0.5", fn(logits, targets), [[math.log(0.5)]], inputs)
    # temperature 2: z / 2 = [0, 0, 0.3466], p = sqrt(2) / (2 + sqrt(2))
    expected = math.log(math.sqrt(2) / (2 + math.sqrt(2)))
    expect_close(
        "temperature 2 divides the logits first", fn(logits, targets, 2.0), [[expected]], {**inputs, "temperature": 2.0}
    )


def logprobs_batch_and_dtype(fn: Callable) -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 7, generator=gen)
    targets = torch.randint(7, (2, 3), generator=gen)
    expected = torch.log_softmax(logits / 0.7, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    inputs = {"logits": "[2, 3, 7] random", "targets": targets, "temperature": 0.7}
    expect_close("[2, 3] log-probs of the targets", fn(logits, targets, 0.7), expected, inputs)
    got = fn(logits.bfloat16(), targets, 0.7)
    expect_true("bf16 logits", got.dtype == torch.float32, f"expected float32 log-probs, got {got.dtype}", inputs)


def _micro_batch(seed: int = 1, temperature: float = 1.0) -> dict:
    """Logits, targets, and old/reference log-probs near the current ones (ratios ~ 0.6-1.6: some clipped)."""
    gen = torch.Generator().manual_seed(seed)
    b, t, v = 2, 5, 6
    logits = torch.randn(b, t, v, generator=gen) * 2
    targets = torch.randint(v, (b, t), generator=gen)
    current = torch.log_softmax(logits / temperature, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return {
        "logits": logits,
        "targets": targets,
        "old": current + torch.randn(b, t, generator=gen) * 0.3,
        "ref": current + torch.randn(b, t, generator=gen) * 0.3,
        "adv": torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.0], [-0.5, -0.5, -0.5, -0.5, -0.5]]),
        "mask": torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 1.0, 1.0, 0.0]]),  # holes: tool output, padding
    }


def _oracle(d: dict, logits: torch.Tensor, temperature: float, kl_coef: float, entropy_coef: float) -> torch.Tensor:
    """The actor loss from the formulas, token-mean, clip 0.2, k3 KL (written independently of the package)."""
    z = logits / temperature
    logp = torch.log_softmax(z, -1)
    lp = logp.gather(-1, d["targets"].unsqueeze(-1)).squeeze(-1)
    ratio = torch.exp(lp - d["old"])
    pg = torch.maximum(-d["adv"] * ratio, -d["adv"] * ratio.clamp(0.8, 1.2))
    log_ref_ratio = d["ref"] - lp  # k3 = r - log r - 1 with r = pi_ref / pi
    k3 = torch.exp(log_ref_ratio) - log_ref_ratio - 1
    entropy = -(logp.exp() * logp).sum(-1)
    mean = lambda x: (x * d["mask"]).sum() / d["mask"].sum()  # noqa: E731
    return mean(pg) + kl_coef * mean(k3) - entropy_coef * mean(entropy)


def actor_loss_hand_worked(fn: Callable) -> None:
    logits = torch.zeros(1, 1, 2)
    targets = torch.tensor([[0]])
    old = torch.tensor([[math.log(0.5)]])
    inputs = {"logits": logits, "targets": targets, "old_logprobs": old, "advantages": [[1.0]], "entropy_coef": 0.1}
    loss, stats = fn(logits, targets, old, torch.ones(1, 1), torch.ones(1, 1), entropy_coef=0.1)
    expect_close("ratio 1, A = 1: pg_loss = -1, minus 0.1 x entropy ln 2", loss, -1.0 - 0.1 * math.log(2), inputs)
    for key, value in (("pg_loss", -1.0), ("entropy", math.log(2))):
        expect_true(f"stats[{key!r}]", key in stats, f"stats must contain {key!r}, got {sorted(stats)}", inputs)
        expect_close(f"stats[{key!r}]", stats[key], value, inputs)
    expect_true("no reference", "kl_loss" not in stats, "without ref_logprobs there is no KL term to log", inputs)


def actor_loss_matches_the_formulas(fn: Callable) -> None:
    for temperature, kl_coef, entropy_coef in ((1.0, 0.0, 0.0), (0.7, 0.1, 0.01), (1.3, 0.5, 0.0)):
        d = _micro_batch(1, temperature)
        inputs = {
            "logits": "[2, 5, 6] random",
            "mask": d["mask"],
            "temperature": temperature,
            "kl_coef": kl_coef,
            "entropy_coef": entropy_coef,
            "agg": "token-mean",
            "clip": 0.2,
            "kl_type": "k3",
        }
        mine = d["logits"].clone().requires_grad_(True)
        loss, stats = fn(
            mine,
            d["targets"],
            d["old"],
            d["adv"],
            d["mask"],
            ref_logprobs=d["ref"],
            temperature=temperature,
            kl_coef=kl_coef,
            kl_type="k3",
            entropy_coef=entropy_coef,
        )
        theirs = d["logits"].clone().requires_grad_(True)
        expected = _oracle(d, theirs, temperature, kl_coef, entropy_coef)
        expect_close("the loss of a fixed micro-batch", loss, expected, inputs, atol=1e-5)
        loss.backward()
        expected.backward()
        expect_close("its gradient with respect to the logits", mine.grad, theirs.grad, inputs, atol=1e-6)
        expect_true("kl_loss logged", "kl_loss" in stats, "with ref_logprobs, stats must contain 'kl_loss'", inputs)


def actor_loss_uses_the_given_policy_loss(fn: Callable) -> None:
    d = _micro_batch(2)
    calls = []

    def plain_pg(logprobs: torch.Tensor, old: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor) -> tuple:
        calls.append(logprobs.shape)
        return -(adv * logprobs * mask).sum() / mask.sum(), {"clipfrac": 0.0}

    loss, stats = fn(d["logits"], d["targets"], d["old"], d["adv"], d["mask"], policy_loss=plain_pg)
    lp = torch.log_softmax(d["logits"], -1).gather(-1, d["targets"].unsqueeze(-1)).squeeze(-1)
    inputs = {"policy_loss": "-(A * logp * mask).sum() / mask.sum()", "mask": d["mask"]}
    expect_true(
        "policy_loss is called", calls == [torch.Size([2, 5])], f"called with {calls}, expected once on [2, 5]", inputs
    )
    expect_close(
        "the loss is the given policy loss (no KL, no entropy)",
        loss,
        -(d["adv"] * lp * d["mask"]).sum() / d["mask"].sum(),
        inputs,
    )
    expect_true(
        "its stats are kept", stats.get("clipfrac") == 0.0, f"stats lost the policy loss's own: {stats}", inputs
    )


def check_actor_loss(fn: Callable, verbose: bool = True) -> None:
    run_checks("actor_loss", fn, ACTOR_LOSS_CHECKS, verbose)


def check_logprobs_from_logits(fn: Callable, verbose: bool = True) -> None:
    run_checks("logprobs_from_logits", fn, LOGPROBS_CHECKS, verbose)


LOGPROBS_CHECKS = [logprobs_hand_worked, logprobs_batch_and_dtype]
ACTOR_LOSS_CHECKS = [actor_loss_hand_worked, actor_loss_matches_the_formulas, actor_loss_uses_the_given_policy_loss]

# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {
    ("actor_loss", "logprobs_from_logits"): LOGPROBS_CHECKS,
    ("actor_loss", "actor_loss"): ACTOR_LOSS_CHECKS,
}
