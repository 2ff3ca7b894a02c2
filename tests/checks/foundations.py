# Chapter 00 notes: learning_notes/00_foundations/README.md#the-policy-gradient-theorem
"""Checks for minimal_impl/foundations.py: the worked numbers of chapter 00, autograd oracles, edge cases."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._util import expect_close, expect_true, run_checks

LN2 = math.log(2.0)
# the notes' bandit: pi = softmax([0, 0, ln 2]) = [1/4, 1/4, 1/2], expected rewards r = [1, 0, 0.5], J = 0.5
BANDIT_LOGITS = torch.tensor([0.0, 0.0, LN2], dtype=torch.float64)
BANDIT_REWARDS = torch.tensor([1.0, 0.0, 0.5], dtype=torch.float64)


# ---------------------------------------------------------------- reward_to_go


def reward_to_go_hand_worked(fn: Callable) -> None:
    rewards = torch.tensor([[1.0, 0.0, 2.0]])
    inputs = {"rewards": rewards, "gamma": 0.5}
    # G_2 = 2, G_1 = 0 + 0.5 * 2 = 1, G_0 = 1 + 0.5 * 1 = 1.5
    expect_close("gamma = 0.5: G = [1 + 0.5*1, 0 + 0.5*2, 2]", fn(rewards, gamma=0.5), [[1.5, 1.0, 2.0]], inputs)
    expect_close(
        "gamma = 1: sums of the rewards from t on", fn(rewards, gamma=1.0), [[3.0, 2.0, 2.0]], {**inputs, "gamma": 1.0}
    )
    terminal = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    expect_close(
        "terminal reward, gamma = 0.9: G_t = 0.9^(T-1-t)",
        fn(terminal, gamma=0.9),
        [[0.729, 0.81, 0.9, 1.0]],
        {"rewards": terminal, "gamma": 0.9},
    )


def reward_to_go_matches_double_sum(fn: Callable) -> None:
    gen = torch.Generator().manual_seed(0)
    rewards = torch.randn(3, 6, generator=gen, dtype=torch.float64)
    for gamma in (0.0, 0.7, 1.0):
        expected = torch.zeros_like(rewards)
        for t in range(6):
            for k in range(t, 6):
                expected[:, t] += gamma ** (k - t) * rewards[:, k]  # G_t = sum_{k >= t} gamma^(k-t) r_k
        got = fn(rewards, gamma=gamma)
        expect_close(
            f"random rewards, gamma = {gamma}: the double sum", got, expected, {"rewards": rewards, "gamma": gamma}
        )


def reward_to_go_shapes(fn: Callable) -> None:
    one = torch.tensor([1.0, 0.0, 2.0])
    expect_close("a single episode of shape [T] keeps its shape", fn(one, gamma=0.5), [1.5, 1.0, 2.0], {"rewards": one})
    empty = torch.zeros(2, 0)
    expect_close("zero-length episodes give an empty [2, 0]", fn(empty, gamma=0.9), empty, {"rewards": empty})


# ---------------------------------------------------------------- softmax_score


def softmax_score_hand_worked(fn: Callable) -> None:
    inputs = {"logits": BANDIT_LOGITS, "actions": torch.tensor(0)}
    # pi = [1/4, 1/4, 1/2]; onehot(0) - pi
    expect_close(
        "action 0: [1, 0, 0] - [1/4, 1/4, 1/2]", fn(BANDIT_LOGITS, torch.tensor(0)), [0.75, -0.25, -0.5], inputs
    )
    got = fn(BANDIT_LOGITS, torch.tensor(2))
    expect_close(
        "action 2: [0, 0, 1] - [1/4, 1/4, 1/2]", got, [-0.25, -0.25, 0.5], {**inputs, "actions": torch.tensor(2)}
    )


def softmax_score_matches_autograd(fn: Callable) -> None:
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    actions = torch.tensor([0, 3, 4, 3])
    z = logits.clone().requires_grad_(True)
    chosen = torch.log_softmax(z, dim=-1).gather(-1, actions[:, None]).sum()  # sum_i log pi_i(a_i)
    (expected,) = torch.autograd.grad(chosen, z)
    expect_close(
        "a batch [4, 5]: equals autograd's grad of log pi(a)",
        fn(logits, actions),
        expected,
        {"logits": logits, "actions": actions},
    )


def softmax_score_expectation_is_zero(fn: Callable) -> None:
    """The lemma of the notes: E_{a ~ pi}[grad log pi(a)] = sum_a pi(a) grad log pi(a) = grad sum_a pi(a) = 0."""
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(6, generator=gen, dtype=torch.float64)
    probs = torch.softmax(logits, dim=-1)
    scores = torch.stack([fn(logits, torch.tensor(a)) for a in range(6)])  # [K, K] row a = score(a)
    inputs = {"logits": logits}
    expect_close("sum_a pi(a) score(a) = 0 (expected grad-log-prob)", probs @ scores, torch.zeros(6), inputs, atol=1e-9)
    big = torch.tensor([1000.0, 0.0, -1000.0])
    got = fn(big, torch.tensor(0))
    expect_close(
        "large logits (1000) stay finite: pi = [1, 0, 0], action 0 -> 0", got, [0.0, 0.0, 0.0], {"logits": big}
    )


def softmax_score_bandit_variance(fn: Callable) -> None:
    """The notes' variance table: same mean gradient with and without the baseline b = J = 0.5, 3x less variance."""
    probs = torch.softmax(BANDIT_LOGITS, dim=-1)
    scores = torch.stack([fn(BANDIT_LOGITS, torch.tensor(a)) for a in range(3)]).to(torch.float64)  # [K, K]
    exact = probs * (BANDIT_REWARDS - (probs * BANDIT_REWARDS).sum())  # grad J = pi * (r - J)
    inputs = {"logits": BANDIT_LOGITS, "expected rewards": BANDIT_REWARDS}
    for b, variance in ((0.0, 0.234375), (0.5, 0.078125)):
        g = (BANDIT_REWARDS - b)[:, None] * scores  # [K, K] the estimate (r_a - b) score(a) if arm a is drawn
        mean = probs @ g
        expect_close(f"baseline {b}: E[(r - b) score] = grad J = [0.125, -0.125, 0]", mean, exact, {**inputs, "b": b})
        total_var = (probs * (g**2).sum(dim=-1)).sum() - (mean**2).sum()  # E|g|^2 - |E g|^2
        expect_close(f"baseline {b}: total variance of the estimate", total_var, variance, {**inputs, "b": b})


