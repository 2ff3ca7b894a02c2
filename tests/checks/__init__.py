# Exercise harness: README.md#exercise-mode
"""Checks that take a function (yours or ours) and name the first mismatch.

In a notebook:
    from tests.checks import check_gae
    check_gae(my_compute_gae)      # prints PASS ... or raises CheckFailed with inputs, expected, got

`REGISTRY` maps each exercise (module, name) to its checks; tests/test_exercises.py runs them all
against the package chosen with `pytest --impl`.
"""

from ._util import CheckFailed, run_checks
from .gae import GAE_CHECKS, check_gae
from .grpo import GRPO_CHECKS, RLOO_CHECKS, check_grpo, check_rloo
from .kl import (
    ADAPTIVE_KL_CHECKS,
    KL_ESTIMATE_CHECKS,
    KL_LOSS_CHECKS,
    KL_PENALTY_CHECKS,
    check_adaptive_kl,
    check_kl_estimate,
    check_kl_loss,
    check_kl_penalty_rewards,
)
from .masked import (
    MASKED_MEAN_CHECKS,
    MASKED_VAR_CHECKS,
    MASKED_WHITEN_CHECKS,
    check_masked_mean,
    check_masked_var,
    check_masked_whiten,
)
from .ppo import (
    AGGREGATE_CHECKS,
    ENTROPY_CHECKS,
    POLICY_LOSS_CHECKS,
    VALUE_LOSS_CHECKS,
    check_aggregate_loss,
    check_entropy,
    check_policy_loss,
    check_value_loss,
)

# (module, exercise name) -> checks; the name may be "Class.method", checked through its class
REGISTRY = {
    ("masked", "masked_mean"): MASKED_MEAN_CHECKS,
    ("masked", "masked_var"): MASKED_VAR_CHECKS,
    ("masked", "masked_whiten"): MASKED_WHITEN_CHECKS,
    ("gae", "compute_gae"): GAE_CHECKS,
    ("ppo", "aggregate_loss"): AGGREGATE_CHECKS,
    ("ppo", "ppo_policy_loss"): POLICY_LOSS_CHECKS,
    ("ppo", "value_loss"): VALUE_LOSS_CHECKS,
    ("ppo", "entropy_from_logits"): ENTROPY_CHECKS,
    ("kl", "kl_estimate"): KL_ESTIMATE_CHECKS,
    ("kl", "kl_penalty_rewards"): KL_PENALTY_CHECKS,
    ("kl", "kl_loss"): KL_LOSS_CHECKS,
    ("kl", "AdaptiveKLController.update"): ADAPTIVE_KL_CHECKS,
    ("grpo", "grpo_advantages"): GRPO_CHECKS,
    ("grpo", "rloo_advantages"): RLOO_CHECKS,
}

__all__ = [
    "REGISTRY",
    "CheckFailed",
    "run_checks",
    "check_adaptive_kl",
    "check_aggregate_loss",
    "check_entropy",
    "check_gae",
    "check_grpo",
    "check_kl_estimate",
    "check_kl_loss",
    "check_kl_penalty_rewards",
    "check_masked_mean",
    "check_masked_var",
    "check_masked_whiten",
    "check_policy_loss",
    "check_rloo",
    "check_value_loss",
]
