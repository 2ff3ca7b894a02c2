# Chapter 04 notes: learning_notes/04_reward_design/README.md#implementation-details-checklist
"""Rule rewards: agreement with verl's scorers, properties on arbitrary text, reward-hacking cases.

The verl comparisons are skipped, with the reason, when verl is not importable. Everything runs against
the package chosen with `--impl`, so a learner's `extract_gsm8k_answer` is compared with verl's too.
"""

from __future__ import annotations

import random
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# ---------------------------------------------------------------- random strings for the oracles

GSM8K_PIECES = [
    "#### ", "####", "### ", "##### ", "####  ", " ", "  ", "\n", "$", ",", ".", "-", "--", "0", "7", "42",
    "1,000", "3.5", "12,345.67", "-8", ".5", "The answer is ", "=", "+", "x", "abc", "，", "٣", "１", "...",
]  # fmt: skip
QA_PIECES = [
    "<answer>", "</answer>", "<answer> ", " </answer>", "<ANSWER>", "<answer", "answer>", "</answer",
    "Paris", "paris.", "The", " the ", "a", "An ", "Eiffel Tower", "eiffel-tower", " ", "\n", "\t",
    "<think>", "</think>", "x", "!", "“", "é", "İ", "U.S.", "Beijing",
]  # fmt: skip
GOLDS = [
    "Paris", ["Paris", "Paris, France"], "The Eiffel Tower", ["eiffel tower"], "The The", "A", "", "U.S.",
    ["Beijing", "Peking"], "x",
]  # fmt: skip


def _soup(rng: random.Random, pieces: list[str], max_pieces: int) -> str:
    return "".join(rng.choice(pieces) for _ in range(rng.randint(0, max_pieces)))


def _gsm8k_text(rng: random.Random) -> str:
    text = _soup(rng, GSM8K_PIECES, 30)
    if rng.random() < 0.3:  # long enough that the 300-character window cuts somewhere inside
        text = "".join(rng.choice(GSM8K_PIECES) for _ in range(rng.randint(60, 140))) + text
    return text


def _qa_text(rng: random.Random) -> str:
    text = _soup(rng, QA_PIECES, 25)
    if rng.random() < 0.15:  # around verl's limit of 10 answer tags
        text += "<answer>x</answer>" * rng.randint(8, 12) + rng.choice(["<answer>Paris</answer>", ""])
    return text


# ---------------------------------------------------------------- verl oracles

N_GSM8K, N_QA = 4000, 4000


def test_gsm8k_matches_verl(impl) -> None:
    verl_gsm8k = pytest.importorskip(
        "verl.utils.reward_score.gsm8k", reason="verl is not installed: the verl oracle is optional"
    )
    rng = random.Random(0)
    compared = 0
    for _ in range(N_GSM8K):
        text = _gsm8k_text(rng)
        for method in ("strict", "flexible"):
            theirs = verl_gsm8k.extract_solution(text, method=method)
            ours = impl.rewards.extract_gsm8k_answer(text, method=method)
            assert ours == theirs, (text, method, ours, theirs)
            truth = theirs if theirs is not None and rng.random() < 0.5 else rng.choice(["72", "1000", "1,000", "-5"])
            for format_score in (0.0, 0.1):
                expected = verl_gsm8k.compute_score(text, truth, method=method, format_score=format_score)
                got = impl.rewards.gsm8k_score(text, truth, method=method, format_score=format_score)
                assert got == expected and isinstance(got, float), (text, truth, method, format_score, got, expected)
                compared += 1
    assert compared == N_GSM8K * 4


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="#$,.-0123456789 \nab", max_size=400), st.sampled_from(["strict", "flexible"]))
def test_gsm8k_matches_verl_fuzzed(impl, text: str, method: str) -> None:
    verl_gsm8k = pytest.importorskip("verl.utils.reward_score.gsm8k", reason="verl is not installed")
    assert impl.rewards.extract_gsm8k_answer(text, method=method) == verl_gsm8k.extract_solution(text, method=method)


def test_qa_em_matches_verl(impl) -> None:
    verl_qa = pytest.importorskip(
        "verl.utils.reward_score.search_r1_like_qa_em", reason="verl is not installed: the verl oracle is optional"
    )
    rng = random.Random(1)
    rewards = impl.rewards
    for _ in range(N_QA):
        text, golds = _qa_text(rng), rng.choice(GOLDS)
        assert rewards.extract_answer(text) == verl_qa.extract_solution(text), text
        assert rewards.normalize_answer(text) == verl_qa.normalize_answer(text), text
        for format_score in (0.0, 0.1):
            expected = verl_qa.compute_score(text, {"target": golds}, format_score=format_score)
            got = rewards.em_score(text, golds, format_score=format_score, max_answer_tags=rewards.VERL_MAX_ANSWER_TAGS)
            assert got == expected, (text, golds, format_score, got, expected)
            expected = verl_qa.compute_score_subem(text, {"target": golds}, format_score=format_score)
            assert rewards.subem_score(text, golds, format_score=format_score) == expected, (text, golds)