# ---------------------------------------------------------------- reinforce_loss


def reinforce_loss_hand_worked(fn: Callable) -> None:
    logprobs = torch.tensor([[-1.0, -2.0]])
    returns = torch.tensor([[1.0, 3.0]])
    mask = torch.ones(1, 2)
    inputs = {"logprobs": logprobs, "returns": returns, "mask": mask}
    # -(1 * -1 + 3 * -2) = 7; with b = 1: -(0 * -1 + 2 * -2) = 4
    expect_close("no baseline: -(1*(-1) + 3*(-2)) = 7", fn(logprobs, returns, mask), 7.0, inputs)
    expect_close(
        "baseline 1: -(0*(-1) + 2*(-2)) = 4",
        fn(logprobs, returns, mask, baseline=1.0),
        4.0,
        {**inputs, "baseline": 1.0},
    )
    per_token = torch.tensor([[0.0, 2.0]])
    got = fn(logprobs, returns, mask, baseline=per_token)
    expect_close("a [B, T] baseline [[0, 2]]: -(1*(-1) + 1*(-2)) = 3", got, 3.0, {**inputs, "baseline": per_token})


def reinforce_loss_sums_time_averages_episodes(fn: Callable) -> None:
    logprobs = torch.tensor([[-1.0, -2.0, -0.5], [-1.0, -2.0, -0.5]])
    returns = torch.tensor([[1.0, 3.0, 7.0], [1.0, 3.0, 7.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])  # the third token is padding
    inputs = {"logprobs": logprobs, "returns": returns, "mask": mask}
    expect_close(
        "two copies of the 2-token episode (+ padding) give the loss of one: sum over t, mean over episodes",
        fn(logprobs, returns, mask),
        7.0,
        inputs,
    )
    lp = logprobs.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(lp, returns, mask, baseline=1.0), lp)
    # d loss / d logp_it = -m_it (G_it - b) / B
    expect_close(
        "gradient: -mask * (G - b) / B", grad, [[0.0, -1.0, 0.0], [0.0, -1.0, 0.0]], {**inputs, "baseline": 1.0}
    )
    zeros = torch.zeros_like(mask)
    expect_close("all-zero mask gives 0, not NaN", fn(logprobs, returns, zeros), 0.0, {**inputs, "mask": zeros})


