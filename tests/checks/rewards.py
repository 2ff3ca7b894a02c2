# Chapter 04 notes: learning_notes/04_reward_design/README.md#reward-hacking
"""Checks for minimal_impl/rewards.py: the worked examples of the notes, verl's quirks, hacking attempts."""

from __future__ import annotations

from collections.abc import Callable

from ._util import expect_true, fail, run_checks


def _expect_equal(case: str, got: object, expected: object, inputs: dict) -> None:
    """Exact equality (strings, None, bools), with the same readable message as expect_close."""
    if type(got) is not type(expected) or got != expected:
        fail(case, inputs, expected, got)


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
        _expect_equal("strict extraction", fn(text, method="strict"), expected, {"text": text, "method": "strict"})


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
            "flexible extraction", fn(text, method="flexible"), expected, {"text": text, "method": "flexible"}
        )


def gsm8k_last_answer_wins(fn: Callable) -> None:
    # hacking: writing several answers does not help, only the last one is read
    spam = "#### 70\n#### 71\n#### 72\n#### 73"
    _expect_equal("answer spam: the last '#### ' wins", fn(spam, method="strict"), "73", {"text": spam})
    listing = "It is 70, 71, 72 or 73"
    _expect_equal("number listing: flexible reads the last", fn(listing, method="flexible"), "73", {"text": listing})
    prompt_like = "Format: end with '#### 0'.\nShe sold 72 clips.\n#### 72"
    _expect_equal(
        "a '#### ' in prompt-like text comes first, so it loses", fn(prompt_like), "72", {"text": prompt_like}
    )
    echoed = "#### 72\nRemember the format: #### 0"
    _expect_equal("an echoed format example after the answer wins", fn(echoed), "0", {"text": echoed})


def gsm8k_reads_only_the_tail(fn: Callable) -> None:
    # notes: verl reads the last 300 characters; an early answer followed by 300 more characters is lost
    filler = "I am confident in this answer. " * 10  # 310 characters
    text = "#### 72\n" + filler
    inputs = {"text": "'#### 72\\n' + 310 characters of filler", "clip_chars": 300}
    _expect_equal("answer earlier than the last 300 characters", fn(text, method="strict"), None, inputs)
    _expect_equal("clip_chars=None reads everything", fn(text, method="strict", clip_chars=None), "72", inputs)
    short = "#### 72\n" + "x" * 292  # exactly 300 characters: nothing is cut
    _expect_equal("a 300-character text is read whole", fn(short, method="strict"), "72", {"len(text)": len(short)})
    cut = "#### 72" + "x" * 295  # 302 characters: the window starts at "## 72", the marker is cut
    _expect_equal("the window cuts '#### ' in half", fn(cut, method="strict"), None, {"len(text)": len(cut)})


def gsm8k_edge_cases(fn: Callable) -> None:
    for method in ("strict", "flexible"):
        _expect_equal("empty text", fn("", method=method), None, {"text": "", "method": method})
    try:
        fn("#### 1", method="loose")
    except ValueError:
        pass
    else:
        fail("unknown method", {"method": "loose"}, "ValueError", "no error")


# ---------------------------------------------------------------- normalize_answer


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
        _expect_equal("normalize_answer", fn(s), expected, {"s": s})


def normalize_makes_em_forgiving(fn: Callable) -> None:
    pairs = [("The Eiffel Tower.", "eiffel tower"), ("Paris", " paris "), ("an Apple", "APPLE!")]
    for a, b in pairs:
        expect_true("equal after normalisation", fn(a) == fn(b), f"{a!r} -> {fn(a)!r} but {b!r} -> {fn(b)!r}")
    for a, b in [("Paris", "Paris, France"), ("1,000", "1000.5")]:
        expect_true("different answers stay different", fn(a) != fn(b), f"{a!r} and {b!r} both -> {fn(a)!r}")


# ---------------------------------------------------------------- extract_answer


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
        _expect_equal("extract_answer", fn(text), expected, {"response": text})


def extract_answer_spam_last_wins(fn: Callable) -> None:
    # hacking: a block per candidate does not help, only the last one is read
    spam = "".join(f"<answer>{k}</answer>" for k in range(1, 11))
    _expect_equal("answer spam: the last block wins", fn(spam), "10", {"response": spam})


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
        _expect_equal("is_valid_sequence", got[0], expected, {"response": text, "require_think": require_think})


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
