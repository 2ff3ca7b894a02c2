# Chapter 00 notes: learning_notes/00_foundations/README.md#the-policy-gradient-theorem
# Generated from minimal_impl/foundations.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
"""The policy gradient from scratch: returns, the score function, REINFORCE with a baseline, importance sampling.

Chapter 03's PPO and GRPO are built from these pieces. The policies here are tables of logits (a bandit,
or chapter 03's probe), so every gradient can be checked by hand or against autograd:

- `reward_to_go`: G_t = sum_k gamma^k r_{t+k}, the return that follows each action;
- `softmax_score`: grad_z log softmax(z)_a = onehot(a) - softmax(z), the score function;
- `reinforce_loss`: the loss whose gradient is the REINFORCE estimate of grad J (with a baseline);
- `importance_sampling_estimate`: E_pi[f] from samples of another distribution mu;
- `surrogate_loss`: the importance-weighted (unclipped) surrogate, whose gradient at theta_old is REINFORCE's;
- `train_bandit`: REINFORCE on a Bernoulli bandit, the smallest policy that must learn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def reward_to_go(rewards: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """The discounted return that follows each step: G_t = r_t + gamma r_{t+1} + gamma^2 r_{t+2} + ...

    Args:
        rewards: `[..., T]` rewards, time on the last axis (e.g. `[B, T]`, one row per episode).
        gamma: discount factor in [0, 1].

    Returns:
        `[..., T]` returns G_t, same shape and dtype as `rewards`.

    Example: rewards `[[1., 0., 2.]]`, gamma 0.5 -> `[[1.5, 1., 2.]]`.
    """
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 2: G_t can be written with G_{t+1}: which end of the episode is the easy one to start from?
    # Stuck? The next hint: python scripts/make_exercises.py --hint foundations.reward_to_go
    raise NotImplementedError("foundations.reward_to_go: exercise not implemented yet")


def softmax_score(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """The score function of a softmax policy: the gradient of log pi(a) with respect to the logits.

    Args:
        logits: `[..., K]` logits z of a categorical policy pi = softmax(z).
        actions: `[...]` integer actions in [0, K).

    Returns:
        `[..., K]` grad_z log pi(a) = onehot(a) - softmax(z), without autograd.

    Example: logits `[0, 0, ln 2]` (pi = [1/4, 1/4, 1/2]), action 0 -> `[0.75, -0.25, -0.5]`.
    """
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 2: Write log softmax(z)_a = z_a - log sum_k exp(z_k) and differentiate it by z_j, for j = a and j !=
    #   a.
    # Stuck? The next hint: python scripts/make_exercises.py --hint foundations.softmax_score
    raise NotImplementedError("foundations.softmax_score: exercise not implemented yet")


def reinforce_loss(
    logprobs: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    baseline: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """The REINFORCE loss: its gradient is minus the policy-gradient estimate of a batch of episodes.

    Args:
        logprobs: `[B, T]` log pi_theta(a_t | s_t) of the sampled actions, with gradient.
        returns: `[B, T]` what each action is credited with (reward-to-go G_t, or an advantage).
        mask: `[B, T]` 1 on actions, 0 on padding.
        baseline: a number or `[B, T]` b(s_t) subtracted from the returns; it must not depend on a_t.

    Returns:
        A scalar: -(1/B) sum_i sum_t m_it (G_it - b_it) log pi(a_it | s_it). Returns and baseline are
        constants (no gradient flows into them). 0 for an all-zero mask.

    Example: logprobs `[[-1, -2]]`, returns `[[1, 3]]`, mask ones, baseline 1 -> 0*(-1) + 2*(-2) = -4,
    so the loss is 4.
    """
    # Exercise: difficulty ★★☆ (medium), about 15 minutes.
    # Hint 1 of 3: The gradient of sum_t (G_t - b) log pi(a_t|s_t) is the REINFORCE estimate: minimise its negative.
    # Stuck? The next hint: python scripts/make_exercises.py --hint foundations.reinforce_loss
    raise NotImplementedError("foundations.reinforce_loss: exercise not implemented yet")


def importance_sampling_estimate(
    values: torch.Tensor, target_logprobs: torch.Tensor, behaviour_logprobs: torch.Tensor
) -> torch.Tensor:
    """E_pi[f] estimated from samples x_i ~ mu: (1/N) sum_i (pi(x_i) / mu(x_i)) f(x_i).

    Args:
        values: `[N]` f(x_i) of samples drawn from the behaviour distribution mu.
        target_logprobs: `[N]` log pi(x_i) under the distribution we want the expectation for.
        behaviour_logprobs: `[N]` log mu(x_i) under the distribution that drew the samples.

    Returns:
        A scalar, the (unbiased, not self-normalised) importance-sampling estimate.

    Example: mu = [0.5, 0.5], pi = [0.8, 0.2], samples x = [0, 1] with f = [1, 0]:
    weights [1.6, 0.4] -> (1.6 * 1 + 0.4 * 0) / 2 = 0.8 = E_pi[f].
    """
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 2: The weight pi(x)/mu(x) comes from the two log-probabilities; which form stays finite when both
    #   are about -1000?
    # Stuck? The next hint: python scripts/make_exercises.py --hint foundations.importance_sampling_estimate
    raise NotImplementedError("foundations.importance_sampling_estimate: exercise not implemented yet")


def surrogate_loss(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """The importance-weighted surrogate of PPO without its clip, aggregated like `reinforce_loss`.

    Args:
        logprobs: `[B, T]` log pi_theta(a_t | s_t) under the current parameters, with gradient.
        old_logprobs: `[B, T]` log pi_old(a_t | s_t) under the policy that sampled the actions (constants).
        advantages: `[B, T]` A_t computed from the old policy's rollout (constants).
        mask: `[B, T]` 1 on actions, 0 on padding.

    Returns:
        A scalar: -(1/B) sum_i sum_t m_it r_it A_it with the ratio r = pi_theta / pi_old. At theta = theta_old
        (r = 1) its gradient equals `reinforce_loss(logprobs, advantages, mask)`'s.

    Example: logprobs `[[ln 0.6]]`, old `[[ln 0.5]]`, advantage `[[2]]` -> r = 1.2, loss -2.4.
    """
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 2: The ratio pi_theta/pi_old again comes from a difference of log-probabilities.
    # Stuck? The next hint: python scripts/make_exercises.py --hint foundations.surrogate_loss
    raise NotImplementedError("foundations.surrogate_loss: exercise not implemented yet")


def _no_baseline(rewards: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(rewards)


def _leave_one_out(rewards: torch.Tensor) -> torch.Tensor:
    """b_i = mean of the other samples' rewards: independent of a_i, so the estimate stays unbiased."""
    n = rewards.shape[0]
    return (rewards.sum() - rewards) / (n - 1)  # [B] b_i = (sum_j r_j - r_i) / (n - 1)


