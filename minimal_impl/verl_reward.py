# Chapter 07 notes: learning_notes/07_scaling/README.md#the-verl-bridge
"""The reward file verl loads: `reward.custom_reward_function.path=.../verl_reward.py` (name `compute_score`).

verl's reward manager calls `compute_score(data_source, solution_str, ground_truth, extra_info)` once per
response, with the row's `data_source` and `reward_model.ground_truth` as `minimal_impl.data` wrote them
and the decoded response (special tokens removed). We dispatch to the same rule rewards our trainer uses
(`rewards.py`, chosen as `tasks.Task.score` chooses them), so a curve from verl and one from our trainer
measure the same thing.

Multi-turn search: verl's `solution_str` is the whole response, information blocks and invalid-action
messages included (the latter names `<answer> and </answer>`, which EM would read as an answer). Our
trainer scores the model's own turns for EM and the whole sequence for em_format. `SearchR1AgentLoop`
leaves both texts in the episode's `extra_fields["search_r1_episode"]`, which verl merges into
`extra_info`; when they are there we score exactly what `Task.score` scores.
"""

from __future__ import annotations

import sys
from pathlib import Path

# verl imports this file by its path (`spec_from_file_location`), not as `minimal_impl.verl_reward`, so a
# relative import has no package to be relative to; the repository root makes the absolute import work.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from minimal_impl.data import DATA_SOURCES  # noqa: E402
from minimal_impl.rewards import REWARD_FNS, golden_answers, score_response  # noqa: E402
from minimal_impl.verl_bridge import EPISODE_KEY  # noqa: E402

GSM8K_SOURCES = frozenset(source for name, source in DATA_SOURCES.items() if name.endswith("gsm8k"))
QA_SOURCES = frozenset(source for name, source in DATA_SOURCES.items() if name.endswith("nq"))


def default_reward_fn(data_source: str) -> str:
    """The reward our presets use for a data source: gsm8k_strict for GSM8K, em for NQ-style QA."""
    if data_source in GSM8K_SOURCES:
        return "gsm8k_strict"
    if data_source in QA_SOURCES:
        return "em"
    known = ", ".join(sorted(GSM8K_SOURCES | QA_SOURCES))
    raise ValueError(f"unknown data_source {data_source!r}: verl_reward.py scores {known} (minimal_impl/data.py)")


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: object,
    extra_info: dict | None = None,
    reward_fn: str | None = None,
    format_score: float = 0.0,
    **kwargs: object,
) -> float:
    """verl's custom reward hook, scored by our `rewards.py`.

    Args:
        data_source: the row's `data_source` ("openai/gsm8k", "sample/gsm8k", "nq", "sample/nq").
        solution_str: the decoded response.
        ground_truth: the row's `reward_model.ground_truth`.
        extra_info: the row's `extra_info`, plus the agent loop's `extra_fields`: with a
            `search_r1_episode` (from `SearchR1AgentLoop`) its texts replace `solution_str`.
        reward_fn: None (the data source's default) or one of REWARD_FNS; verl passes it from
            `reward.custom_reward_function.reward_kwargs`, which the bridge sets when a preset differs.
        format_score: the reward for a well-formed but wrong answer (em, gsm8k).
        **kwargs: what else verl passes (`reward_router_address`, ...), ignored.

    Returns:
        The reward, a float.

    Raises:
        ValueError: an unknown data_source, or a reward_fn that does not fit it.
    """
    default = default_reward_fn(data_source)
    reward_fn = reward_fn or default
    if reward_fn not in REWARD_FNS or reward_fn.startswith("gsm8k") != default.startswith("gsm8k"):
        raise ValueError(f"reward_fn={reward_fn!r} does not score data_source {data_source!r} (default {default})")
    episode = (extra_info or {}).get(EPISODE_KEY)
    if isinstance(episode, dict):  # a SearchR1AgentLoop episode: the text Task.score reads
        solution_str = episode["full_text" if reward_fn == "em_format" else "model_text"]
    return score_response(reward_fn, solution_str, golden_answers(ground_truth), format_score)