# ---------------------------------------------------------------- never raises, on any text

ANY_TEXT = st.one_of(
    st.text(),
    st.lists(st.sampled_from(QA_PIECES + GSM8K_PIECES + ["<search>", "</information>"]), max_size=40).map("".join),
)


@settings(max_examples=150, deadline=None)
@given(ANY_TEXT, st.text(max_size=12), st.sampled_from(["strict", "flexible"]))
def test_gsm8k_never_raises_and_returns_a_reward(impl, text: str, truth: str, method: str) -> None:
    answer = impl.rewards.extract_gsm8k_answer(text, method=method)
    assert answer is None or answer in text or answer in text.replace(",", "")
    if method == "strict" and answer is not None:
        assert re.fullmatch(r"-?[0-9.]+", answer), answer  # commas removed, nothing else
    got = impl.rewards.gsm8k_score(text, truth, method=method, format_score=0.1, score=1.0)
    assert got in (0.0, 0.1, 1.0)
    assert (got == 1.0) == (answer == truth)


@settings(max_examples=100, deadline=None)
@given(ANY_TEXT, st.text(alphabet="0123456789,$", min_size=1, max_size=8))
def test_ground_truth_with_comma_or_dollar_never_matches_strict(impl, text: str, truth: str) -> None:
    # strict removes commas and cannot capture "$": such a ground truth is a data bug that scores 0 forever
    answer = impl.rewards.extract_gsm8k_answer(text + f"\n#### {truth}", method="strict")
    if "," in truth or "$" in truth:
        assert answer != truth
        assert impl.rewards.gsm8k_score(text + f"\n#### {truth}", truth) == 0.0
    else:
        assert answer == truth


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT)
def test_normalize_answer_properties(impl, text: str) -> None:
    out = impl.rewards.normalize_answer(text)
    assert impl.rewards.normalize_answer(out) == out  # idempotent
    assert out == out.strip() and "  " not in out
    assert not any(ch in out for ch in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    assert not set(out.split(" ")) & {"a", "an", "the"}


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT, st.text(alphabet=st.characters(blacklist_characters="<"), max_size=20))
def test_extract_answer_properties(impl, text: str, last: str) -> None:
    got = impl.rewards.extract_answer(text)
    oracle = re.findall(r"<answer>(.*?)</answer>", text, flags=re.DOTALL)  # the naive, quadratic form
    assert got == (oracle[-1].strip() if oracle else None)
    assert impl.rewards.extract_answer(text, min_matches=2) == (oracle[-1].strip() if len(oracle) >= 2 else None)
    # a block appended at the end is always (the end of) the answer: earlier spam cannot override it
    assert impl.rewards.extract_answer(text + f"<answer>{last}</answer>").endswith(last.strip())


@settings(max_examples=150, deadline=None)
@given(ANY_TEXT, st.sampled_from(GOLDS))
def test_em_scores_stay_in_their_range(impl, text: str, golds) -> None:
    rewards = impl.rewards
    em = rewards.em_score(text, golds, format_score=0.1, max_answer_tags=10)
    subem = rewards.subem_score(text, golds, format_score=0.1)
    assert em in (0.0, 0.1, 1.0, 0.25) and subem in (0.0, 0.1, 1.0)
    assert (em == 0.0) == (subem == 0.0) == (rewards.extract_answer(text) is None)
    if em in (1.0, 0.25):
        assert subem == 1.0  # equal strings are substrings
    shaped = rewards.em_format_score(text, golds, retrieval_score=0.1)
    assert shaped in (0.0, 0.1, 0.2, 0.2 + 0.1, 0.8, 1.0)


# ---------------------------------------------------------------- the format check against a grammar

_CONTENT = r"(?:(?!</?(?:think|search|information|answer)>).)*"


def _block(tag: str) -> str:
    return rf"<{tag}>{_CONTENT}</{tag}>"


