# Chapter 05 notes: learning_notes/05_agent_rl/README.md#the-reasoning-search-loop
# Generated from minimal_impl/tool_calls.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
"""Tool-call mechanics of a search agent: cut a turn at its action, parse it, inject the result, mask it.

The protocol is Search-R1's (arXiv 2503.09516; `search_r1/llm_agent/generation.py`): the model thinks,
then writes `<search> query </search>` or `<answer> text </answer>`; a search is answered by appending
`\\n\\n<information>Doc 1(Title: ...) ...</information>\\n\\n` to the context, and the model continues.
The trajectory is `[prompt | turn 1 | information | turn 2 | ... | last turn]`; the loss mask is 1 only
on the turns, the tokens the policy sampled.

Two deliberate differences from Search-R1, both documented in the notes:
  - we keep the *sampled token ids* of every turn and never decode and re-encode them (Search-R1 does,
    with `skip_special_tokens=True`, so the ids it trains on can differ from the ids it sampled);
  - a turn is cut after the *first* closing tag in the text; Search-R1 checks `</search>` before
    `</answer>` whatever their positions (`truncate_at_action(..., search_r1_order=True)` reproduces it).
A turn that ends with EOS and no action ends the episode (Search-R1 strips the EOS and treats the turn as
an invalid action).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch

INVALID_ACTION_MESSAGE = (
    "\nMy previous action is invalid. If I want to search, I should put the query between <search> and "
    "</search>. If I want to give the final answer, I should put the answer between <answer> and </answer>. "
    "Let me try again.\n"
)


@dataclass(frozen=True)
class ToolProtocol:
    """The tags and injected texts of the search-agent protocol (defaults: Search-R1's).

    If you change the tags, change `invalid_action_message` too: it names them to the model.
    """

    search_open: str = "<search>"
    search_close: str = "</search>"
    answer_open: str = "<answer>"
    answer_close: str = "</answer>"
    information_prefix: str = "\n\n<information>"
    information_suffix: str = "</information>\n\n"
    invalid_action_message: str = INVALID_ACTION_MESSAGE
    doc_template: str = "Doc {index}(Title: {title}) {text}\n"

    def __post_init__(self) -> None:
        for name in ("search_open", "search_close", "answer_open", "answer_close"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"ToolProtocol.{name} must be a non-empty string")
        if self.search_close == self.answer_close:
            raise ValueError("ToolProtocol: search and answer need different closing tags")

    @property
    def stop_tags(self) -> tuple[str, str]:
        """The closing tags that end a turn: generation stops after the first of them."""
        return (self.search_close, self.answer_close)


SEARCH_R1 = ToolProtocol()


class TokenizerLike(Protocol):
    """What the rollout needs from a tokenizer (any Hugging Face tokenizer fits)."""

    eos_token_id: int | None

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...

    def decode(self, token_ids: Sequence[int], skip_special_tokens: bool = ...) -> str: ...


# ---------------------------------------------------------------------------------------------------
# Text level: what Search-R1 does on decoded strings
# ---------------------------------------------------------------------------------------------------


def truncate_at_action(text: str, protocol: ToolProtocol | None = None, search_r1_order: bool = False) -> str:
    """Cut a generated turn right after its action's closing tag.

    Args:
        text: the decoded turn.
        protocol: the tags (None: `SEARCH_R1`).
        search_r1_order: False (default): cut after the first closing tag in the text, whichever it is.
            True: Search-R1's `_postprocess_responses`: if `</search>` occurs anywhere, cut after its
            first occurrence, else after the first `</answer>`; so in "<answer>a</answer> <search>q</search>"
            the answer is kept *and* the text runs on to the search's closing tag.

    Returns:
        A prefix of `text` ending with a closing tag, or `text` unchanged if it has none.
    """
    if not isinstance(text, str):
        raise ValueError(f"truncate_at_action: expected a string, got {type(text).__name__}")
    protocol = protocol or SEARCH_R1
    if search_r1_order:
        for tag in protocol.stop_tags:  # </search> first, as Search-R1 checks it
            pos = text.find(tag)
            if pos >= 0:
                return text[: pos + len(tag)]
        return text
    ends = [text.find(tag) + len(tag) for tag in protocol.stop_tags if tag in text]
    return text[: min(ends)] if ends else text


def parse_action(text: str, protocol: ToolProtocol | None = None) -> tuple[str | None, str]:
    """The first complete action in a turn: Search-R1's `postprocess_predictions` for one string.

    Search-R1 matches `<(search|answer)>(.*?)</\\1>` with DOTALL and takes the first match: the leftmost
    opening tag that has its own closing tag somewhere after it, up to the nearest such closing tag.

    Args:
        text: the (truncated) turn.
        protocol: the tags (None: `SEARCH_R1`).

    Returns:
        (action, content): action "search" or "answer" and the stripped text between the tags, or
        (None, "") when no complete action is found (an invalid action).
    """
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 4: Build one regex with two alternatives, open(.*?)close for search and for answer; re.escape each
    #   tag.
    # Stuck? The next hint: python scripts/make_exercises.py --hint tool_calls.parse_action
    raise NotImplementedError("tool_calls.parse_action: exercise not implemented yet")


def format_docs(docs: Sequence[dict], protocol: ToolProtocol | None = None) -> str:
    """Render retrieved documents as Search-R1's `_passages2string` does.

    Args:
        docs: documents as `{"contents": "title\\ntext"}` or as the retrieval service returns them,
            `{"document": {"contents": ...}, "score": s}`.
        protocol: gives `doc_template` ("Doc {index}(Title: {title}) {text}\\n"); None: `SEARCH_R1`.

    Returns:
        One line block per document, numbered from 1; the title is the first line of `contents`.
    """
    if isinstance(docs, (str, bytes)) or not isinstance(docs, Sequence):
        raise ValueError(f"format_docs: expected a list of documents, got {type(docs).__name__}")
    protocol = protocol or SEARCH_R1
    out = []
    for i, doc in enumerate(docs):
        inner = doc.get("document", doc) if isinstance(doc, dict) else None
        contents = inner.get("contents") if isinstance(inner, dict) else None
        if not isinstance(contents, str):
            raise ValueError(f'format_docs: document {i} has no string "contents" (got {doc!r:.80})')
        title, _, text = contents.partition("\n")
        out.append(protocol.doc_template.format(index=i + 1, title=title, text=text))
    return "".join(out)


def information_block(docs_text: str, protocol: ToolProtocol | None = None) -> str:
    """The observation appended after a search: `\\n\\n<information>{docs}</information>\\n\\n`.

    Args:
        docs_text: the rendered documents (`format_docs`); surrounding whitespace is stripped.
        protocol: the prefix and suffix (None: `SEARCH_R1`).

    Returns:
        The text to tokenize and append (with loss mask 0).
    """
    protocol = protocol or SEARCH_R1
    return protocol.information_prefix + docs_text.strip() + protocol.information_suffix


def env_step(
    action: str | None,
    content: str,
    search: Callable[[str], Sequence[dict]],
    protocol: ToolProtocol | None = None,
    do_search: bool = True,
) -> tuple[str, bool]:
    """Execute one parsed action: Search-R1's `execute_predictions` for one active episode.

    Args:
        action: "search", "answer" or None (invalid), as `parse_action` returns it.
        content: the query or the answer.
        search: `search(query) -> documents`; called only for a search when `do_search` is True.
        protocol: the texts to inject (None: `SEARCH_R1`).
        do_search: False on the last turn: a search is recognised but not executed.

    Returns:
        (observation text, done): answer -> ("", True); search -> (the information block, False), or
        ("", False) without executing it when `do_search` is False; invalid -> (the invalid-action
        message, False).
    """
    # Exercise: difficulty ★★☆ (medium), about 15 minutes.
    # Hint 1 of 4: Three cases on `action`; anything other than "search", "answer" or None is a bug: raise
    #   ValueError.
    # Stuck? The next hint: python scripts/make_exercises.py --hint tool_calls.env_step
    raise NotImplementedError("tool_calls.env_step: exercise not implemented yet")


# ---------------------------------------------------------------------------------------------------
# Token level: keep the sampled ids, append observation ids, build the masks
# ---------------------------------------------------------------------------------------------------


def _check_ids(ids: object, what: str) -> list[int]:
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1:
            raise ValueError(f"{what}: expected a 1-D sequence of token ids, got a tensor of shape {tuple(ids.shape)}")
        ids = ids.tolist()
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        raise ValueError(f"{what}: expected a sequence of token ids, got {type(ids).__name__}")
    out = list(ids)
    for i, t in enumerate(out):
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise ValueError(f"{what}: element {i} is {t!r}, not a non-negative int token id")
    return out


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
    ids = _check_ids(token_ids, "cut_turn_ids")
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


def truncate_observation(obs_ids: Sequence[int], max_obs_tokens: int, suffix_ids: Sequence[int] = ()) -> list[int]:
    """Keep at most `max_obs_tokens` observation tokens (Search-R1's `max_obs_length`).

    Search-R1 keeps the first `max_obs_length` tokens, so a long information block loses its closing
    `</information>`. Passing `suffix_ids` (e.g. the ids of the closing tag) keeps the block closed:
    the head is shortened to make room and the suffix is appended.

    Args:
        obs_ids: the observation's token ids.
        max_obs_tokens: the budget, >= 0.
        suffix_ids: ids to end a truncated observation with (not added when nothing is cut).

    Returns:
        `obs_ids` unchanged if it fits, else its head (plus `suffix_ids`), exactly `max_obs_tokens` long.
    """
    ids = _check_ids(obs_ids, "truncate_observation")
    suffix = _check_ids(suffix_ids, "truncate_observation suffix_ids")
    if isinstance(max_obs_tokens, bool) or not isinstance(max_obs_tokens, int) or max_obs_tokens < 0:
        raise ValueError(f"truncate_observation: max_obs_tokens must be an int >= 0, got {max_obs_tokens!r}")
    if len(ids) <= max_obs_tokens:
        return ids
    if len(suffix) > max_obs_tokens:
        raise ValueError(f"truncate_observation: suffix of {len(suffix)} ids exceeds max_obs_tokens={max_obs_tokens}")
    return ids[: max_obs_tokens - len(suffix)] + suffix


def assemble_trajectory(prompt_ids: Sequence[int], segments: Sequence[tuple[Sequence[int], bool]]) -> dict:
    """Concatenate a prompt and its response segments into one sequence with its masks.

    Args:
        prompt_ids: the prompt's token ids.
        segments: `(token_ids, is_model_generated)` pairs in order: the model's turns (True) and the
            injected observations (False).

    Returns:
        A dict of 1-D lists of equal length: `input_ids` (prompt then segments), `attention_mask`
        (1 everywhere: every real token is attended to, observations included) and `loss_mask`
        (1 on model-generated tokens, 0 on the prompt and on observations), plus `response_start`,
        the index of the first response token (= len(prompt_ids)).
    """
    # Exercise: difficulty ★☆☆ (easy), about 15 minutes.
    # Hint 1 of 3: Start with the prompt: its tokens are attended to but never trained on (loss mask 0).
    # Stuck? The next hint: python scripts/make_exercises.py --hint tool_calls.assemble_trajectory
    raise NotImplementedError("tool_calls.assemble_trajectory: exercise not implemented yet")


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
# The episode loop
# ---------------------------------------------------------------------------------------------------


@dataclass
class Trajectory:
    """One episode: the prompt, the segments in order, and what happened (for logging)."""

    prompt_ids: list[int]
    segments: list[tuple[list[int], bool]] = field(default_factory=list)
    actions: list[str | None] = field(default_factory=list)  # one per model turn
    turn_texts: list[str] = field(default_factory=list)  # decoded model turns
    search_queries: list[str] = field(default_factory=list)  # the searches actually executed
    answer: str | None = None
    finish_reason: str = ""  # "answer", "eos" or "max_turns"
    num_invalid_actions: int = 0
    num_truncated_observations: int = 0

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

    def assemble(self) -> dict:
        """`assemble_trajectory(prompt_ids, segments)`: input_ids, attention_mask, loss_mask, response_start."""
        return assemble_trajectory(self.prompt_ids, self.segments)

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


def run_agent_episode(
    generate_turn: Callable[[list[int]], Sequence[int]],
    search: Callable[[str], Sequence[dict]],
    tokenizer: TokenizerLike,
    prompt_ids: Sequence[int],
    max_turns: int,
    max_obs_tokens: int,
    protocol: ToolProtocol | None = None,
    eos_ids: Collection[int] | None = None,
    close_truncated_observations: bool = False,
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

    Returns:
        The `Trajectory`; `.assemble()` gives the masks, `.stats()` the logging numbers.
    """
    prompt = _check_ids(prompt_ids, "run_agent_episode prompt_ids")
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
        sampled = _check_ids(generate_turn(list(context)), f"run_agent_episode: generate_turn (turn {turn + 1})")
        kept, reason = cut_turn_ids(sampled, tokenizer, protocol, eos_ids)
        context += kept
        action, content = record_turn(traj, kept, tokenizer, protocol)
        obs_ids = take_action(
            traj, action, content, reason, search, tokenizer, protocol, last, max_obs_tokens, suffix_ids
        )
        if obs_ids is None:
            break
        context += obs_ids
    return traj


def record_turn(traj: Trajectory, kept: list[int], tokenizer: object, protocol: ToolProtocol) -> tuple[str | None, str]:
    """Append a (cut) model turn to the episode, trained on (loss mask 1), and return its parsed action."""
    traj.segments.append((kept, True))
    text = tokenizer.decode(kept, skip_special_tokens=False)
    action, content = parse_action(text, protocol)
    traj.actions.append(action)
    traj.turn_texts.append(text)
    return action, content


def take_action(
    traj: Trajectory,
    action: str | None,
    content: str,
    reason: str,
    search: Callable[[str], Sequence[dict]],
    tokenizer: object,
    protocol: ToolProtocol,
    last: bool,
    max_obs_tokens: int,
    suffix_ids: Sequence[int] = (),
) -> list[int] | None:
    """Execute a turn's action: None when the episode ends (finish_reason set), else the observation ids,
    already appended to the episode with loss mask 0 (truncated to `max_obs_tokens`, keeping the head)."""
    if action is None and reason == "eos":
        traj.finish_reason = "eos"
        return None
    observation, done = env_step(action, content, search, protocol, do_search=not last)
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
    obs_ids = tokenizer.encode(observation, add_special_tokens=False)
    if len(obs_ids) > max_obs_tokens:
        traj.num_truncated_observations += 1
        obs_ids = truncate_observation(obs_ids, max_obs_tokens, suffix_ids if action == "search" else ())
    traj.segments.append((obs_ids, False))
    return obs_ids


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
    ids = _check_ids(input_ids, "render_trajectory input_ids")
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
