# Chapter 04 notes: learning_notes/04_reward_design/README.md#rule-rewards-versus-learned-reward-models
# Generated from minimal_impl/rewards.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
"""Rule rewards: GSM8K answer extraction, SQuAD-style exact match, and a tag-sequence format check.

A rule reward reads the final answer out of the response text and compares it with a known answer;
no model is involved, so it cannot be flattered, only gamed through the parsing rule. Semantics follow
verl 0.9.1 (`verl/utils/reward_score/gsm8k.py`, `search_r1_like_qa_em.py`) and Search-R1
(arXiv 2503.09516: `qa_em.py`, `qa_em_format.py`). Their quirks are kept (or exposed as options) and
listed in the notes' implementation-details checklist. Every scorer returns a number on any string:
a reward function that raises on one odd sample stops a whole training step.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

# ---------------------------------------------------------------- GSM8K (verl gsm8k.py)

GSM8K_CLIP_CHARS = 300  # verl's _SOLUTION_CLIP_CHARS: only the last 300 characters are read
GSM8K_METHODS = ("strict", "flexible")
# strict: "#### " (four hashes, exactly one space) then an optional minus and digits, dots, commas
_GSM8K_STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
# flexible: every run of digits, dots and commas (with an optional leading minus)
_GSM8K_FLEXIBLE = re.compile(r"(\-?[0-9\.\,]+)")
# flexible skips these when looking for the last number (a sentence-ending "." is a match too)
_GSM8K_NOT_A_NUMBER = ("", ".")


def _require_str(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}: {value!r:.80}")


def extract_gsm8k_answer(text: str, method: str = "strict", clip_chars: int | None = GSM8K_CLIP_CHARS) -> str | None:
    """The final answer of a GSM8K response, read like verl's `gsm8k.extract_solution`.

    Args:
        text: the response text.
        method: "strict": the number after the last `#### ` (the GSM8K answer format, so the model must
            learn the format); "flexible": the last number anywhere, skipping a lone ".".
        clip_chars: read only the last `clip_chars` characters (verl: 300, so that the regex never
            runs over a huge response); None reads everything.

    Returns:
        The answer as written, or None when there is none. Strict removes commas ("1,234" -> "1234");
        flexible keeps them ("1,234"), as verl does. Neither removes a trailing "." ("#### 72." ->
        "72.") nor accepts "$" after `#### ` ("#### $72" -> None). If every flexible match is ".",
        verl's loop leaves "." as the answer, and so do we.
    """
    # Exercise: difficulty ★★☆ (medium), about 20 minutes.
    # Hint 1 of 4: Reproduce verl's two readers from the docstring: strict reads the number after the last '#### ',
    #   flexible the last number anywhere. Validate the arguments first (TypeError for a non-str text, ValueError
    #   for a bad method or clip_chars).
    # Stuck? The next hint: python scripts/make_exercises.py --hint rewards.extract_gsm8k_answer
    raise NotImplementedError("rewards.extract_gsm8k_answer: exercise not implemented yet")


def gsm8k_score(
    response: str,
    ground_truth: str,
    method: str = "strict",
    format_score: float = 0.0,
    score: float = 1.0,
    clip_chars: int | None = GSM8K_CLIP_CHARS,
) -> float:
    """verl's GSM8K reward (`gsm8k.compute_score`, after ReFT, Trung et al. 2024).

    Args:
        response: the response text (the response alone, not the prompt).
        ground_truth: the reference answer as verl's data script writes it: digits after `#### `
            with commas removed ("1000"). It is compared as a string, without normalisation.
        method: "strict" or "flexible" (see `extract_gsm8k_answer`).
        format_score: the reward when an answer was extracted but is wrong.
        score: the reward when the extracted answer equals the ground truth.
        clip_chars: see `extract_gsm8k_answer`.

    Returns:
        0.0 when no answer can be extracted, `score` when it equals `ground_truth` exactly, otherwise
        `format_score`. Note that "72.0" != "72" and "72." != "72".
    """
    _require_str("ground_truth", ground_truth)
    answer = extract_gsm8k_answer(response, method=method, clip_chars=clip_chars)
    if answer is None:
        return 0.0  # no answer: 0, not format_score
    # exact string comparison: reward = score if answer == ground_truth else format_score
    return float(score) if answer == ground_truth else float(format_score)


# ---------------------------------------------------------------- QA exact match (Search-R1 qa_em.py)

THINK, SEARCH, INFORMATION, ANSWER = "think", "search", "information", "answer"
TAGS = (THINK, SEARCH, INFORMATION, ANSWER)
_PUNCTUATION = frozenset(string.punctuation)  # the 32 ASCII punctuation characters, nothing else
_ARTICLES = re.compile(r"\b(a|an|the)\b")
VERL_MAX_ANSWER_TAGS = 10  # verl's search_r1_like_qa_em divides the score by 4 above this many tags


def normalize_answer(s: str) -> str:
    """SQuAD answer normalisation (Rajpurkar et al. 2016), as Search-R1 and verl use it.

    Args:
        s: an answer string.

    Returns:
        `s` lower-cased, with ASCII punctuation deleted (not replaced by a space: "U.S." -> "us",
        "Jean-Paul" -> "jeanpaul"), the whole words a / an / the removed, and runs of whitespace
        collapsed to one space with none at the ends. "The Eiffel Tower." -> "eiffel tower".
        An answer made only of articles and punctuation ("The", "A.") normalises to "".
    """
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 3: Four steps in a fixed order: lower-case, delete punctuation, drop the articles, collapse
    #   whitespace. The order changes results: try 'the-end'.
    # Stuck? The next hint: python scripts/make_exercises.py --hint rewards.normalize_answer
    raise NotImplementedError("rewards.normalize_answer: exercise not implemented yet")


def extract_answer(response: str, tag: str = ANSWER, min_matches: int = 1) -> str | None:
    """The content of the last `<answer>...</answer>` block, stripped.

    Args:
        response: the text to search (the response alone; see the notes for why not prompt + response).
        tag: the tag name ("answer" gives `<answer>` and `</answer>`); matched case-sensitively.
        min_matches: return None unless there are at least this many complete blocks. 1 is verl's
            `search_r1_like_qa_em` (response only); 2 reproduces Search-R1's `qa_em.py`, which
            scores prompt + response, whose prompt already holds one example `<answer>` block.

    Returns:
        The stripped content of the last complete block ("" for an empty block), or None. Blocks are
        matched left to right, non-greedily and across newlines, like
        `re.finditer(r"<answer>(.*?)</answer>", text, re.DOTALL)`: in "<answer>a<answer>b</answer>"
        the one block holds "a<answer>b"; an unclosed trailing "<answer>" is ignored.
    """
    # Exercise: difficulty ★☆☆ (easy), about 15 minutes.
    # Hint 1 of 3: Find every complete <tag>...</tag> block, left to right; the last one wins. A regex with one
    #   group does it: which quantifier stops at the nearest closing tag?
    # Stuck? The next hint: python scripts/make_exercises.py --hint rewards.extract_answer
    raise NotImplementedError("rewards.extract_answer: exercise not implemented yet")


def _golden_list(golden_answers: Iterable[str] | str) -> list[str]:
    """A single string is one golden answer (as in Search-R1); otherwise a non-empty iterable of str."""
    golds = [golden_answers] if isinstance(golden_answers, str) else list(golden_answers)
    if not golds:
        raise ValueError("golden_answers is empty: no answer could ever match")
    for gold in golds:
        _require_str("each golden answer", gold)
    return golds


def _count_tags(response: str, tag: str = ANSWER) -> tuple[int, int]:
    return response.count(f"<{tag}>"), response.count(f"</{tag}>")


def em_score(
    response: str,
    golden_answers: Iterable[str] | str,
    format_score: float = 0.0,
    score: float = 1.0,
    max_answer_tags: int | None = None,
) -> float:
    """Exact-match reward for QA: the last `<answer>` block, normalised, equals a normalised golden answer.

    Args:
        response: the response text (not the prompt).
        golden_answers: the accepted answers (a list, a numpy array of str, or one string).
        format_score: the reward when an answer block exists but matches no golden answer.
        score: the reward for a match.
        max_answer_tags: None (Search-R1) or a limit (verl's `search_r1_like_qa_em` uses 10): a correct
            answer in a response with more than this many `<answer>` or `</answer>` tags gets score / 4.

    Returns:
        0.0 without an answer block, `score` (or score / 4) for a match, otherwise `format_score`.
    """
    golds = _golden_list(golden_answers)
    answer = extract_answer(response)
    if answer is None:
        return 0.0
    prediction = normalize_answer(answer)
    # EM = 1 if normalize(prediction) == normalize(gold) for some gold
    if not any(normalize_answer(gold) == prediction for gold in golds):
        return float(format_score)
    if max_answer_tags is not None and max(_count_tags(response)) > max_answer_tags:
        return score / 4  # verl's penalty for a response that spams answer tags
    return float(score)


def subem_score(
    response: str, golden_answers: Iterable[str] | str, format_score: float = 0.0, score: float = 1.0
) -> float:
    """Substring exact match (Search-R1 `compute_score_subem`): a normalised golden answer occurs in the answer.

    Args:
        response: the response text.
        golden_answers: the accepted answers (a list or one string).
        format_score: the reward when an answer block exists but contains no golden answer.
        score: the reward for a match.

    Returns:
        0.0 without an answer block, `score` if some normalised golden answer is a substring of the
        normalised answer, otherwise `format_score`. Easy to game: an answer that lists many
        candidates contains the right one (see the notes' reward-hacking section).
    """
    golds = _golden_list(golden_answers)
    answer = extract_answer(response)
    if answer is None:
        return 0.0
    prediction = normalize_answer(answer)
    # subEM = 1 if normalize(gold) is a substring of normalize(prediction) for some gold
    if any(normalize_answer(gold) in prediction for gold in golds):
        return float(score)
    return float(format_score)


# ---------------------------------------------------------------- format (Search-R1 qa_em_format.py)

# The state machine of a search-agent response: think, then either answer, or search and read the
# information the tool returned and think again. State -> {tag: next state}.
SEQUENCE_RULES: dict[str, dict[str, str]] = {
    "start": {f"<{THINK}>": "in_think"},
    "in_think": {f"</{THINK}>": "after_think"},
    "after_think": {f"<{SEARCH}>": "in_search", f"<{ANSWER}>": "in_answer"},
    "in_search": {f"</{SEARCH}>": "after_search"},
    "after_search": {f"<{INFORMATION}>": "in_information"},
    "in_information": {f"</{INFORMATION}>": "after_information"},
    "after_information": {f"<{THINK}>": "in_think"},
    "in_answer": {f"</{ANSWER}>": "end"},
    "end": {},
}
# require_think=False: thinking becomes optional at the start and after each information block
OPTIONAL_THINK_RULES: dict[str, dict[str, str]] = {
    **SEQUENCE_RULES,
    "start": {f"<{THINK}>": "in_think", f"<{SEARCH}>": "in_search", f"<{ANSWER}>": "in_answer"},
    "after_information": {f"<{THINK}>": "in_think", f"<{SEARCH}>": "in_search", f"<{ANSWER}>": "in_answer"},
}
# splits the text into tags and the text between them; the capturing group keeps the tags
_TAG_SPLIT = re.compile("(</?(?:" + "|".join(re.escape(t) for t in TAGS) + ")>)")


def is_valid_sequence(response: str, require_think: bool = True) -> tuple[bool, str]:
    """Whether a response is a well-formed think / search / information / answer sequence.

    With require_think=True (Search-R1's `is_valid_sequence`) the response must match
    `<think>…</think> (<search>…</search> <information>…</information> <think>…</think>)* <answer>…</answer>`;
    with require_think=False every think block is optional. Only whitespace may sit between
    blocks or after `</answer>`; text inside a block may be anything but one of the four tags.

    Args:
        response: the response text alone (Search-R1 first cuts the text at `<|im_start|>assistant`;
            we expect the response already, with special tokens such as `<|im_end|>` removed).
        require_think: see above.

    Returns:
        (valid, reason): reason names the first problem ("unexpected <answer> in state start", ...).
    """
    # Exercise: difficulty ★★★ (hard), about 30 minutes.
    # Hint 1 of 4: Treat the grammar as a state machine: the transitions are already defined (SEQUENCE_RULES,
    #   OPTIONAL_THINK_RULES). You need the tags and the text between them, in order.
    # Stuck? The next hint: python scripts/make_exercises.py --hint rewards.is_valid_sequence
    raise NotImplementedError("rewards.is_valid_sequence: exercise not implemented yet")


def format_reward(response: str, score: float = 1.0, require_think: bool = True) -> float:
    """`score` for a well-formed tag sequence (see `is_valid_sequence`), else 0.0.

    Args:
        response: the response text.
        score: the reward for a valid sequence.
        require_think: whether every answer and search must follow a think block.

    Returns:
        `score` or 0.0. It says nothing about the answer's correctness: used alone it teaches the format only.
    """
    valid, _ = is_valid_sequence(response, require_think=require_think)
    return float(score) if valid else 0.0


def _information_blocks(response: str) -> list[str]:
    return re.findall(rf"<{INFORMATION}>(.*?)</{INFORMATION}>", response, flags=re.DOTALL)


def em_format_score(
    response: str,
    golden_answers: Iterable[str] | str,
    structure_format_score: float = 0.2,
    final_format_score: float = 0.1,
    retrieval_score: float = 0.0,
    score: float = 1.0,
    require_think: bool = True,
) -> float:
    """Search-R1's EM reward with format shaping (`qa_em_format.compute_score_em`), on the response alone.

    Args:
        response: the response text.
        golden_answers: the accepted answers.
        structure_format_score: the reward for a valid sequence with a wrong answer, and the deduction
            from `score` for a right answer in an invalid sequence (Search-R1's v0.3 scripts: 0.2).
        final_format_score: the reward for an invalid sequence whose answer block is wrong (0.1).
        retrieval_score: added to a valid but wrong response whose `<information>` blocks contain a
            golden answer (0 in those scripts).
        score: the reward for a right answer in a valid sequence.
        require_think: see `is_valid_sequence`.

    Returns:
        | answer right? | valid sequence? | reward |
        | yes | yes | score |
        | yes | no  | score - structure_format_score |
        | no (or none) | yes | structure_format_score (+ retrieval_score if retrieved) |
        | no | no, but an answer block exists | final_format_score |
        | no answer block | no | 0 |
    """
    golds = _golden_list(golden_answers)
    valid, _ = is_valid_sequence(response, require_think=require_think)
    answer = extract_answer(response)
    correct = answer is not None and any(normalize_answer(g) == normalize_answer(answer) for g in golds)
    if correct:
        return float(score) if valid else float(score - structure_format_score)
    if valid:
        # blocks are balanced here, so this regex is linear; the tool wrote them, not the policy
        retrieved = any(
            normalize_answer(g) in normalize_answer(b) for b in _information_blocks(response) for g in golds
        )
        return float(structure_format_score + (retrieval_score if retrieved else 0.0))
    return float(final_format_score) if answer is not None else 0.0


# ---------------------------------------------------------------- by name (the trainer's reward_fn, verl's hook)

REWARD_FNS = ("em", "em_format", "gsm8k_strict", "gsm8k_flexible")


def golden_answers(ground_truth: object) -> list[str]:
    """The accepted answers of a row's `reward_model.ground_truth`: one string (GSM8K) or
    `{"target": [...]}` (NQ; a numpy array once a parquet reader has loaded it)."""
    if isinstance(ground_truth, dict):
        ground_truth = ground_truth["target"]
    if isinstance(ground_truth, str):
        return [ground_truth]
    return [str(answer) for answer in ground_truth]


def score_response(reward_fn: str, text: str, golden: list[str], format_score: float = 0.0) -> float:
    """The rule reward named `reward_fn` (one of REWARD_FNS) of `text`; em_format wants the whole
    sequence, `<information>` blocks included, the others the model's own text."""
    if reward_fn == "em":
        return em_score(text, golden, format_score=format_score)
    if reward_fn == "em_format":
        return em_format_score(text, golden)
    if reward_fn in ("gsm8k_strict", "gsm8k_flexible"):
        return gsm8k_score(text, golden[0], method=reward_fn.removeprefix("gsm8k_"), format_score=format_score)
    raise ValueError(f"unknown reward_fn {reward_fn!r}: one of {', '.join(REWARD_FNS)}")