THINK, SEARCH, INFO, ANSWER = (_block(t) for t in ("think", "search", "information", "answer"))
REQUIRED_THINK = re.compile(rf"\s*{THINK}\s*(?:{SEARCH}\s*{INFO}\s*{THINK}\s*)*{ANSWER}\s*", re.DOTALL)
OPTIONAL_THINK = re.compile(rf"\s*(?:{THINK}\s*)?(?:{SEARCH}\s*{INFO}\s*(?:{THINK}\s*)?)*{ANSWER}\s*", re.DOTALL)
TAG_SOUP = [
    "<think>", "</think>", "<search>", "</search>", "<information>", "</information>", "<answer>", "</answer>",
    "x", " ", "\n", "\x1c", "\xa0", "\u200b", "<think >", "<Answer>", "</answer", "<",
]  # fmt: skip


@st.composite
def tag_sequences(draw: st.DrawFn) -> str:
    """A valid-looking sequence with optional think blocks, then maybe one mutation."""
    think = "<think>t</think>"
    turn = "<search>q</search>\n<information>d</information>\n"
    parts = [think] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 3))):
        parts += [turn] + ([think] if draw(st.booleans()) else [])
    parts.append("<answer>a</answer>")
    tokens = re.split(r"(<[^>]*>)", "".join(parts))
    mutation = draw(st.sampled_from(["none", "drop", "duplicate", "insert", "append"]))
    if mutation == "append":  # text or a tag after the final </answer>
        tokens.append(draw(st.sampled_from(TAG_SOUP)))
    elif mutation != "none":
        i = draw(st.integers(0, len(tokens)))
        if mutation == "drop":
            del tokens[min(i, len(tokens) - 1)]
        elif mutation == "duplicate":
            tokens.insert(i, tokens[min(i, len(tokens) - 1)])
        else:
            tokens.insert(i, draw(st.sampled_from(TAG_SOUP)))
    return "".join(tokens)


@settings(max_examples=300, deadline=None)
@given(st.one_of(tag_sequences(), st.lists(st.sampled_from(TAG_SOUP), max_size=14).map("".join)), st.booleans())
def test_is_valid_sequence_equals_the_grammar(impl, text: str, require_think: bool) -> None:
    valid, reason = impl.rewards.is_valid_sequence(text, require_think=require_think)
    grammar = REQUIRED_THINK if require_think else OPTIONAL_THINK
    assert valid == bool(grammar.fullmatch(text)), (text, reason)
    assert impl.rewards.format_reward(text, require_think=require_think) == (1.0 if valid else 0.0)


# ---------------------------------------------------------------- huge and hostile inputs

HUGE = {
    "unclosed answer tags": "<answer>" * 50_000,
    "unclosed tags, one close at the end": "<answer>" * 50_000 + "</answer>",
    "closing tags only": "</answer>" * 50_000,
    "nested blocks": "<answer>" * 20_000 + "x" + "</answer>" * 20_000,
    "hash spam": "#### " * 80_000 + "#### 1",
    "one long number": "1," * 200_000,
    "think soup": "<think>" * 30_000 + "</information>" * 30_000,
    "unicode": "é İ ß “ ” ٣ １ " * 40_000,
}


@pytest.mark.parametrize("name", sorted(HUGE))
def test_huge_inputs_are_fast(impl, name: str) -> None:
    text, rewards = HUGE[name], impl.rewards
    start = time.perf_counter()
    rewards.extract_answer(text)
    rewards.is_valid_sequence(text)
    rewards.normalize_answer(text[:100_000])
    for method in ("strict", "flexible"):
        rewards.extract_gsm8k_answer(text, method=method, clip_chars=None)
        rewards.gsm8k_score(text, "1", method=method)
    rewards.em_score(text, ["x"], max_answer_tags=10)
    rewards.em_format_score(text, ["x"])
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, f"{name}: {elapsed:.2f} s (a quadratic regex?)"


@settings(max_examples=30, deadline=None)
@given(ANY_TEXT.filter(bool), st.integers(1_000, 5_000))
def test_repeated_text_is_fine(impl, text: str, times: int) -> None:
    big = text * times
    answer = impl.rewards.extract_answer(big)
    assert answer is None or isinstance(answer, str)
    assert impl.rewards.is_valid_sequence(big)[0] in (True, False)


def test_bad_arguments_raise_clear_errors(impl) -> None:
    rewards = impl.rewards
    assert rewards.extract_answer("<answer>x</answer>") == "x"
    with pytest.raises(TypeError, match="response must be a str"):
        rewards.extract_answer(None)
    with pytest.raises(ValueError, match="min_matches"):
        rewards.extract_answer("x", min_matches=0)
    with pytest.raises(ValueError, match="method must be one of"):
        rewards.extract_gsm8k_answer("#### 1", method="loose")
    with pytest.raises(ValueError, match="clip_chars"):
        rewards.extract_gsm8k_answer("#### 1", clip_chars=0)
    with pytest.raises(TypeError, match="ground_truth must be a str"):
        rewards.gsm8k_score("#### 72", 72)
    with pytest.raises(ValueError, match="golden_answers is empty"):
        rewards.em_score("<answer>x</answer>", [])
    with pytest.raises(TypeError, match="golden answer must be a str"):
        rewards.em_score("<answer>x</answer>", [None])