def reinforce_loss_no_gradient_into_returns(fn: Callable) -> None:
    logprobs = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    returns = torch.tensor([[1.0, 3.0]], requires_grad=True)  # e.g. computed by a critic
    baseline = torch.tensor([[0.5, 0.5]], requires_grad=True)
    loss = fn(logprobs, returns, torch.ones(1, 2), baseline=baseline)
    grads = torch.autograd.grad(loss, [returns, baseline], allow_unused=True)
    inputs = {"logprobs": logprobs, "returns": returns, "baseline": baseline}
    for name, grad in zip(("returns", "baseline"), grads):
        leaked = grad is not None and bool(grad.abs().sum() > 0)
        expect_true(
            f"no gradient into the {name}",
            not leaked,
            f"the loss has a gradient with respect to the {name}: they are constants of the estimator (detach them), "
            "or minimising the loss would also move them",
            inputs,
        )


# ---------------------------------------------------------------- importance_sampling_estimate


def importance_sampling_hand_worked(fn: Callable) -> None:
    behaviour = torch.log(torch.tensor([0.5, 0.5]))  # mu
    target = torch.log(torch.tensor([0.8, 0.2]))  # pi
    values = torch.tensor([1.0, 0.0])
    inputs = {"values": values, "target_logprobs": target, "behaviour_logprobs": behaviour}
    expect_close("one sample of each action: (1.6 * 1 + 0.4 * 0) / 2", fn(values, target, behaviour), 0.8, inputs)
    both_first = torch.log(torch.tensor([0.8, 0.8])), torch.log(torch.tensor([0.5, 0.5]))
    got = fn(torch.tensor([1.0, 1.0]), *both_first)
    expect_close(
        "two samples of action 0: (1.6 + 1.6) / 2, a plain average (self-normalised would give 1)",
        got,
        1.6,
        {"values": [1.0, 1.0], "target_logprobs": both_first[0], "behaviour_logprobs": both_first[1]},
    )


def importance_sampling_log_space(fn: Callable) -> None:
    # float64: near 1000, float32 resolves log-probs only to 6e-5
    target = torch.tensor([-1000.0, -1001.0], dtype=torch.float64)
    behaviour = torch.tensor([-1000.0 - LN2, -1001.0], dtype=torch.float64)  # ratios 2 and 1; exp(-1000) underflows
    values = torch.tensor([1.0, 1.0], dtype=torch.float64)
    inputs = {"values": values, "target_logprobs": target, "behaviour_logprobs": behaviour}
    expect_close("log-probs near -1000: ratios exp(l_pi - l_mu) = [2, 1]", fn(values, target, behaviour), 1.5, inputs)


def importance_sampling_unbiased(fn: Callable) -> None:
    gen = torch.Generator().manual_seed(3)
    mu = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    pi = torch.tensor([0.1, 0.3, 0.6], dtype=torch.float64)
    f = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    x = torch.multinomial(mu, 200_000, replacement=True, generator=gen)
    got = fn(f[x], pi.log()[x], mu.log()[x])
    inputs = {"mu": mu, "pi": pi, "f": f, "samples": "200,000 from mu"}
    expect_close("E_pi[f] = 0.1*1 + 0.3*2 + 0.6*3 = 2.5 from samples of mu", got, 2.5, inputs, atol=0.03, rtol=0)


# ---------------------------------------------------------------- surrogate_loss


def surrogate_hand_worked(fn: Callable) -> None:
    logprobs = torch.log(torch.tensor([[0.6]]))
    old = torch.log(torch.tensor([[0.5]]))
    adv = torch.tensor([[2.0]])
    mask = torch.ones(1, 1)
    inputs = {"logprobs": logprobs, "old_logprobs": old, "advantages": adv, "mask": mask}
    expect_close("r = 0.6 / 0.5 = 1.2, loss -r * A = -2.4", fn(logprobs, old, adv, mask), -2.4, inputs)


