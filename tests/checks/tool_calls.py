# Chapter 05 notes: learning_notes/05_agent_rl/README.md#the-reasoning-search-loop
"""Checks for minimal_impl/tool_calls.py: action parsing (Search-R1's regex), the loss mask, one env step."""

from __future__ import annotations

from collections.abc import Callable

from minimal_impl.tool_calls import INVALID_ACTION_MESSAGE, ToolProtocol

from ._util import expect_equal, expect_raises, expect_true, run_checks


def _expect_equal(case: str, got: object, expected: object, inputs: dict, diagnose: Callable | None = None) -> None:
    expect_equal(case, got, expected, inputs, diagnose=diagnose)


def _parse_diagnosis(text: str) -> Callable[[object], str | None]:
    def diagnose(got: object) -> str | None:
        content = got[1] if isinstance(got, tuple) and len(got) == 2 and isinstance(got[1], str) else ""
        if "</search>" in content or "</answer>" in content or "[/S*]" in content or "(/A+)" in content:
            return "the content runs past its closing tag: the regex is greedy (.*); a lazy .*? stops at the first one"
        if content != content.strip():
            return "the content was not stripped"
        return None

    return diagnose


def _mask_diagnosis(prompt_len: int, segments: list) -> Callable[[object], str | None]:
    def diagnose(got: object) -> str | None:
        if not isinstance(got, list):
            return None
        if any(got[:prompt_len]):
            return "the prompt has loss mask 1: the prompt is read (attention 1) but never trained (loss 0)"
        start = prompt_len
        for ids, generated in segments:
            span = got[start : start + len(ids)]
            if not generated and any(span):
                return "an observation has loss mask 1: tool output was not sampled by the policy, so loss mask 0"
            start += len(ids)
        return None

    return diagnose


# ---------------------------------------------------------------------------------------------------
# parse_action
# ---------------------------------------------------------------------------------------------------


def parse_search_r1_examples(fn: Callable) -> None:
    # the shapes of Search-R1's prompt and rollouts: think then search, think then answer, no action
    cases = [
        (
            "<think> I need to find the capital of France. </think>\n<search> capital of France </search>",
            ("search", "capital of France"),
        ),
        ("<think> The documents say Beijing. </think>\n<answer> Beijing </answer>", ("answer", "Beijing")),
        ("I think the answer is Paris.", (None, "")),
        ("<think> no action in this turn </think>", (None, "")),
    ]
    for text, expected in cases:
        _expect_equal("Search-R1-style turns", tuple(fn(text)), expected, {"text": text}, _parse_diagnosis(text))


def parse_first_complete_action(fn: Callable) -> None:
    # notes: the leftmost opening tag that has its own closing tag later wins; content is stripped
    cases = [
        ("<search>a</search><answer>b</answer>", ("search", "a")),
        ("<answer> b </answer> then <search> a </search>", ("answer", "b")),
        ("<search> never closed <answer> x </answer>", ("answer", "x")),
        ("<search> x <search> y </search>", ("search", "x <search> y")),
        ("<search> a </search> b </search>", ("search", "a")),
        ("<answer> 1 </answer><answer> 2 </answer>", ("answer", "1")),
        ("<search>\n  multi\nline\n</search>", ("search", "multi\nline")),
        ("<search></search>", ("search", "")),
        ("<search> a </answer>", (None, "")),
        ("</search> <search>", (None, "")),
        ("", (None, "")),
    ]
    for text, expected in cases:
        _expect_equal("first complete action", tuple(fn(text)), expected, {"text": text}, _parse_diagnosis(text))


def parse_custom_tags(fn: Callable) -> None:
    # tags made of regex metacharacters: they must be matched literally (re.escape)
    protocol = ToolProtocol(search_open="[S*]", search_close="[/S*]", answer_open="(A+)", answer_close="(/A+)")
    cases = [
        ("think... [S*] who wrote Hamlet? [/S*]", ("search", "who wrote Hamlet?")),
        ("(A+) Shakespeare (/A+)", ("answer", "Shakespeare")),
        ("<search> default tags are not tags here </search>", (None, "")),
        ("[SSS] q [/SSS]", (None, "")),
    ]
    for text, expected in cases:
        _expect_equal(
            "custom tags (regex metacharacters must be escaped with re.escape)",
            tuple(fn(text, protocol)),
            expected,
            {"text": text, "protocol": protocol},
            _parse_diagnosis(text),
        )