# ---------------------------------------------------------------- reward hacking, case by case


def test_answer_spam_earns_nothing(impl) -> None:
    rewards = impl.rewards
    candidates = ["London", "Paris", "Berlin"]
    spam = "".join(f"<answer>{c}</answer>" for c in candidates)
    assert rewards.em_score(spam, "Paris") == 0.0  # only the last block (Berlin) counts
    assert rewards.em_score(spam, "Berlin") == 1.0
    # verl's extra rule: a right answer among more than 10 answer tags is worth a quarter
    many = "<answer>x</answer>" * 10 + "<answer>Paris</answer>"
    assert rewards.em_score(many, "Paris") == 1.0
    assert rewards.em_score(many, "Paris", max_answer_tags=10) == 0.25
    assert rewards.format_reward("<think>t</think>" + spam) == 0.0  # the format check refuses several answers
    assert rewards.gsm8k_score("#### 70\n#### 71\n#### 72", "71") == 0.0


def test_substring_match_rewards_listing_candidates(impl) -> None:
    rewards = impl.rewards
    listing = "<answer>London, Paris, Berlin, Madrid, Rome</answer>"
    assert rewards.subem_score(listing, "Paris") == 1.0  # the hack works on subEM ...
    assert rewards.em_score(listing, "Paris") == 0.0  # ... and not on EM
    # a golden answer that normalises to "" is a substring of everything
    assert rewards.subem_score("<answer>anything at all</answer>", "The") == 1.0


def test_degenerate_golden_answers_match_an_empty_answer(impl) -> None:
    rewards = impl.rewards
    assert rewards.normalize_answer("The The") == ""
    assert rewards.em_score("<answer></answer>", "The The") == 1.0  # kept from Search-R1: filter such golds
    assert rewards.em_score("<answer>the</answer>", ["A"]) == 1.0  # option "A" of a multiple-choice question
    assert rewards.em_score("<answer></answer>", "Paris", format_score=0.1) == 0.1


def test_answer_outside_tags_and_format_score(impl) -> None:
    rewards = impl.rewards
    assert rewards.em_score("The answer is Paris.", "Paris", format_score=0.1) == 0.0  # no block: not even format
    assert rewards.em_score("<answer>The Paris.</answer>", "paris") == 1.0
    assert rewards.gsm8k_score("The answer is 72", "72", format_score=0.1) == 0.0
    assert rewards.gsm8k_score("#### 71", "72", format_score=0.1) == 0.1


def test_flexible_is_fooled_by_trailing_numbers(impl) -> None:
    rewards = impl.rewards
    solved = "48 + 24 = 72. So the answer is 72"
    assert rewards.gsm8k_score(solved, "72", method="flexible") == 1.0
    assert rewards.gsm8k_score(solved + " (step 2 of 3)", "72", method="flexible") == 0.0
    assert rewards.gsm8k_score(solved + ".", "72", method="flexible") == 0.0  # "72." != "72"
    assert rewards.gsm8k_score("I have no idea. 72", "72", method="flexible") == 1.0  # a bare guess pays
    assert rewards.gsm8k_score(solved, "72", method="strict") == 0.0  # strict demands the format


def test_format_reward_pays_for_form_not_content(impl) -> None:
    rewards = impl.rewards
    tidy_nonsense = "<think>hmm</think>\n<answer>banana</answer>"
    sloppy_truth = "Sure! <answer>Paris</answer>"
    assert rewards.format_reward(tidy_nonsense) == 1.0 and rewards.format_reward(sloppy_truth) == 0.0
    assert rewards.em_format_score(tidy_nonsense, "Paris") == pytest.approx(0.2)
    assert rewards.em_format_score(sloppy_truth, "Paris") == pytest.approx(0.8)
    assert rewards.em_format_score("<think>t</think><answer>Paris</answer>", "Paris") == 1.0
    assert rewards.em_format_score("Sure! <answer>Rome</answer>", "Paris") == pytest.approx(0.1)
    assert rewards.em_format_score("Paris", "Paris") == 0.0
    retrieved = "<think>t</think><search>q</search><information>Paris is ...</information><think>t</think>"
    assert rewards.em_format_score(retrieved + "<answer>Rome</answer>", "Paris", retrieval_score=0.1) == (
        pytest.approx(0.3)
    )
