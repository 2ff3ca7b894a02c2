# Chapter 04 notes: learning_notes/04_reward_design/README.md#reward-hacking
"""Every worked number of chapter 04, computed by the reference rewards on the notes' own strings."""

from __future__ import annotations

import random
import re
import string
from functools import cache

from minimal_impl import rewards
from scripts.check_numbers import Asserted, Cited, Computed, Given
from tests import test_rewards

NOTE = "learning_notes/04_reward_design/README.md"
COMPLETE = True


def _num(answer: str | None) -> list[float]:
    """The number a reading shows in the table ('72.' shows 72, '1,072' shows 1072, '.' and None nothing)."""
    if answer is None or not re.search(r"\d", answer):
        return []
    return [float(answer.rstrip(".").replace(",", ""))]


def _gsm8k_row(response: str, truth: str = "72") -> list[float]:
    """strict reads | strict | flexible reads | flexible, as numbers (a 'none' or '.' reading shows none)."""
    out: list[float] = []
    for method in ("strict", "flexible"):
        out += _num(rewards.extract_gsm8k_answer(response, method=method))
        out.append(rewards.gsm8k_score(response, truth, method=method))
    return out


GSM8K_ROWS = [
    ("| `48+24 = 72 clips altogether.\\n#### 72` | `72` | 1 | `72` | 1 |", "48+24 = 72 clips altogether.\n#### 72"),
    ("| `so 48 + 24 = 72` | none | 0 | `72` | 1 |", "so 48 + 24 = 72"),
    ("| `The answer is 72.` | none | 0 | `72.` | 0 |", "The answer is 72."),
    ("| `#### 72.` | `72.` | 0 | `72.` | 0 |", "#### 72."),
    ("| `#### $72` | none | 0 | `72` | 1 |", "#### $72"),
    ("| `... the answer is 72 (step 2 of 3)` | none | 0 | `3` | 0 |", "... the answer is 72 (step 2 of 3)"),
    ("| `I have no idea. 72` | none | 0 | `72` | 1 |", "I have no idea. 72"),
    ("| `#### 70 … #### 73` (spam) | `73` | 0 | `73` | 0 |", "#### 70\n#### 71\n#### 72\n#### 73"),
    ("| `#### 72` + 300 characters | none | 0 | `.` | 0 |", "#### 72" + " That is my final answer." * 13),
]


def _gsm8k_entry(row: str, response: str) -> Computed:
    cells = row.split("|")
    written_response = cells[1]
    numbers_in_response = [float(x) for x in re.findall(r"\d+", written_response)]
    if "300 characters" in written_response:  # the response is '#### 72' then 300 more characters
        tail = response[len("#### 72") :]
        assert len(tail) >= 300, "the filler must be at least 300 characters"
        numbers_in_response = [72.0, 300.0]
    return Computed(row, lambda: numbers_in_response + _gsm8k_row(response))


# ------------------------------------------------------------------------------ normalisation


def _punct_count() -> int:
    return len(string.punctuation)


# ------------------------------------------------------------------------------ format rewards
EIFFEL = "Eiffel Tower"
FORMAT_ROWS = [
    (
        "| yes | yes | 1.0 | `<think>…</think><answer>Eiffel Tower</answer>` |",
        "<think>…</think><answer>Eiffel Tower</answer>",
    ),
    ("| yes | no | 1.0 − 0.2 = 0.8 | `Sure! <answer>Eiffel Tower</answer>` |", "Sure! <answer>Eiffel Tower</answer>"),
    (
        "| no | yes | 0.2 (+ retrieval score if an information block holds a golden answer) | "
        "`<think>…</think><answer>Louvre</answer>` |",
        "<think>…</think><answer>Louvre</answer>",
    ),
    (
        "| no | no, but a block exists | 0.1 | `<answer>Eiffel Tower</answer><answer>Louvre</answer>` |",
        "<answer>Eiffel Tower</answer><answer>Louvre</answer>",
    ),
    ("| no block | no | 0 | `The answer is the Eiffel Tower.` |", "The answer is the Eiffel Tower."),
]


def _format_row(response: str) -> list[float]:
    reward = rewards.em_format_score(response, [EIFFEL])
    if reward == 0.8:  # the row writes the arithmetic: score - structure_format_score
        return [1.0, 0.2, reward]
    return [reward]


# ------------------------------------------------------------------------------ answer spam


@cache
def _spam_table() -> dict[str, list[float]]:
    """The notebook's experiment (notebooks/04_reward_design.py, section 6): same seed, same draws."""
    rng = random.Random(0)
    n, candidates = 1000, [str(v) for v in range(100)]
    ks = [1, 2, 5, 10, 20, 35, 50, 75, 100]  # the notebook's k values, in its order (they consume the RNG)
    shown = (1, 5, 20, 50, 100)
    rules = {
        "strict": lambda g, t: rewards.gsm8k_score("".join(f"#### {x}\n" for x in g), t),
        "flexible": lambda g, t: rewards.gsm8k_score("Maybe " + ", or ".join(g), t, method="flexible"),
        "em": lambda g, t: rewards.em_score("".join(f"<answer>{x}</answer>" for x in g), t),
        "subem": lambda g, t: rewards.subem_score(f"<answer>{' '.join(g)}</answer>", t),
        "any": lambda g, t: float(t in g),  # the naive rule: some block matches the truth
    }
    table: dict[str, list[float]] = {name: [] for name in rules}
    for k in ks:
        draws = [(rng.sample(candidates, k), rng.choice(candidates)) for _ in range(n)]
        if k in shown:
            for name, rule in rules.items():
                table[name].append(sum(rule(g, t) for g, t in draws) / n)
    last = [round(v, 2) for v in table["strict"]]
    if any([round(v, 2) for v in table[name]] != last for name in ("flexible", "em")):
        raise AssertionError(f"strict, flexible and EM differ: {table}")
    return table