def check_parse_action(fn: Callable, verbose: bool = True) -> None:
    run_checks("parse_action", fn, PARSE_CHECKS, verbose)


PARSE_CHECKS = [parse_search_r1_examples, parse_first_complete_action, parse_custom_tags]


# ---------------------------------------------------------------------------------------------------
# assemble_trajectory
# ---------------------------------------------------------------------------------------------------


def assemble_hand_worked(fn: Callable) -> None:
    # notes: prompt [11, 12, 13] | turn [21, 22] | information [31, 32, 33] | turn [41]
    prompt = [11, 12, 13]
    segments = [([21, 22], True), ([31, 32, 33], False), ([41], True)]
    inputs = {"prompt_ids": prompt, "segments": segments}
    out = fn(prompt, segments)
    _expect_equal(
        "input_ids: prompt then segments", list(out["input_ids"]), [11, 12, 13, 21, 22, 31, 32, 33, 41], inputs
    )
    _expect_equal("attention_mask: 1 on every real token", list(out["attention_mask"]), [1] * 9, inputs)
    _expect_equal(
        "loss_mask: 1 only on the model's turns",
        list(out["loss_mask"]),
        [0, 0, 0, 1, 1, 0, 0, 0, 1],
        inputs,
        _mask_diagnosis(len(prompt), segments),
    )
    _expect_equal("response_start = prompt length", out["response_start"], 3, inputs)


def assemble_edge_cases(fn: Callable) -> None:
    out = fn([5, 6], [])
    inputs = {"prompt_ids": [5, 6], "segments": []}
    _expect_equal("no segments: the prompt alone", list(out["loss_mask"]), [0, 0], inputs)
    _expect_equal("no segments: response_start", out["response_start"], 2, inputs)
    segments = [([], True), ([7], False), ([], False), ([8, 9], True)]
    out = fn([1], segments)
    inputs = {"prompt_ids": [1], "segments": segments}
    _expect_equal("empty segments add nothing", list(out["input_ids"]), [1, 7, 8, 9], inputs)
    _expect_equal("empty segments add nothing (mask)", list(out["loss_mask"]), [0, 0, 1, 1], inputs)


def assemble_consecutive_and_long(fn: Callable) -> None:
    # a turn that runs out of tokens is followed by the invalid-action message, then two turns in a row
    turn_a, message, turn_b, turn_c = list(range(100, 140)), list(range(200, 230)), [300], [301, 302]
    segments = [(turn_a, True), (message, False), (turn_b, True), (turn_c, True)]
    out = fn([1, 2], segments)
    mask = list(out["loss_mask"])
    inputs = {"prompt_ids": [1, 2], "segments": "[(40 ids, True), (30 ids, False), ([300], True), ([301, 302], True)]"}
    expect_true(
        "lengths", len(mask) == len(out["input_ids"]) == len(out["attention_mask"]) == 75, "lengths differ", inputs
    )
    _expect_equal(
        "loss_mask by span", mask, [0] * 2 + [1] * 40 + [0] * 30 + [1] * 3, inputs, _mask_diagnosis(2, segments)
    )
    trained = [t for t, m in zip(out["input_ids"], mask) if m == 1]
    _expect_equal("the trained ids are the model's ids, in order", trained, turn_a + turn_b + turn_c, inputs)


def check_assemble_trajectory(fn: Callable, verbose: bool = True) -> None:
    run_checks("assemble_trajectory", fn, ASSEMBLE_CHECKS, verbose)


ASSEMBLE_CHECKS = [assemble_hand_worked, assemble_edge_cases, assemble_consecutive_and_long]


# ---------------------------------------------------------------------------------------------------
# env_step
# ---------------------------------------------------------------------------------------------------

DOCS = [
    {"document": {"id": "7", "contents": "Paris\nParis is the capital of France."}, "score": 3.2},
    {"document": {"id": "9", "contents": "France\nFrance is in Europe.\nIts capital is Paris."}, "score": 1.5},
]
# notes: the information block for DOCS, character for character
EXPECTED_BLOCK = (
    "\n\n<information>Doc 1(Title: Paris) Paris is the capital of France.\n"
    "Doc 2(Title: France) France is in Europe.\nIts capital is Paris.</information>\n\n"
)


class _FakeSearch:
    def __init__(self, docs: list[dict]) -> None:
        self.docs = docs
        self.queries: list[str] = []

    def __call__(self, query: str) -> list[dict]:
        self.queries.append(query)
        return self.docs