# name -> rewards [B] -> baselines [B]
BASELINES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"none": _no_baseline, "leave-one-out": _leave_one_out}


def train_bandit(
    loss_fn: Callable = reinforce_loss,
    *,
    arm_means: Sequence[float] = (0.2, 0.5, 0.8),
    baseline: str = "leave-one-out",
    reward_offset: float = 0.0,
    steps: int = 100,
    batch: int = 16,
    lr: float = 0.5,
    seed: int = 0,
) -> list[float]:
    """REINFORCE on a Bernoulli bandit: a softmax over arms, one action per episode, reward 1 with prob arm_means[a].

    Args:
        loss_fn: `(logprobs [B, 1], returns [B, 1], mask [B, 1], baseline=[B, 1]) -> scalar`, as `reinforce_loss`.
        arm_means: success probability of each arm (the best arm is the argmax).
        baseline: a key of BASELINES: "none" or "leave-one-out" (the mean reward of the other samples).
        reward_offset: a constant added to every reward. It changes no expected gradient, only the noise
            of the estimate without a baseline.
        steps, batch: SGD steps, and episodes sampled per step.
        lr: SGD learning rate on the logits.
        seed: seeds the sampling of arms and rewards.

    Returns:
        The policy's exact expected reward sum_a pi(a) arm_means[a] (offset excluded) before each step, `steps` floats.
        It starts at the mean of arm_means (uniform policy) and should approach max(arm_means).
    """
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
    if batch < 2 and baseline == "leave-one-out":
        raise ValueError("a leave-one-out baseline needs batch >= 2")
    gen = torch.Generator().manual_seed(seed)
    means = torch.tensor(arm_means, dtype=torch.float32)  # [K]
    logits = torch.zeros(len(means), requires_grad=True)  # [K] the whole policy
    curve = []
    for _ in range(steps):
        probs = torch.softmax(logits, dim=-1)  # [K]
        curve.append((probs * means).sum().item())  # J = sum_a pi(a) mu_a
        actions = torch.multinomial(probs.detach(), batch, replacement=True, generator=gen)  # [B]
        rewards = reward_offset + (torch.rand(batch, generator=gen) < means[actions]).float()  # [B] c + Bernoulli(mu_a)
        logprobs = torch.log_softmax(logits, dim=-1)[actions]  # [B] log pi(a_i), with gradient
        b = BASELINES[baseline](rewards)  # [B]
        loss = loss_fn(logprobs[:, None], rewards[:, None], torch.ones(batch, 1), baseline=b[:, None])
        (grad,) = torch.autograd.grad(loss, logits)
        with torch.no_grad():
            logits -= lr * grad  # plain SGD: theta <- theta - lr * grad(loss) = theta + lr * (estimate of grad J)
    return curve