def surrogate_gradient_is_reinforce_at_old_policy(fn: Callable) -> None:
    gen = torch.Generator().manual_seed(4)
    old = -torch.rand(3, 4, generator=gen, dtype=torch.float64) * 3
    adv = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    mask = torch.tensor([[1.0, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.float64)
    inputs = {"old_logprobs": old, "advantages": adv, "mask": mask}
    lp = old.clone().requires_grad_(True)  # theta = theta_old: every ratio is 1
    loss = fn(lp, old, adv, mask)
    (grad,) = torch.autograd.grad(loss, lp)
    expect_close("at theta_old the value is -(1/B) sum m A", loss, -(adv * mask).sum() / 3, inputs)
    expect_close("at theta_old the gradient is REINFORCE's: -m A / B", grad, -(adv * mask) / 3, inputs)
    lp = (old + 0.3).requires_grad_(True)  # every ratio e^0.3
    (grad,) = torch.autograd.grad(fn(lp, old, adv, mask), lp)
    expect_close("away from theta_old: d(-r A)/d log pi = -r A m / B", grad, -math.exp(0.3) * adv * mask / 3, inputs)


def surrogate_constants_and_edges(fn: Callable) -> None:
    logprobs = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    old = torch.tensor([[-1.2, -1.5]], requires_grad=True)
    adv = torch.tensor([[1.0, -1.0]], requires_grad=True)
    grads = torch.autograd.grad(fn(logprobs, old, adv, torch.ones(1, 2)), [old, adv], allow_unused=True)
    inputs = {"logprobs": logprobs, "old_logprobs": old, "advantages": adv}
    for name, grad in zip(("old_logprobs", "advantages"), grads):
        leaked = grad is not None and bool(grad.abs().sum() > 0)
        expect_true(
            f"no gradient into {name}", not leaked, f"{name} come from the rollout: constants (detach them)", inputs
        )
    zeros = torch.zeros(1, 2)
    got = fn(logprobs.detach(), old.detach(), adv.detach(), zeros)
    expect_close("all-zero mask gives 0, not NaN", got, 0.0, {**inputs, "mask": zeros})


REWARD_TO_GO_CHECKS = [reward_to_go_hand_worked, reward_to_go_matches_double_sum, reward_to_go_shapes]
SOFTMAX_SCORE_CHECKS = [
    softmax_score_hand_worked,
    softmax_score_matches_autograd,
    softmax_score_expectation_is_zero,
    softmax_score_bandit_variance,
]
REINFORCE_CHECKS = [
    reinforce_loss_hand_worked,
    reinforce_loss_sums_time_averages_episodes,
    reinforce_loss_no_gradient_into_returns,
]
IMPORTANCE_SAMPLING_CHECKS = [
    importance_sampling_hand_worked,
    importance_sampling_log_space,
    importance_sampling_unbiased,
]
SURROGATE_CHECKS = [surrogate_hand_worked, surrogate_gradient_is_reinforce_at_old_policy, surrogate_constants_and_edges]


def check_reward_to_go(fn: Callable, verbose: bool = True) -> None:
    run_checks("reward_to_go", fn, REWARD_TO_GO_CHECKS, verbose)


def check_softmax_score(fn: Callable, verbose: bool = True) -> None:
    run_checks("softmax_score", fn, SOFTMAX_SCORE_CHECKS, verbose)


def check_reinforce_loss(fn: Callable, verbose: bool = True) -> None:
    run_checks("reinforce_loss", fn, REINFORCE_CHECKS, verbose)


def check_importance_sampling(fn: Callable, verbose: bool = True) -> None:
    run_checks("importance_sampling_estimate", fn, IMPORTANCE_SAMPLING_CHECKS, verbose)


def check_surrogate_loss(fn: Callable, verbose: bool = True) -> None:
    run_checks("surrogate_loss", fn, SURROGATE_CHECKS, verbose)


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {
    ("foundations", "reward_to_go"): REWARD_TO_GO_CHECKS,
    ("foundations", "softmax_score"): SOFTMAX_SCORE_CHECKS,
    ("foundations", "reinforce_loss"): REINFORCE_CHECKS,
    ("foundations", "importance_sampling_estimate"): IMPORTANCE_SAMPLING_CHECKS,
    ("foundations", "surrogate_loss"): SURROGATE_CHECKS,
}