NUMBERS = [
    Given("sparse (0/1), outcome only", "the two values of a binary reward"),
    *[_gsm8k_entry(row, response) for row, response in GSM8K_ROWS],
    Computed(
        "| `#### 1,072` (truth `1072`) | `1072` | 1 | `1,072` | 0 |",
        lambda: [1072, 1072] + _gsm8k_row("#### 1,072", "1072"),
    ),
    Computed(
        '`"1.5"` becomes `"15"`, so EM\ncannot tell 1.5 from 15. Only the 32 ASCII punctuation characters',
        lambda: [
            1.5,
            float(rewards.normalize_answer("1.5")),
            1.5,
            float(rewards.normalize_answer("1.5")),
            _punct_count(),
        ],
    ),
    Cited(
        "values of its v0.3 scripts (structure 0.2, final format 0.1, retrieval 0)",
        "Search-R1 v0.3 training scripts (qa_em_format: structure_format_score 0.2, final_format_score 0.1, "
        "retrieval_score 0)",
    ),
    *[Computed(row, lambda response=response: _format_row(response)) for row, response in FORMAT_ROWS],
    Computed(
        "whatever it pays for a wrong answer (0.2 above)",
        lambda: rewards.em_format_score("<think>…</think><answer>Louvre</answer>", [EIFFEL]),
    ),
    Computed(
        '(0.2 > 0 for no block) and the gap between "formatted nonsense" and "right" shrinks from 1 to 0.8',
        lambda: [
            rewards.em_format_score("<think>…</think><answer>Louvre</answer>", [EIFFEL]),
            rewards.em_format_score("The answer is the Eiffel Tower.", [EIFFEL]),
            1.0,
            rewards.em_format_score("<think>…</think><answer>Eiffel Tower</answer>", [EIFFEL])
            - rewards.em_format_score("<think>…</think><answer>Louvre</answer>", [EIFFEL]),
        ],
    ),
    Computed(
        '("The The", option "A") | 1.0',
        lambda: rewards.em_score("<answer></answer>", ["The The"]),
        at="| 1.0",
    ),
    Computed(
        "1 with `format_reward`, 0.2 with `em_format_score`",
        lambda: [
            rewards.format_reward("<think>hmm</think><answer>banana</answer>"),
            rewards.em_format_score("<think>hmm</think><answer>banana</answer>", [EIFFEL]),
        ],
    ),
    Computed(
        "pays `1/100` whatever k is",
        lambda: _spam_table()["strict"][0],
        tol=0.005,
    ),
    Computed(
        "| k | 1 | 5 | 20 | 50 | 100 |\n| --- | --- | --- | --- | --- | --- |\n"
        "| strict / flexible / EM (last match) | 0.01 | 0.01 | 0.01 | 0.02 | 0.01 |\n"
        '| naive "any block matches" | 0.01 | 0.04 | 0.20 | 0.49 | 1.00 |\n'
        "| substring EM (one block) | 0.02 | 0.10 | 0.29 | 0.54 | 1.00 |",
        lambda: [1, 5, 20, 50, 100] + _spam_table()["strict"] + _spam_table()["any"] + _spam_table()["subem"],
    ),
    Computed(
        "On 4000 tags (32,000 characters)",
        lambda: [4000, 4000 * len("<answer>")],
    ),
    Computed(
        "4000 generated GSM8K-like\nstrings (8000 extractions, 16,000 scores with `format_score` 0 and 0.1)",
        lambda: [test_rewards.N_GSM8K, 2 * test_rewards.N_GSM8K, 4 * test_rewards.N_GSM8K, 0, 0.1],
    ),
    Asserted("plus 200 fuzzed ones", test="tests/test_rewards.py::test_gsm8k_matches_verl_fuzzed", at="200"),
    Computed(
        "4000 QA-like strings (4000 extractions and normalisations, 8000 EM and 8000 subEM scores)",
        lambda: [test_rewards.N_QA] * 2 + [2 * test_rewards.N_QA] * 2,
    ),
    Computed(
        "5. **Strict removes commas, flexible does not**: `1,000` matches `1000` under strict only.",
        lambda: [
            5,
            1000 if rewards.gsm8k_score("#### 1,000", "1000") == 1.0 else -1,
            1000 if rewards.gsm8k_score("#### 1,000", "1000", method="flexible") == 0.0 else -1,
        ],
    ),
    Computed(
        "7. **The comparison is an exact string comparison**: `72.0`, `072` and `72` differ",
        lambda: (
            [7] + [72.0 if rewards.gsm8k_score(f"#### {x}", "72") == (x == "72") else -1 for x in ("72.0", "072", "72")]
        ),
    ),
    Given("verl returns the integer 0, we return 0.0.", "the type of a zero reward, stated, not computed"),
    Computed(
        "`U.S.` → `us`, `1.5` → `15`",
        lambda: [1.5, float(rewards.normalize_answer("1.5"))],
        at="`1.5` → `15`",
    ),
    Cited(
        "are Search-R1's v0.3 script values (0.2, 0.1, 0)",
        "Search-R1 v0.3 training scripts (structure_format_score, final_format_score, retrieval_score)",
    ),
    Given("a sparse 0/1 signal", "the two values of a binary reward"),
    Computed(
        "(`1.5` = `15`, `Jean-Paul` = `jeanpaul`)",
        lambda: [1.5, float(rewards.normalize_answer("1.5"))],
    ),
    Computed(
        "formatted nonsense earns 0.2 in Search-R1's shaping",
        lambda: rewards.em_format_score("<think>hmm</think><answer>banana</answer>", [EIFFEL]),
    ),
]
