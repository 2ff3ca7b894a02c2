# Exercise harness: README.md#exercise-mode
"""Classic learner bugs, planted one at a time in the reference code: each must fail its checks with a
message that points at the fix.

Each row of `BUGS` edits the source of one `minimal_impl` module (exact text -> buggy text), loads the
result as a throw-away module, runs the exercise's checks on it, and requires a `CheckFailed` whose
message contains `message`: the sentence that names the mistake or the convention to follow. A check
that still passes on a bug, or a message that lost its explanation, fails here. Adding a row is the way
to pin a new learner bug: plant it in a scratch copy first (`python scripts/make_exercises.py --out
scratch_x`, paste a reference body, break it), read the message, then write the row.

    .venv/bin/python -m pytest tests/repo/test_bug_messages.py -q           # every bug
    .venv/bin/python tests/repo/test_bug_messages.py                        # the table: bug -> first lines
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.checks import REGISTRY, CheckFailed, run_checks

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Bug:
    name: str  # what the learner did
    module: str  # minimal_impl module
    exercise: str  # the exercise's name in tests/checks REGISTRY ("func" or "Class.method")
    edits: tuple[tuple[str, str], ...]  # (reference text, buggy text), each reference text unique in the file
    message: str  # the part of the failure message that leads to the fix


def _bug(name: str, where: str, old: str, new: str, message: str) -> Bug:
    module, exercise = where.split(".", 1)
    return Bug(name, module, exercise, ((old, new),), message)


BUGS = [
    # ------------------------------------------------------------------ chapter 03: masked statistics
    _bug(
        "unmasked mean",
        "masked.masked_mean",
        "return total / (count + 1e-8)",
        "return values.mean(dim=dim) if dim is not None else values.mean()",
        "padding included",
    ),
    _bug("no epsilon in the mean", "masked.masked_mean", "total / (count + 1e-8)", "total / count", "1e-8"),
    _bug(
        "biased variance",
        "masked.masked_var",
        "variance = variance * (n / (n - 1))",
        "variance = variance",
        "Bessel's correction",
    ),
    # ------------------------------------------------------------------ GAE
    _bug(
        "lambda dropped from the recursion",
        "gae.compute_gae",
        "gae_t = delta + gamma * lam * last_gae",
        "gae_t = delta + gamma * last_gae",
        "lambda is ignored",
    ),
    _bug(
        "gamma dropped from the recursion",
        "gae.compute_gae",
        "gae_t = delta + gamma * lam * last_gae",
        "gae_t = delta + lam * last_gae",
        "gamma is missing from the recursion",
    ),
    _bug(
        "tool tokens treated as time steps",
        "gae.compute_gae",
        "m = mask[:, t].to(values.dtype)",
        "m = torch.ones_like(mask[:, t]).to(values.dtype)",
        "treated as time steps",
    ),
    _bug(
        "advantages zeroed at masked positions (harmless, but not verl's tensor)",
        "gae.compute_gae",
        "advantages_reversed.append(last_gae)",
        "advantages_reversed.append(m * last_gae)",
        "only masked positions (mask 0) differ",
    ),
    _bug(
        "advantages left in reverse order",
        "gae.compute_gae",
        "torch.stack(advantages_reversed[::-1], dim=1)",
        "torch.stack(advantages_reversed, dim=1)",
        "reverse order",
    ),
    # ------------------------------------------------------------------ PPO
    _bug(
        "min instead of max",
        "ppo.ppo_policy_loss",
        "torch.maximum(loss_unclipped, loss_clipped)",
        "torch.minimum(loss_unclipped, loss_clipped)",
        "min of the two losses",
    ),
    _bug(
        "inverted ratio",
        "ppo.ppo_policy_loss",
        "torch.clamp(logprobs - old_logprobs, min=-20.0, max=20.0)",
        "torch.clamp(old_logprobs - logprobs, min=-20.0, max=20.0)",
        "the ratio is inverted",
    ),
    _bug(
        "log-ratio used as the ratio",
        "ppo.ppo_policy_loss",
        "ratio = torch.exp(log_ratio)  # [B, T]",
        "ratio = log_ratio  # [B, T]",
        "the log-ratio was used where the ratio belongs",
    ),
    Bug(
        "advantage sign flipped",
        "ppo",
        "ppo_policy_loss",
        (
            ("loss_unclipped = -advantages * ratio", "loss_unclipped = advantages * ratio"),
            ("loss_clipped = -advantages * torch.clamp(", "loss_clipped = advantages * torch.clamp("),
        ),
        "the advantage's sign is flipped",
    ),
    _bug(
        "missing dual clip",
        "ppo.ppo_policy_loss",
        "loss_mat = torch.where(negative, torch.minimum(loss_mat, loss_dual), loss_mat)",
        "loss_mat = loss_mat",
        "dual clip is missing",
    ),
    _bug(
        "dual clip on every token",
        "ppo.ppo_policy_loss",
        "loss_mat = torch.where(negative, torch.minimum(loss_mat, loss_dual), loss_mat)",
        "loss_mat = torch.minimum(loss_mat, loss_dual)",
        "applied to A > 0 tokens too",
    ),
    _bug(
        "clip range swapped",
        "ppo.ppo_policy_loss",
        "torch.clamp(ratio, 1 - clip_low, 1 + clip_high)",
        "torch.clamp(ratio, 1 - clip_high, 1 + clip_low)",
        "clip_low and clip_high are swapped",
    ),
    _bug(
        "clipfrac counts ties",
        "ppo.ppo_policy_loss",
        "torch.gt(loss_clipped, loss_unclipped)",
        "torch.ge(loss_clipped, loss_unclipped)",
        "ties were counted",
    ),
    _bug(
        "value loss takes the min",
        "ppo.value_loss",
        "torch.max(errors, errors_clipped)",
        "torch.min(errors, errors_clipped)",
        "the clipped value loss takes the max",
    ),
    _bug(
        "empty sequences counted",
        "ppo.aggregate_loss",
        "num_seqs = has_tokens.sum().clamp(min=1) if global_batch_size is None else global_batch_size",
        "num_seqs = float(mask.shape[0]) if global_batch_size is None else global_batch_size",
        "empty third row was counted as a sequence",
    ),
    _bug(
        "token-mean over every position",
        "ppo.aggregate_loss",
        "num_tokens = mask.sum().clamp(min=1) if batch_num_tokens is None else batch_num_tokens",
        "num_tokens = mask.numel() if batch_num_tokens is None else batch_num_tokens",
        "divided by all 12 positions",
    ),
    _bug(
        "entropy through log(softmax)",
        "ppo.entropy_from_logits",
        "return torch.logsumexp(logits, dim=-1) - (probs * logits).sum(dim=-1)  # [B, T]",
        "return -(probs * torch.log(probs)).sum(dim=-1)",
        "never takes log 0",
    ),
    # ------------------------------------------------------------------ KL
    _bug(
        "inverted k3",
        "kl.kl_estimate",
        "d = torch.clamp(ref_logprobs - logprobs, min=-20, max=20)",
        "d = torch.clamp(logprobs - ref_logprobs, min=-20, max=20)",
        "k3 is inverted",
    ),
    _bug(
        "k2 without the 1/2",
        "kl.kl_estimate",
        "value = 0.5 * log_ratio.square()",
        "value = log_ratio.square()",
        "the 1/2 is missing",
    ),
    _bug(
        "straight-through keeps k3's gradient",
        "kl.kl_estimate",
        "return k2 - k2.detach() + value.detach()",
        "return value",
        "this is k3's own gradient",
    ),
    _bug(
        "KL penalty added to the reward",
        "kl.kl_penalty_rewards",
        "rewards = token_scores - beta * kld",
        "rewards = token_scores + beta * kld",
        "the penalty was added",
    ),
    _bug(
        "adaptive controller without the clip",
        "kl.AdaptiveKLController.update",
        "float(np.clip(current_kl / self.target - 1, -0.2, 0.2))",
        "float(current_kl / self.target - 1)",
        "was not clipped to [-0.2, 0.2]",
    ),
    # ------------------------------------------------------------------ GRPO / RLOO
    _bug(
        "population std",
        "grpo.grpo_advantages",
        "mean, std = group.mean(), group.std()",
        "mean, std = group.mean(), group.std(correction=0)",
        "the population std (divide by n) was used",
    ),
    _bug(
        "one group for the whole batch",
        "grpo.grpo_advantages",
        "for rows in _group_indices(group_ids, scores.shape[0]):\n        group = scores[rows]  # [n]\n        if len",
        "for rows in [torch.arange(scores.shape[0])]:\n        group = scores[rows]  # [n]\n        if len",
        "one group for the whole batch",
    ),
    _bug(
        "advantage sign flipped",
        "grpo.grpo_advantages",
        "(group - mean) / (std + eps) if scale_by_std else group - mean",
        "(mean - group) / (std + eps) if scale_by_std else mean - group",
        "the sign is flipped",
    ),
    _bug(
        "singleton group gets 0",
        "grpo.grpo_advantages",
        "mean, std = torch.tensor(0.0), torch.tensor(1.0)",
        "mean, std = group.mean(), torch.tensor(1.0)",
        "verl's rule for a group of one",
    ),
    _bug(
        "RLOO baseline includes the response itself",
        "grpo.rloo_advantages",
        "advantages[rows] = group * n / (n - 1) - group.mean() * n / (n - 1)",
        "advantages[rows] = group - group.mean()",
        "the baseline includes s_i",
    ),
    # ------------------------------------------------------------------ chapter 04: rewards
    _bug(
        "greedy answer regex",
        "rewards.extract_answer",
        'blocks = re.findall(re.escape(open_tag) + "(.*?)" + re.escape(close_tag)',
        'blocks = re.findall(re.escape(open_tag) + "(.*)" + re.escape(close_tag)',
        "the regex is greedy",
    ),
    _bug(
        "first answer block instead of the last",
        "rewards.extract_answer",
        "return blocks[-1].strip()  # the last block wins",
        "return blocks[0].strip()",
        "the last block wins",
    ),
    Bug(
        "articles removed before punctuation",
        "rewards",
        "normalize_answer",
        (
            (
                'text = "".join(ch for ch in text if ch not in _PUNCTUATION)  # deleted, not replaced by a space\n'
                '    text = _ARTICLES.sub(" ", text)  # whole words only: "theater" keeps its "the"',
                'text = _ARTICLES.sub(" ", text)\n    text = "".join(ch for ch in text if ch not in _PUNCTUATION)',
            ),
        ),
        "the articles were removed before the punctuation",
    ),
    _bug(
        "punctuation replaced by a space",
        "rewards.normalize_answer",
        'text = "".join(ch for ch in text if ch not in _PUNCTUATION)',
        'text = "".join(" " if ch in _PUNCTUATION else ch for ch in text)',
        "punctuation was replaced by a space",
    ),
    _bug(
        "strict reads the first #### answer",
        "rewards.extract_gsm8k_answer",
        'return found[-1].replace(",", "")',
        'return found[0].replace(",", "")',
        "the last one wins",
    ),
    _bug(
        "strict keeps the commas",
        "rewards.extract_gsm8k_answer",
        'return found[-1].replace(",", "")',
        "return found[-1]",
        "strict removes the commas",
    ),
    # ------------------------------------------------------------------ chapter 05: BM25 and tool calls
    _bug(
        "missing idf floor",
        "bm25.compute_idf",
        "return np.where(idf < 0, floor, idf)",
        "return idf",
        "was kept: rank-bm25's BM25Okapi replaces every idf < 0",
    ),
    _bug(
        "observations trained on",
        "tool_calls.assemble_trajectory",
        "loss_mask += [int(generated)] * len(ids)",
        "loss_mask += [1] * len(ids)",
        "an observation has loss mask 1",
    ),
]


def load_mutant(bug: Bug) -> types.ModuleType:
    """The module of `bug` with its edits applied, loaded under a throw-away name (relative imports work)."""
    path = ROOT / "minimal_impl" / f"{bug.module}.py"
    source = path.read_text(encoding="utf-8")
    for old, new in bug.edits:
        count = source.count(old)
        assert count == 1, f"{bug.name}: {old!r} occurs {count} times in {path.name}; update the row to the new code"
        source = source.replace(old, new)
    name = f"minimal_impl._mutant_{bug.module}"
    module = types.ModuleType(name)
    module.__package__ = "minimal_impl"
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses look their module up while the class body runs
    try:
        exec(compile(source, f"<{bug.name}: mutant of {path.name}>", "exec"), module.__dict__)
    finally:
        del sys.modules[name]
    return module


def failure_message(bug: Bug) -> str | None:
    """The CheckFailed message the planted bug produces, or None if every check passes."""
    target = getattr(load_mutant(bug), bug.exercise.split(".")[0])
    try:
        run_checks(bug.exercise, target, REGISTRY[(bug.module, bug.exercise)], verbose=False)
    except CheckFailed as err:
        return str(err)
    return None


def test_bug_table_is_unique_and_names_real_exercises() -> None:
    names = [(bug.module, bug.name) for bug in BUGS]
    assert len(names) == len(set(names)), "two rows with the same module and name"
    assert all((bug.module, bug.exercise) in REGISTRY for bug in BUGS)
    assert len(BUGS) >= 23


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: f"{b.module}: {b.name}")
def test_planted_bug_fails_with_a_message_that_names_the_fix(bug: Bug) -> None:
    message = failure_message(bug)
    assert message is not None, f"{bug.name}: every check of {bug.module}.{bug.exercise} passes on this bug"
    flat = " ".join(message.split())  # explanations are wrapped over several lines
    assert bug.message in flat, f"{bug.name}: the message lost its explanation {bug.message!r}:\n{message}"


if __name__ == "__main__":
    for bug in BUGS:
        message = failure_message(bug) or "(no failure)"
        lines = message.splitlines()
        print(f"## {bug.module}.{bug.exercise}: {bug.name}\n" + "\n".join(lines[:4]) + "\n")
