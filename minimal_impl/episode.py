# Chapter 05 notes: learning_notes/05_agent_rl/README.md#the-reasoning-search-loop
"""Episodes of a search agent, built from the pieces of `tool_calls.py`.

One model turn after another: cut the sampled ids after the first closing tag (`cut_turn_ids`), record
the turn with loss mask 1 (`record_turn`), execute its action (`take_action`, which calls
`tool_calls.env_step` and appends the observation with loss mask 0), until an answer, an EOS or the turn
budget. `run_agent_episode` runs one episode with a `generate_turn` function; `rollout.rollout_batch`
runs a whole batch with the same two steps, so the two agree token for token. `collate_trajectories`
pads a batch of assembled episodes into tensors for the trainer.

Every function that uses an exercise takes `tools`, the module that provides `parse_action`,
`env_step`, `truncate_observation` and `assemble_trajectory`: `minimal_impl.tool_calls` by default, a
learner's own `tool_calls` with `--impl` (chapter 06).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from types import ModuleType

import torch

from . import tool_calls
from .tool_calls import SEARCH_R1, TokenizerLike, ToolProtocol, check_ids


@dataclass
class Trajectory:
    """One episode: the prompt, the segments in order, and what happened (for logging)."""

    prompt_ids: list[int]
    segments: list[tuple[list[int], bool]] = field(default_factory=list)
    actions: list[str | None] = field(default_factory=list)  # one per model turn
    turn_texts: list[str] = field(default_factory=list)  # decoded model turns
    search_queries: list[str] = field(default_factory=list)  # the searches actually executed
    search_results: list[list[dict]] = field(default_factory=list)  # the documents each of them returned
    answer: str | None = None
    finish_reason: str = ""  # "answer", "eos" or "max_turns"
    num_invalid_actions: int = 0
    num_truncated_observations: int = 0
    turn_logprobs: list[list[float]] = field(default_factory=list)  # the sampler's log-probs, per model turn

    @property
    def num_turns(self) -> int:
        """Model turns generated (Search-R1's `turns_stats` for an episode)."""
        return sum(1 for _, generated in self.segments if generated)

    @property
    def answered(self) -> bool:
        """True when the episode ended with a complete `<answer>...</answer>`."""
        return self.finish_reason == "answer"

    @property
    def hit_max_turns(self) -> bool:
        """True when the turn budget ran out before an answer or an EOS."""
        return self.finish_reason == "max_turns"

    def assemble(self, tools: ModuleType = tool_calls) -> dict:
        """`tools.assemble_trajectory(prompt_ids, segments)`: input_ids, attention_mask, loss_mask, response_start."""
        return tools.assemble_trajectory(self.prompt_ids, self.segments)

    def stats(self) -> dict:
        """Per-episode numbers for the trainer's logs."""
        model_tokens = sum(len(ids) for ids, generated in self.segments if generated)
        obs_tokens = sum(len(ids) for ids, generated in self.segments if not generated)
        return {
            "num_turns": self.num_turns,
            "num_searches": len(self.search_queries),
            "num_invalid_actions": self.num_invalid_actions,
            "answered": self.answered,
            "hit_max_turns": self.hit_max_turns,
            "finish_reason": self.finish_reason,
            "model_tokens": model_tokens,
            "observation_tokens": obs_tokens,
            "truncated_observations": self.num_truncated_observations,
        }


def cut_turn_ids(
    token_ids: Sequence[int],
    tokenizer: TokenizerLike,
    protocol: ToolProtocol | None = None,
    eos_ids: Collection[int] = (),
) -> tuple[list[int], str]:
    """Cut a turn's sampled ids after its first stop tag, without re-tokenizing anything.

    The kept ids are the smallest prefix whose decoded text contains a closing tag. With the tags as
    single added tokens (the tiny tokenizer, Qwen's `<tool_call>`) that is exactly "up to and including
    the tag's id". With a tag spread over several tokens, the last kept token is the one that completes
    the tag and may carry a few characters after it (e.g. `>\\n`); we keep it whole, because splitting
    a sampled token would change what the policy sampled.

    Args:
        token_ids: the ids one `generate` call returned for this turn (it may run past the tag).
        tokenizer: decodes ids to text (`decode(ids, skip_special_tokens=False)`).
        protocol: the stop tags (None: `SEARCH_R1`).
        eos_ids: ids that end the turn (kept in the turn); the first one ends the search for a tag.

    Returns:
        (kept ids, reason): reason "tag" (cut after a closing tag), "eos" (ended by an EOS id, no tag
        before it) or "length" (neither: the generation ran out of tokens).
    """
    ids = check_ids(token_ids, "cut_turn_ids")
    protocol = protocol or SEARCH_R1
    eos = set(eos_ids)
    end = next((i for i, t in enumerate(ids) if t in eos), None)
    body = ids if end is None else ids[:end]

    def has_tag(k: int) -> bool:
        text = tokenizer.decode(body[:k], skip_special_tokens=False)
        return any(tag in text for tag in protocol.stop_tags)

    if body and has_tag(len(body)):
        # containing a tag is monotone in the prefix length (the tags are plain text that, once decoded,
        # stays in every longer prefix), so a binary search finds the smallest k in O(log n) decodes
        lo, hi = 1, len(body)
        while lo < hi:
            mid = (lo + hi) // 2
            if has_tag(mid):
                hi = mid
            else:
                lo = mid + 1
        return body[:lo], "tag"
    if end is not None:
        return ids[: end + 1], "eos"
    return ids, "length"


def run_agent_episode(
    generate_turn: Callable[[list[int]], Sequence[int]],
    search: Callable[[str], Sequence[dict]],
    tokenizer: TokenizerLike,
    prompt_ids: Sequence[int],
    *,
    max_turns: int,
    max_obs_tokens: int,
    protocol: ToolProtocol | None = None,
    eos_ids: Collection[int] | None = None,
    close_truncated_observations: bool = False,
    tools: ModuleType = tool_calls,
) -> Trajectory:
    """Roll out one reasoning-search episode, keeping the sampled ids of every turn.

    As Search-R1's `run_llm_loop`: up to `max_turns` turns whose actions are executed, then, if the
    episode is still going, one final turn in which a search is recognised but not executed. So at most
    `max_turns` searches and `max_turns + 1` model turns.

    Each turn: `generate_turn(context ids)` samples ids; they are cut after the first closing tag
    (`cut_turn_ids`) and appended unchanged (loss mask 1). Then: answer -> stop; EOS with no action ->
    stop; search -> append the information block's ids (mask 0); anything else (including a turn that
    ran out of tokens) -> append the invalid-action message's ids (mask 0). Observations are cut to
    `max_obs_tokens`.

    Args:
        generate_turn: `generate_turn(input_ids) -> sampled ids of one turn` (for example a Hugging Face
            `generate` call with a stop string or a stop token; running past the tag is fine).
        search: `search(query) -> documents` (`{"contents": ...}` or `{"document": {...}}` items).
        tokenizer: encodes observations (`encode(text, add_special_tokens=False)`) and decodes turns.
        prompt_ids: the prompt, already chat-formatted and tokenized (non-empty).
        max_turns: turns with executed actions, >= 0.
        max_obs_tokens: budget per observation (Search-R1's `max_obs_length`).
        protocol: the tags and texts (None: `SEARCH_R1`).
        eos_ids: ids that end a turn; default `{tokenizer.eos_token_id}`.
        close_truncated_observations: if True, a truncated information block still ends with
            `protocol.information_suffix` (Search-R1: False, the block is left open).
        tools: the module with the exercises (`parse_action`, `env_step`, `truncate_observation`).

    Returns:
        The `Trajectory`; `.assemble()` gives the masks, `.stats()` the logging numbers.

    Example (a scripted model that searches, then answers; `tok` encodes one id per tag/word):
        run_agent_episode(scripted, search, tok, [1, 2], max_turns=2, max_obs_tokens=50).segments
        -> [([<search>, q, </search>], True), ([<information> ... </information>], False),
            ([<answer>, a, </answer>], True)]
    """
    prompt = check_ids(prompt_ids, "run_agent_episode prompt_ids")
    protocol = protocol or SEARCH_R1
    if not prompt:
        raise ValueError("run_agent_episode: prompt_ids is empty")
    for name, value in (("max_turns", max_turns), ("max_obs_tokens", max_obs_tokens)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"run_agent_episode: {name} must be an int >= 0, got {value!r}")
    if eos_ids is None:
        eos_ids = set() if tokenizer.eos_token_id is None else {tokenizer.eos_token_id}
    suffix_ids = (
        tokenizer.encode(protocol.information_suffix, add_special_tokens=False) if close_truncated_observations else []
    )

    traj = Trajectory(prompt_ids=prompt)
    context = list(prompt)
    for turn in range(max_turns + 1):
        last = turn == max_turns  # the final turn: actions are parsed, searches not executed
        sampled = check_ids(generate_turn(list(context)), f"run_agent_episode: generate_turn (turn {turn + 1})")
        kept, reason = cut_turn_ids(sampled, tokenizer, protocol, eos_ids)
        context += kept
        action, content = record_turn(traj, kept, tokenizer=tokenizer, protocol=protocol, tools=tools)
        docs = search(content) if action == "search" and not last else None
        obs_ids = take_action(
            traj,
            action,
            content,
            reason=reason,
            docs=docs,
            tokenizer=tokenizer,
            protocol=protocol,
            last=last,
            max_obs_tokens=max_obs_tokens,
            suffix_ids=suffix_ids,
            tools=tools,
        )
        if obs_ids is None:
            break
        context += obs_ids
    return traj


def record_turn(
    traj: Trajectory,
    kept: list[int],
    *,
    tokenizer: TokenizerLike,
    protocol: ToolProtocol,
    tools: ModuleType = tool_calls,
) -> tuple[str | None, str]:
    """Append a (cut) model turn to the episode, trained on (loss mask 1), and return its parsed action.

    Example: kept = ids of "<search> capital of France </search>" -> ("search", "capital of France"),
    and `traj.segments` gains `(kept, True)`.
    """
    traj.segments.append((kept, True))
    text = tokenizer.decode(kept, skip_special_tokens=False)
    action, content = tools.parse_action(text, protocol)
    traj.actions.append(action)
    traj.turn_texts.append(text)
    return action, content


def take_action(
    traj: Trajectory,
    action: str | None,
    content: str,
    *,
    reason: str,
    docs: Sequence[dict] | None,
    tokenizer: TokenizerLike,
    protocol: ToolProtocol,
    last: bool,
    max_obs_tokens: int,
    suffix_ids: Sequence[int] = (),
    tools: ModuleType = tool_calls,
) -> list[int] | None:
    """Execute a turn's action with `tools.env_step`: None when the episode ends (finish_reason set), else
    the observation ids, already appended to the episode with loss mask 0 (truncated to `max_obs_tokens`,
    keeping the head).

    Args:
        reason: why the turn ended, from `cut_turn_ids` ("tag", "eos" or "length").
        docs: the documents retrieved for a search (the caller searches, one batch for many episodes);
            None when the action is not an executed search.
        last: the final turn: a search is recognised but not executed.

    Example: action "search", docs [{"contents": "Paris\nThe capital of France."}] -> the ids of
    "\n\n<information>Doc 1(Title: Paris) The capital of France.</information>\n\n", loss mask 0.
    """
    if action is None and reason == "eos":
        traj.finish_reason = "eos"
        return None
    if action == "search" and not last and docs is None:
        raise ValueError("take_action: an executed search needs its documents (docs=None)")
    # the documents were fetched beforehand (in a batch): env_step's search returns them
    observation, done = tools.env_step(action, content, lambda _query: docs, protocol, do_search=not last)
    if action is None:
        traj.num_invalid_actions += 1
    if done:
        traj.answer, traj.finish_reason = content, "answer"
        return None
    if last:
        traj.finish_reason = "max_turns"
        return None
    if action == "search":
        traj.search_queries.append(content)
        traj.search_results.append(list(docs))
    obs_ids = tokenizer.encode(observation, add_special_tokens=False)
    if len(obs_ids) > max_obs_tokens:
        traj.num_truncated_observations += 1
        obs_ids = tools.truncate_observation(obs_ids, max_obs_tokens, suffix_ids if action == "search" else ())
    traj.segments.append((obs_ids, False))
    return obs_ids


def collate_trajectories(trajectories: Sequence[dict], pad_id: int, pad_to: int | None = None) -> dict:
    """Right-pad assembled trajectories into `[B, T]` tensors.

    Args:
        trajectories: dicts from `assemble_trajectory` (or `Trajectory.assemble()`).
        pad_id: the id written on padding (e.g. the tokenizer's pad id; it may equal eos, which is fine
            because the masks, not the ids, say what is padding).
        pad_to: pad to this length instead of the longest trajectory (must be >= every length).

    Returns:
        `input_ids`, `attention_mask`, `loss_mask`: `[B, T]` int64, with `pad_id` / 0 / 0 on padding;
        `response_start`: `[B]` int64.
    """
    if not trajectories:
        raise ValueError("collate_trajectories: empty batch")
    lengths = []
    for b, traj in enumerate(trajectories):
        if not isinstance(traj, dict) or not {"input_ids", "attention_mask", "loss_mask", "response_start"} <= set(
            traj
        ):
            raise ValueError(f"collate_trajectories: trajectory {b} is not a dict from assemble_trajectory")
        n = len(traj["input_ids"])
        if len(traj["attention_mask"]) != n or len(traj["loss_mask"]) != n:
            raise ValueError(f"collate_trajectories: trajectory {b} has lists of different lengths")
        lengths.append(n)
    width = max(lengths) if pad_to is None else pad_to
    if width < max(lengths):
        raise ValueError(
            f"collate_trajectories: pad_to={pad_to} is shorter than the longest trajectory ({max(lengths)})"
        )
    batch = len(trajectories)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)  # [B, T]
    attention_mask = torch.zeros(batch, width, dtype=torch.long)  # [B, T]
    loss_mask = torch.zeros(batch, width, dtype=torch.long)  # [B, T]
    for b, (traj, n) in enumerate(zip(trajectories, lengths)):
        input_ids[b, :n] = torch.tensor(traj["input_ids"], dtype=torch.long)
        attention_mask[b, :n] = torch.tensor(traj["attention_mask"], dtype=torch.long)
        loss_mask[b, :n] = torch.tensor(traj["loss_mask"], dtype=torch.long)
    response_start = torch.tensor([int(t["response_start"]) for t in trajectories], dtype=torch.long)  # [B]
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "loss_mask": loss_mask,
        "response_start": response_start,
    }


