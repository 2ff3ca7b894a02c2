# Chapter 05 notes: learning_notes/05_agent_rl/README.md#the-reasoning-search-loop
"""The parts of minimal_impl/tool_calls.py that are not exercises: cutting, formatting, budgets, errors."""

from __future__ import annotations

import pytest
import torch

from minimal_impl import episode as ep
from minimal_impl import tool_calls as tc


class CharTokenizer:
    """One token per character (id = code point); a stand-in whose tags always span several tokens."""

    eos_token_id = 0

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, token_ids: list[int], skip_special_tokens: bool = False) -> str:
        return "".join(chr(t) for t in token_ids if t != 0)


def test_truncate_at_action_hand_worked() -> None:
    cases = [
        ("<search> q </search> tail", False, "<search> q </search>"),
        ("a </answer> b </search> c", False, "a </answer>"),
        ("a </answer> b </search> c", True, "a </answer> b </search>"),
        ("x </search> y </search>", False, "x </search>"),
        ("x </search> y </search>", True, "x </search>"),
        ("only </answer>", True, "only </answer>"),
        ("no tag at all", False, "no tag at all"),
        ("", True, ""),
    ]
    for text, order, expected in cases:
        assert tc.truncate_at_action(text, search_r1_order=order) == expected, (text, order)
    with pytest.raises(ValueError, match="string"):
        tc.truncate_at_action(None)


def test_format_docs_layouts_and_errors() -> None:
    docs = [
        {"document": {"id": "1", "contents": "Title One\nline a\nline b"}, "score": 1.0},
        {"contents": "Only a title"},
        {"contents": "\nno title"},
    ]
    assert tc.format_docs(docs) == (
        "Doc 1(Title: Title One) line a\nline b\nDoc 2(Title: Only a title) \nDoc 3(Title: ) no title\n"
    )
    assert tc.format_docs([]) == ""
    assert tc.information_block("  Doc 1(Title: A) a\n") == "\n\n<information>Doc 1(Title: A) a</information>\n\n"
    for bad in ([{"text": "x"}], [{"document": {"title": "x"}}], ["plain string"], "not a list", [{"contents": 3}]):
        with pytest.raises(ValueError, match="format_docs"):
            tc.format_docs(bad)


def test_protocol_validation_and_custom_templates() -> None:
    with pytest.raises(ValueError, match="different closing tags"):
        tc.ToolProtocol(search_close="</x>", answer_close="</x>")
    with pytest.raises(ValueError, match="non-empty"):
        tc.ToolProtocol(search_open="")
    proto = tc.ToolProtocol(
        information_prefix="<tool_response>",
        information_suffix="</tool_response>",
        doc_template="[{index}] {title}: {text}\n",
    )
    assert proto.stop_tags == ("</search>", "</answer>")
    assert (
        tc.information_block(tc.format_docs([{"contents": "A\nb"}], proto), proto)
        == "<tool_response>[1] A: b</tool_response>"
    )


def test_cut_turn_ids_with_multi_token_tags() -> None:
    tok = CharTokenizer()
    ids = tok.encode("<think>t</think><search> q </search> extra")
    kept, reason = ep.cut_turn_ids(ids, tok)
    assert tok.decode(kept) == "<think>t</think><search> q </search>" and reason == "tag"
    kept, reason = ep.cut_turn_ids(tok.encode("no tags"), tok)
    assert (tok.decode(kept), reason) == ("no tags", "length")
    with_eos = [*tok.encode("done"), 0, *tok.encode("<answer>x</answer>")]
    kept, reason = ep.cut_turn_ids(with_eos, tok, eos_ids={0})
    assert kept == [*tok.encode("done"), 0] and reason == "eos", "EOS before any tag ends the turn, EOS kept"
    tag_then_eos = [*tok.encode("<answer>x</answer>"), 0]
    kept, reason = ep.cut_turn_ids(tag_then_eos, tok, eos_ids={0})
    assert tok.decode(kept) == "<answer>x</answer>" and 0 not in kept and reason == "tag"
    assert ep.cut_turn_ids([], tok) == ([], "length")
    assert ep.cut_turn_ids(torch.tensor(tok.encode("a</answer>b")), tok)[0] == tok.encode("a</answer>")
    # the smallest prefix, checked against a linear scan on every cut point
    text = "ab</search>cd</answer>"
    for n in range(len(text) + 1):
        kept, _ = ep.cut_turn_ids(tok.encode(text[:n]), tok)
        expected = text[: text.index("</search>") + 9] if n >= text.index("</search>") + 9 else text[:n]
        assert tok.decode(kept) == expected


def test_truncate_observation_edges() -> None:
    ids = list(range(10, 20))
    assert tc.truncate_observation(ids, 10) == ids
    assert tc.truncate_observation(ids, 4) == [10, 11, 12, 13]
    assert tc.truncate_observation(ids, 0) == []
    assert tc.truncate_observation(ids, 4, suffix_ids=[98, 99]) == [10, 11, 98, 99]
    assert tc.truncate_observation(ids, 12, suffix_ids=[98, 99]) == ids, "no suffix when nothing is cut"
    with pytest.raises(ValueError, match="exceeds"):
        tc.truncate_observation(ids, 1, suffix_ids=[98, 99])
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="max_obs_tokens"):
            tc.truncate_observation(ids, bad)
    with pytest.raises(ValueError, match="element 1"):
        tc.truncate_observation([1, -2], 5)


def test_episode_rejects_bad_inputs() -> None:
    tok = CharTokenizer()

    def search(query: str) -> list[dict]:
        return []

    with pytest.raises(ValueError, match="prompt_ids is empty"):
        ep.run_agent_episode(lambda ids: [], search, tok, [], max_turns=1, max_obs_tokens=10)
    with pytest.raises(ValueError, match="max_turns"):
        ep.run_agent_episode(lambda ids: [], search, tok, [1], max_turns=-1, max_obs_tokens=10)
    with pytest.raises(ValueError, match="generate_turn"):
        ep.run_agent_episode(lambda ids: "text", search, tok, [1], max_turns=1, max_obs_tokens=10)
    with pytest.raises(ValueError, match="is_model_generated"):
        tc.assemble_trajectory([1], [([2], 1)])
    with pytest.raises(ValueError, match="empty batch"):
        ep.collate_trajectories([], pad_id=0)
    with pytest.raises(ValueError, match="different lengths"):
        ep.collate_trajectories(
            [{"input_ids": [1, 2], "attention_mask": [1], "loss_mask": [0, 1], "response_start": 1}], 0
        )
    with pytest.raises(ValueError, match="mask values"):
        ep.render_trajectory(tok, [1, 2], [1])


def test_episode_with_char_tokenizer_and_empty_turns() -> None:
    """A model that returns nothing gets the invalid-action message until the budget runs out."""
    tok = CharTokenizer()
    traj = ep.run_agent_episode(lambda ids: [], lambda q: [], tok, tok.encode("Q?"), max_turns=2, max_obs_tokens=5)
    assert traj.actions == [None, None, None] and traj.num_invalid_actions == 3 and traj.hit_max_turns
    assert [len(ids) for ids, _ in traj.segments] == [0, 5, 0, 5, 0]
    assert traj.stats()["truncated_observations"] == 2
    assert tok.decode(traj.segments[1][0]) == tc.INVALID_ACTION_MESSAGE[:5]
