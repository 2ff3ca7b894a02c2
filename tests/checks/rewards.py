# Chapter 04 notes: learning_notes/04_reward_design/README.md#reward-hacking
"""Checks for minimal_impl/rewards.py: the worked examples of the notes, verl's quirks, hacking attempts."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable

from ._util import expect_equal, expect_raises, expect_true, run_checks

VERL_GSM8K = (
    "verl's gsm8k.extract_solution, kept quirks and all, because the reward a policy is trained on is the "
    "reward it learns to exploit: the notes' checklist lists each quirk"
)


def _expect_equal(
    case: str, got: object, expected: object, inputs: dict, diagnose: Callable | None = None, convention: str = ""
) -> None:
    """Exact equality of value and type (strings, None, bools), with a likely cause when one is recognised."""
    expect_equal(case, got, expected, inputs, diagnose=diagnose, convention=convention, strict_type=True)


def _gsm8k_diagnosis(text: str, expected: str | None, method: str) -> Callable[[object], str | None]:
    """Names the classic mistake behind a wrong GSM8K extraction of `text`, when it is one."""

    def diagnose(got: object) -> str | None:
        numbers = re.findall(r"(\-?[0-9\.\,]+)", text)
        if method == "strict" and isinstance(got, str) and "," in got:
            return "strict removes the commas of the number it reads ('1,234' -> '1234'); flexible keeps them"
        if expected is not None and got == expected.rstrip(".") and expected.endswith("."):
            return "the trailing full stop was removed; verl keeps it ('72.' != '72' is a quirk the reward keeps)"
        if expected is None and got is not None:
            if len(text) > 300:
                return "only the last 300 characters are read (clip_chars): an answer before them is invisible"
            if method == "strict" and "#### $" in text:
                return "verl's strict pattern cannot capture '$': '#### $72' has no strict answer"
            if method == "strict" and "#### " not in text:
                return "strict reads only a number right after '#### ' (four hashes, exactly one space)"
        if method == "strict" and isinstance(got, str):
            found = re.findall(r"#### (\-?[0-9\.\,]+)", text)
            if len(found) > 1 and got == found[0].replace(",", ""):
                return "the first '#### ' was read: the last one wins (answer spam must not help)"
        if method == "flexible" and numbers and got == numbers[0] and len(numbers) > 1:
            return "the first number was read: flexible reads the last one that is not a lone '.'"
        if method == "flexible" and got in ("", ".") and expected not in ("", "."):
            return "a lone '.' is not a number: skip it and keep walking back"
        if method == "flexible" and got is None and numbers:
            return "when every match is '.', verl's loop leaves the first match, '.', as the answer"
        return None

    return diagnose


# ---------------------------------------------------------------- extract_gsm8k_answer

NATALIA = "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether.\n#### 72"


def gsm8k_strict_hand_worked(fn: Callable) -> None:
    # notes: strict reads the number after the last "#### "; commas go, the rest is kept as written
    cases = [
        (NATALIA, "72"),
        ("#### 1,234", "1234"),
        ("#### -5", "-5"),
        ("The answer is 72", None),  # no "#### ": no answer, even though 72 is right
        ("####72", None),  # exactly one space is required
        ("#### $72", None),  # verl quirk: "$" cannot follow "#### "
        ("#### 72.", "72."),  # verl quirk: the sentence's full stop stays, and "72." != "72"
        ("##### 72", "72"),  # five hashes contain "#### "
        ("#### 3.5 apples", "3.5"),
    ]
    for text, expected in cases:
        _expect_equal(
            "strict extraction",
            fn(text, method="strict"),
            expected,
            {"text": text, "method": "strict"},
            _gsm8k_diagnosis(text, expected, "strict"),
            VERL_GSM8K,
        )


def gsm8k_flexible_hand_worked(fn: Callable) -> None:
    # notes: flexible reads the last run of digits, dots and commas, skipping a lone "."
    cases = [
        (NATALIA, "72"),
        ("She sold 72 clips.", "72"),  # the final "." is a match of its own and is skipped
        ("The answer is 72.", "72."),  # but here it is glued to the number: "72." != "72"
        ("It costs $1,000", "1,000"),  # flexible keeps commas (strict removes them)
        ("-3 degrees", "-3"),
        ("no digits here", None),
        ("Done.", "."),  # verl quirk: every match is ".", and "." is returned
        ("Hello, world", ","),  # verl quirk: a lone "," counts as a number
        ("Step 1: 48/2 = 24. Step 2: 48 + 24 = 72. (1 of 2)", "2"),  # a trailing number fools it
    ]
    for text, expected in cases:
        _expect_equal(
            "flexible extraction",
            fn(text, method="flexible"),
            expected,
            {"text": text, "method": "flexible"},
            _gsm8k_diagnosis(text, expected, "flexible"),
            VERL_GSM8K,
        )


def gsm8k_last_answer_wins(fn: Callable) -> None:
    # hacking: writing several answers does not help, only the last one is read
    spam = "#### 70\n#### 71\n#### 72\n#### 73"
    _expect_equal(
        "answer spam: the last '#### ' wins",
        fn(spam, method="strict"),
        "73",
        {"text": spam},
        _gsm8k_diagnosis(spam, "73", "strict"),
    )
    listing = "It is 70, 71, 72 or 73"
    _expect_equal(
        "number listing: flexible reads the last",
        fn(listing, method="flexible"),
        "73",
        {"text": listing},
        _gsm8k_diagnosis(listing, "73", "flexible"),
    )
    prompt_like = "Format: end with '#### 0'.\nShe sold 72 clips.\n#### 72"
    _expect_equal(
        "a '#### ' in prompt-like text comes first, so it loses",
        fn(prompt_like),
        "72",
        {"text": prompt_like},
        _gsm8k_diagnosis(prompt_like, "72", "strict"),
    )
    echoed = "#### 72\nRemember the format: #### 0"
    _expect_equal(
        "an echoed format example after the answer wins",
        fn(echoed),
        "0",
        {"text": echoed},
        _gsm8k_diagnosis(echoed, "0", "strict"),
    )


def gsm8k_reads_only_the_tail(fn: Callable) -> None:
    # notes: verl reads the last 300 characters; an early answer followed by 300 more characters is lost
    filler = "I am confident in this answer. " * 10  # 310 characters
    text = "#### 72\n" + filler
    inputs = {"text": "'#### 72\\n' + 310 characters of filler", "clip_chars": 300}
    _expect_equal(
        "answer earlier than the last 300 characters",
        fn(text, method="strict"),
        None,
        inputs,
        _gsm8k_diagnosis(text, None, "strict"),
        "verl reads only the last 300 characters (_SOLUTION_CLIP_CHARS) so that its regex never runs over a huge text",
    )
    _expect_equal("clip_chars=None reads everything", fn(text, method="strict", clip_chars=None), "72", inputs)
    short = "#### 72\n" + "x" * 292  # exactly 300 characters: nothing is cut
    _expect_equal("a 300-character text is read whole", fn(short, method="strict"), "72", {"len(text)": len(short)})
    cut = "#### 72" + "x" * 295  # 302 characters: the window starts at "## 72", the marker is cut
    _expect_equal("the window cuts '#### ' in half", fn(cut, method="strict"), None, {"len(text)": len(cut)})


def gsm8k_edge_cases(fn: Callable) -> None:
    for method in ("strict", "flexible"):
        _expect_equal("empty text", fn("", method=method), None, {"text": "", "method": method})
    expect_raises(
        "unknown method",
        lambda: fn("#### 1", method="loose"),
        ValueError,
        "a typo in the config must stop the run, not silently score with some default",
        {"method": "loose"},
    )


# ---------------------------------------------------------------- normalize_answer


def _normalize_variants(s: str) -> dict[str, str]:
    """What classic mistakes make of `s`, each named by the mistake."""
    punct = set(string.punctuation)

    def articles(x: str, pattern: str = r"\b(a|an|the)\b") -> str:
        return re.sub(pattern, " ", x)

    lower = s.lower()
    no_punct = "".join(ch for ch in lower if ch not in punct)
    return {
        "the articles were removed before the punctuation; delete punctuation first, so 'the-end' keeps its 'the'": (
            " ".join("".join(ch for ch in articles(lower) if ch not in punct).split())
        ),
        "punctuation was replaced by a space; it is deleted ('U.S.A.' -> 'usa')": " ".join(
            articles("".join(" " if ch in punct else ch for ch in lower)).split()
        ),
        "articles were removed inside words: only whole words a/an/the go (a regex with \\b on both sides)": " ".join(
            articles(no_punct, r"(a|an|the)").split()
        ),
        "whitespace was not collapsed: runs of spaces become one, none at the ends (' '.join(text.split()))": (
            articles(no_punct)
        ),
        "the text was not lower-cased first": " ".join(articles("".join(ch for ch in s if ch not in punct)).split()),
        "non-ASCII punctuation was removed too: only the 32 characters of string.punctuation go": " ".join(
            articles("".join(ch for ch in lower if not unicodedata.category(ch).startswith(("P", "S")))).split()
        ),
    }


def _normalize_diagnosis(s: str) -> Callable[[object], str | None]:
    def diagnose(got: object) -> str | None:
        return next((why for why, value in _normalize_variants(s).items() if value == got), None)

    return diagnose


def normalize_hand_worked(fn: Callable) -> None:
    # notes: lower case -> drop ASCII punctuation -> drop a/an/the -> collapse whitespace
    cases = [
        ("The Eiffel Tower.", "eiffel tower"),
        ("  A  cat, an   apple & THE dog!", "cat apple dog"),
        ("U.S.A.", "usa"),  # punctuation is deleted, not replaced by a space
        ("Jean-Paul Sartre", "jeanpaul sartre"),
        ("1.5", "15"),  # ... so a decimal point disappears: EM cannot tell 1.5 from 15
        ("theater", "theater"),  # articles are whole words only
        ("the-end", "theend"),  # punctuation goes first, so this "the" is no longer a word
        ("The The", ""),  # a band name made of articles normalises to nothing
        ("“Paris”", "“paris”"),  # curly quotes are not ASCII punctuation
        ("ÉCOLE Polytechnique", "école polytechnique"),
        ("", ""),
    ]
    for s, expected in cases:
        _expect_equal(
            "normalize_answer",
            fn(s),
            expected,
            {"s": s},
            _normalize_diagnosis(s),
            "SQuAD's normalize_answer, as Search-R1 and verl use it: lower, delete ASCII punctuation, drop whole-word "
            "articles, collapse whitespace, in that order",
        )


def normalize_makes_em_forgiving(fn: Callable) -> None:
    pairs = [("The Eiffel Tower.", "eiffel tower"), ("Paris", " paris "), ("an Apple", "APPLE!")]
    for a, b in pairs:
        expect_true("equal after normalisation", fn(a) == fn(b), f"{a!r} -> {fn(a)!r} but {b!r} -> {fn(b)!r}")
    for a, b in [("Paris", "Paris, France"), ("1,000", "1000.5")]:
        expect_true("different answers stay different", fn(a) != fn(b), f"{a!r} and {b!r} both -> {fn(a)!r}")


# ---------------------------------------------------------------- extract_answer


def _answer_diagnosis(text: str, expected: str | None, tag: str = "answer", min_matches: int = 1) -> Callable:
    """Names the classic mistake behind a wrong answer extraction from `text`, when it is one."""
    lazy = re.findall(re.escape(f"<{tag}>") + "(.*?)" + re.escape(f"</{tag}>"), text, flags=re.DOTALL)
    single_line = re.findall(re.escape(f"<{tag}>") + "(.*?)" + re.escape(f"</{tag}>"), text)

    def diagnose(got: object) -> str | None:
        if isinstance(got, str) and f"</{tag}>" in got:
            return f"the match spans several blocks: the regex is greedy (.*); a lazy .*? stops at the first </{tag}>"
        if len(lazy) > 1 and got == lazy[0].strip():
            return "the first block was returned: the last block wins (spamming blocks must not help)"
        if lazy and got == lazy[-1] and got != lazy[-1].strip():
            return "the content was not stripped"
        if got is None and expected == "":
            return "an empty block is an answer, '' (not None): only a missing block gives None"
        if got is None and expected is not None and not single_line and lazy:
            return "the block spans lines: without re.DOTALL, '.' does not match a newline"
        if got is not None and expected is None and len(lazy) >= 1 and len(lazy) < min_matches:
            return f"min_matches={min_matches} was ignored: fewer complete blocks than that give None"
        if got is not None and expected is None and f"<{tag.upper()}>" in text:
            return "the tags are case-sensitive: <ANSWER> is not <answer>"
        if got is not None and expected is None:
            return "only complete blocks count: an opening tag without its closing tag is not an answer"
        return None

    return diagnose


def extract_answer_hand_worked(fn: Callable) -> None:
    cases = [
        ("<think>Paris is the capital.</think>\n<answer> Paris </answer>", "Paris"),
        ("<answer>\nNew\nYork\n</answer>", "New\nYork"),  # DOTALL: the block spans lines
        ("<answer></answer>", ""),  # an empty block is an answer (""), not None
        ("<answer>   </answer>", ""),
        ("The answer is Paris.", None),  # an answer outside the tags earns nothing
        ("<answer>Paris", None),  # unclosed
        ("<ANSWER>Paris</ANSWER>", None),  # tags are case-sensitive
        ("<answer>London</answer> <answer>Paris", "London"),  # the unclosed tail is ignored
        ("<answer>a<answer>b</answer>", "a<answer>b"),  # non-greedy, left to right: one block
        ("</answer>Paris<answer>", None),
    ]
    for text, expected in cases:
        _expect_equal("extract_answer", fn(text), expected, {"response": text}, _answer_diagnosis(text, expected))


def extract_answer_spam_last_wins(fn: Callable) -> None:
    # hacking: a block per candidate does not help, only the last one is read
    spam = "".join(f"<answer>{k}</answer>" for k in range(1, 11))
    _expect_equal("answer spam: the last block wins", fn(spam), "10", {"response": spam}, _answer_diagnosis(spam, "10"))


def extract_answer_prompt_plus_response(fn: Callable) -> None:
    # notes: Search-R1 scores prompt + response and needs 2 blocks. A prompt with one example block:
    one = "Reply like <answer> Beijing </answer>. Question: ..."
    # Search-R1's own wording has two: "inside <answer> and </answer> ... For example, <answer> Beijing </answer>"
    two = "Put the answer inside <answer> and </answer>, for example <answer> Beijing </answer>. Question: ..."
    silent, answered = "I don't know.", "<answer>Paris</answer>"
    cases = [
        (one + silent, 1, "Beijing"),  # 1 block required on prompt + response: the example is scored
        (one + silent, 2, None),  # Search-R1's guard works for this prompt ...
        (two + silent, 2, "Beijing"),  # ... but not for its own: " and " is a block too
        (one + answered, 2, "Paris"),
        (two + answered, 2, "Paris"),
        (silent, 1, None),  # the response alone (our choice): no answer, no reward
    ]
    for text, min_matches, expected in cases:
        _expect_equal(
            "prompt + response scoring",
            fn(text, min_matches=min_matches),
            expected,
            {"text": text, "min_matches": min_matches},
            _answer_diagnosis(text, expected, min_matches=min_matches),
            "min_matches=2 reproduces Search-R1's qa_em.py, which scores prompt + response and needs two blocks",
        )
    _expect_equal("a custom tag", fn("<final>42</final>", tag="final"), "42", {"response": "<final>42</final>"})


# ---------------------------------------------------------------- is_valid_sequence

VALID_SEARCH = (
    "<think>I need the capital of France.</think>\n<search>capital of France</search>\n"
    "<information>Doc 1: Paris is the capital of France.</information>\n"
    "<think>It is Paris.</think>\n<answer>Paris</answer>"
)


def sequence_hand_worked(fn: Callable) -> None:
    cases = [
        (VALID_SEARCH, True, True),
        ("<think>easy</think><answer>4</answer>", True, True),
        ("<think>easy</think><answer>4</answer>\n", True, True),  # trailing whitespace is fine
        ("<answer>4</answer>", True, False),  # no think block
        ("<answer>4</answer>", False, True),  # ... which is allowed when thinking is optional
        ("<search>q</search><information>d</information><answer>4</answer>", False, True),
        ("<search>q</search><information>d</information><answer>4</answer>", True, False),
        ("Sure! <think>easy</think><answer>4</answer>", True, False),  # text before the first block
        ("<think>easy</think> so <answer>4</answer>", True, False),  # text between blocks
        ("<think>easy</think><answer>4</answer> Hope this helps", True, False),  # text after the answer
        ("<think>a</think><answer>4</answer><answer>5</answer>", True, False),  # answer spam
        ("<think>a</think><answer>4</answer><think>b</think>", True, False),  # anything after the answer
        ("<think>easy</think>", True, False),  # no answer
        ("<think>easy<answer>4</answer>", True, False),  # unclosed think
        ("<think>a</think><information>d</information><answer>4</answer>", True, False),  # info without search
        ("<think>a</think><search>q</search><information>d</information><answer>4</answer>", True, False),
        ("<think>a</think><search>q</search><think>b</think><answer>4</answer>", True, False),  # no information
        ("<think>a</think><answer>4", True, False),  # unclosed answer
        ("<think>a <think>b</think></think><answer>4</answer>", True, False),  # nested
        ("", True, False),
    ]
    for text, require_think, expected in cases:
        got = fn(text, require_think=require_think)
        expect_true(
            "is_valid_sequence returns (bool, reason)",
            isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], bool) and isinstance(got[1], str),
            f"expected a (bool, str) pair, got {got!r}",
        )
        _expect_equal(
            "is_valid_sequence",
            got[0],
            expected,
            {"response": text, "require_think": require_think, "your reason": got[1]},
            convention="Search-R1's grammar: <think> (<search> <information> <think>)* <answer>, only whitespace "
            "outside the blocks, nothing after </answer>; require_think=False makes every think optional",
        )


def sequence_multi_turn(fn: Callable) -> None:
    turn = "<search>q</search>\n<information>d</information>\n<think>t</think>\n"
    text = "<think>start</think>\n" + turn * 5 + "<answer>x</answer>"
    _expect_equal("five search turns", fn(text)[0], True, {"response": text})
    broken = text.replace("<information>d</information>", "", 1)
    _expect_equal("one turn without its information block", fn(broken)[0], False, {"response": broken})


# ---------------------------------------------------------------- wrappers and registry

GSM8K_CHECKS = [
    gsm8k_strict_hand_worked,
    gsm8k_flexible_hand_worked,
    gsm8k_last_answer_wins,
    gsm8k_reads_only_the_tail,
    gsm8k_edge_cases,
]
NORMALIZE_CHECKS = [normalize_hand_worked, normalize_makes_em_forgiving]
EXTRACT_ANSWER_CHECKS = [extract_answer_hand_worked, extract_answer_spam_last_wins, extract_answer_prompt_plus_response]
SEQUENCE_CHECKS = [sequence_hand_worked, sequence_multi_turn]


def check_extract_gsm8k_answer(fn: Callable, verbose: bool = True) -> None:
    run_checks("extract_gsm8k_answer", fn, GSM8K_CHECKS, verbose)


def check_normalize_answer(fn: Callable, verbose: bool = True) -> None:
    run_checks("normalize_answer", fn, NORMALIZE_CHECKS, verbose)


def check_extract_answer(fn: Callable, verbose: bool = True) -> None:
    run_checks("extract_answer", fn, EXTRACT_ANSWER_CHECKS, verbose)


def check_is_valid_sequence(fn: Callable, verbose: bool = True) -> None:
    run_checks("is_valid_sequence", fn, SEQUENCE_CHECKS, verbose)


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {
    ("rewards", "extract_gsm8k_answer"): GSM8K_CHECKS,
    ("rewards", "normalize_answer"): NORMALIZE_CHECKS,
    ("rewards", "extract_answer"): EXTRACT_ANSWER_CHECKS,
    ("rewards", "is_valid_sequence"): SEQUENCE_CHECKS,
}