# ---------------------------------------------------------------------------------------------------
# Looking at a trajectory
# ---------------------------------------------------------------------------------------------------


def render_trajectory(
    tokenizer: TokenizerLike, input_ids: Sequence[int], loss_mask: Sequence[int], merge: bool = False
) -> list[tuple[str, int]]:
    """Pair each token's text with its loss mask, for printing or colouring (notebook 05).

    Args:
        tokenizer: decodes ids (special tokens kept).
        input_ids: the trajectory's ids.
        loss_mask: same length, 1 = trained on, 0 = prompt or observation.
        merge: False: one pair per token (a byte-level token that is part of a multi-byte character
            shows as "\\ufffd"); True: one pair per run of equal mask values, decoded together.

    Returns:
        A list of (text, mask) pairs whose texts concatenate to the decoded trajectory (when merged).
    """
    ids = check_ids(input_ids, "render_trajectory input_ids")
    if len(loss_mask) != len(ids):
        raise ValueError(f"render_trajectory: {len(ids)} ids but {len(loss_mask)} mask values")
    mask = [int(m) for m in loss_mask]
    if not merge:
        return [(tokenizer.decode([t], skip_special_tokens=False), m) for t, m in zip(ids, mask)]
    out: list[tuple[str, int]] = []
    start = 0
    for i in range(1, len(ids) + 1):
        if i == len(ids) or mask[i] != mask[start]:
            out.append((tokenizer.decode(ids[start:i], skip_special_tokens=False), mask[start]))
            start = i
    return out
