# Chapter 05 notes: learning_notes/05_agent_rl/README.md#the-reasoning-search-loop
# Generated from minimal_impl/tool_calls.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
"""Tool-call mechanics of a search agent: cut a turn at its action, parse it, inject the result, mask it.

The protocol is Search-R1's (arXiv 2503.09516; `search_r1/llm_agent/generation.py`): the model thinks,
then writes `<search> query </search>` or `<answer> text </answer>`; a search is answered by appending
`\\n\\n<information>Doc 1(Title: ...) ...</information>\\n\\n` to the context, and the model continues.
The trajectory is `[prompt | turn 1 | information | turn 2 | ... | last turn]`; the loss mask is 1 only
on the turns, the tokens the policy sampled.

This file holds the pieces you write yourself (the exercises): truncation, parsing, one environment
step, the documents and the information block, the observation budget and the loss mask.
`episode.py` composes them into whole episodes (cutting sampled ids, running an episode, collating a
batch); the trainer calls them through it, so a learner's `tool_calls.py` (`--impl`) runs the agent.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
    # Exercise: difficulty ★☆☆ (easy), about 15 minutes.
    # Hint 1 of 4: A non-string input is a bug in the caller: raise ValueError naming the function.
    # Stuck? The next hint: python scripts/make_exercises.py --hint tool_calls.truncate_at_action
    raise NotImplementedError("tool_calls.truncate_at_action: exercise not implemented yet")


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
# Token level: observation budget and loss mask (episode.py cuts sampled ids and runs episodes)
# ---------------------------------------------------------------------------------------------------


def check_ids(ids: object, what: str) -> list[int]:
    """`ids` as a list of non-negative ints (a 1-D tensor is accepted), or ValueError naming `what`."""
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
    ids = check_ids(obs_ids, "truncate_observation")
    suffix = check_ids(suffix_ids, "truncate_observation suffix_ids")
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