def env_step_search(fn: Callable) -> None:
    search = _FakeSearch(DOCS)
    inputs = {"action": "search", "content": "capital of France", "docs": DOCS}
    obs, done = fn("search", "capital of France", search)
    _expect_equal("search: the information block", obs, EXPECTED_BLOCK, inputs)
    _expect_equal("search: not done", done, False, inputs)
    _expect_equal("search: one call with the query", search.queries, ["capital of France"], inputs)
    plain = _FakeSearch([{"contents": "Rome\nRome is the capital of Italy."}])
    obs, _ = fn("search", "capital of Italy", plain)
    _expect_equal(
        'search: bare {"contents"} documents',
        obs,
        "\n\n<information>Doc 1(Title: Rome) Rome is the capital of Italy.</information>\n\n",
        {"docs": plain.docs},
    )
    obs, _ = fn("search", "nothing", _FakeSearch([]))
    _expect_equal("search with no results", obs, "\n\n<information></information>\n\n", {"docs": []})


def env_step_answer_invalid_last_turn(fn: Callable) -> None:
    search = _FakeSearch(DOCS)
    got = tuple(fn("answer", "Paris", search))
    _expect_equal("answer: empty observation, done", got, ("", True), {"action": "answer"})
    got = tuple(fn(None, "", search))
    _expect_equal("invalid action: the message, not done", got, (INVALID_ACTION_MESSAGE, False), {"action": None})
    got = tuple(fn("search", "capital of France", search, do_search=False))
    _expect_equal("last turn: search not executed", got, ("", False), {"action": "search", "do_search": False})
    _expect_equal("no search call for answer, invalid or last turn", search.queries, [], {"calls": search.queries})
    expect_raises(
        "unknown action",
        lambda: fn("browse", "x", search),
        ValueError,
        "parse_action only ever returns 'search', 'answer' or None: anything else is a bug to surface",
        {"action": "browse"},
    )


def check_env_step(fn: Callable, verbose: bool = True) -> None:
    run_checks("env_step", fn, ENV_STEP_CHECKS, verbose)


ENV_STEP_CHECKS = [env_step_search, env_step_answer_invalid_last_turn]


# ---------------------------------------------------------------------------------------------------
# truncate_at_action
# ---------------------------------------------------------------------------------------------------


def truncate_first_closing_tag(fn: Callable) -> None:
    # notes: cut right after the first closing tag in the text, whichever it is; the tag is kept
    cases = [
        ("<search> q </search> tail", "<search> q </search>"),
        ("a </answer> b </search> c", "a </answer>"),
        ("x </search> y </search>", "x </search>"),
        ("<answer> Paris </answer>\n<|im_end|>", "<answer> Paris </answer>"),
        ("no tag at all", "no tag at all"),
        ("", ""),
    ]
    for text, expected in cases:
        _expect_equal("first closing tag wins", fn(text), expected, {"text": text})


def truncate_search_r1_order(fn: Callable) -> None:
    # Search-R1's _postprocess_responses: </search> anywhere wins, else the first </answer>
    cases = [
        ("a </answer> b </search> c", "a </answer> b </search>"),
        ("x </search> y </search>", "x </search>"),
        ("only </answer> then", "only </answer>"),
        ("", ""),
    ]
    for text, expected in cases:
        _expect_equal("search_r1_order=True", fn(text, search_r1_order=True), expected, {"text": text})


def truncate_custom_tags_and_errors(fn: Callable) -> None:
    protocol = ToolProtocol(search_open="[q]", search_close="[/q]", answer_open="[a]", answer_close="[/a]")
    text = "[a] x [/a] [q] y [/q]"
    _expect_equal("the protocol's tags", fn(text, protocol), "[a] x [/a]", {"text": text, "protocol": "[/q] [/a]"})
    expect_raises(
        "not a string", lambda: fn(None), ValueError, "a non-string turn is a bug in the caller", {"text": None}
    )


def check_truncate_at_action(fn: Callable, verbose: bool = True) -> None:
    run_checks("truncate_at_action", fn, TRUNCATE_CHECKS, verbose)


TRUNCATE_CHECKS = [truncate_first_closing_tag, truncate_search_r1_order, truncate_custom_tags_and_errors]


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {
    ("tool_calls", "truncate_at_action"): TRUNCATE_CHECKS,
    ("tool_calls", "parse_action"): PARSE_CHECKS,
    ("tool_calls", "assemble_trajectory"): ASSEMBLE_CHECKS,
    ("tool_calls", "env_step"): ENV_STEP_CHECKS,
}
