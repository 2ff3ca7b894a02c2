# Chapter 05 notes: learning_notes/05_agent_rl/README.md#the-reasoning-search-loop
"""The rollout of a search agent, end to end on a real (tiny, offline) Hugging Face tokenizer.

A scripted `generate_turn` returns fixed token ids, so every position of the trajectory is known:
the masks must line up token by token, the sampled ids must survive unchanged, and the turn budget and
observation budget must behave as Search-R1's loop does.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from minimal_impl.episode import collate_trajectories, render_trajectory, run_agent_episode
from minimal_impl.tiny_tokenizer import build_and_save

QUESTION = "What is the capital of France?"
DOCS = {
    "capital of France": [
        {"document": {"id": "1", "contents": "Paris\nParis is the capital of France."}, "score": 2.0},
        {"document": {"id": "2", "contents": "France\nFrance is a country in Europe."}, "score": 1.0},
    ],
    "Eiffel Tower city": [{"document": {"id": "3", "contents": "Eiffel Tower\nThe Eiffel Tower is in Paris."}}],
}
TURNS = [
    "<think> I need to find the capital of France. </think>\n<search> capital of France </search>",
    "<think> Let me check once more. </think>\n<search> Eiffel Tower city </search>",
    "<think> The documents say Paris. </think>\n<answer> Paris </answer>",
]


@pytest.fixture(scope="session")
def tok(tmp_path_factory: pytest.TempPathFactory):
    """The tiny tokenizer, saved and loaded back through AutoTokenizer (the real checkpoint code path)."""
    path = build_and_save(tmp_path_factory.mktemp("tiny_tokenizer"))
    return AutoTokenizer.from_pretrained(str(path))


def _prompt(tok) -> tuple[str, list[int]]:
    text = tok.apply_chat_template([{"role": "user", "content": QUESTION}], add_generation_prompt=True, tokenize=False)
    return text, tok.encode(text, add_special_tokens=False)


class ScriptedModel:
    """A fake policy: turn k returns the k-th list of ids, whatever the context; records each context."""

    def __init__(self, turns: list[list[int]]) -> None:
        self.turns = list(turns)
        self.contexts: list[list[int]] = []

    def __call__(self, input_ids: list[int]) -> list[int]:
        self.contexts.append(list(input_ids))
        if len(self.contexts) > len(self.turns):
            raise AssertionError("the episode asked for more turns than scripted")
        return self.turns[len(self.contexts) - 1]


class FakeSearch:
    def __init__(self, docs: dict | None = None) -> None:
        self.docs = DOCS if docs is None else docs
        self.queries: list[str] = []

    def __call__(self, query: str) -> list[dict]:
        self.queries.append(query)
        return self.docs.get(query, [])


def _spans(mask: list[int]) -> list[tuple[int, int, int]]:
    """(start, end, value) runs of a 0/1 list."""
    runs, start = [], 0
    for i in range(1, len(mask) + 1):
        if i == len(mask) or mask[i] != mask[start]:
            runs.append((start, i, mask[start]))
            start = i
    return runs


def test_masks_line_up_token_by_token(impl, tok) -> None:
    tc = impl.tool_calls
    prompt_text, prompt_ids = _prompt(tok)
    turn_ids = [tok.encode(t, add_special_tokens=False) for t in TURNS]
    model, search = ScriptedModel(turn_ids), FakeSearch()
    traj = run_agent_episode(model, search, tok, prompt_ids, max_turns=3, max_obs_tokens=200, tools=impl.tool_calls)
    out = traj.assemble(impl.tool_calls)
    ids, att, loss = out["input_ids"], out["attention_mask"], out["loss_mask"]

    info_texts = [tc.information_block(tc.format_docs(DOCS[q])) for q in ("capital of France", "Eiffel Tower city")]
    expected_text = prompt_text + TURNS[0] + info_texts[0] + TURNS[1] + info_texts[1] + TURNS[2]
    assert tok.decode(ids, skip_special_tokens=False) == expected_text
    assert len(ids) == len(att) == len(loss) and all(a == 1 for a in att)
    assert out["response_start"] == len(prompt_ids) and ids[: len(prompt_ids)] == prompt_ids

    # layout: prompt (0) | turn (1) | info (0) | turn (1) | info (0) | turn (1)
    runs = _spans(loss)
    assert [v for _, _, v in runs] == [0, 1, 0, 1, 0, 1]
    assert runs[0] == (0, len(prompt_ids), 0)
    # every trained span is exactly one sampled turn, ids unchanged
    trained = [ids[s:e] for s, e, v in runs if v == 1]
    assert trained == turn_ids
    assert [tok.decode(span) for span in trained] == TURNS
    # every information token, tags and newlines included, has mask 0: each 0-run after the prompt is one block
    observed = [ids[s:e] for s, e, v in runs[1:] if v == 0]
    assert [tok.decode(span) for span in observed] == info_texts
    info_ids = tok.convert_tokens_to_ids(["<information>", "</information>"])
    assert all(m == 0 for t, m in zip(ids, loss) if t in info_ids) and sum(t in info_ids for t in ids) == 4
    # the model saw exactly the trajectory so far at each turn
    for k, context in enumerate(model.contexts):
        assert context == ids[: len(context)]
        assert len(context) == runs[2 * k + 1][0]

    stats = traj.stats()
    assert stats["num_turns"] == 3 and stats["num_searches"] == 2 and stats["answered"]
    assert not stats["hit_max_turns"] and stats["finish_reason"] == "answer"
    assert traj.answer == "Paris" and traj.search_queries == search.queries == [
        "capital of France",
        "Eiffel Tower city",
    ]
    assert stats["model_tokens"] == sum(loss) and stats["observation_tokens"] == len(ids) - len(prompt_ids) - sum(loss)


def test_sampled_ids_survive_without_drift(impl, tok) -> None:
    """Non-canonical ids (the answer spelled byte by byte) stay as sampled; re-encoding would change them."""
    _, prompt_ids = _prompt(tok)
    spelled = [t for ch in " Paris " for t in tok.encode(ch, add_special_tokens=False)]
    answer_open, answer_close = tok.convert_tokens_to_ids(["<answer>", "</answer>"])
    turn = [answer_open, *spelled, answer_close]
    assert tok.encode(tok.decode(turn), add_special_tokens=False) != turn, "the example must be non-canonical"
    traj = run_agent_episode(
        ScriptedModel([turn]), FakeSearch(), tok, prompt_ids, max_turns=2, max_obs_tokens=50, tools=impl.tool_calls
    )
    out = traj.assemble(impl.tool_calls)
    assert out["input_ids"][len(prompt_ids) :] == turn
    assert traj.answer == "Paris" and traj.answered


def test_generation_past_the_tag_is_cut(impl, tok) -> None:
    """A generate call that runs past </search> (here: hallucinating its own results) is cut at the tag."""
    _, prompt_ids = _prompt(tok)
    overshoot = TURNS[0] + "\n\n<information>made-up documents</information>"
    turns = [tok.encode(overshoot, add_special_tokens=False), tok.encode(TURNS[2], add_special_tokens=False)]
    traj = run_agent_episode(
        ScriptedModel(turns), FakeSearch(), tok, prompt_ids, max_turns=2, max_obs_tokens=200, tools=impl.tool_calls
    )
    first_turn = traj.segments[0][0]
    assert first_turn == tok.encode(TURNS[0], add_special_tokens=False)
    assert "made-up" not in tok.decode(traj.assemble(impl.tool_calls)["input_ids"])


def test_max_turns_last_search_not_executed(impl, tok) -> None:
    _, prompt_ids = _prompt(tok)
    always_search = tok.encode(TURNS[0], add_special_tokens=False)
    for max_turns in (0, 1, 2):
        search = FakeSearch()
        traj = run_agent_episode(
            ScriptedModel([always_search] * (max_turns + 1)),
            search,
            tok,
            prompt_ids,
            max_turns=max_turns,
            max_obs_tokens=200,
            tools=impl.tool_calls,
        )
        assert len(search.queries) == max_turns, "only the first max_turns searches are executed"
        assert traj.num_turns == max_turns + 1 and traj.actions == ["search"] * (max_turns + 1)
        assert traj.hit_max_turns and not traj.answered and traj.answer is None
        assert traj.segments[-1] == (always_search, True), "nothing is appended after the final turn"
        assert [generated for _, generated in traj.segments] == [True, False] * max_turns + [True]
    # an answer on the final turn still counts
    turns = [always_search, tok.encode(TURNS[2], add_special_tokens=False)]
    traj = run_agent_episode(
        ScriptedModel(turns), FakeSearch(), tok, prompt_ids, max_turns=1, max_obs_tokens=200, tools=impl.tool_calls
    )
    assert traj.answered and traj.answer == "Paris" and not traj.hit_max_turns


def test_invalid_action_then_eos(impl, tok) -> None:
    tc = impl.tool_calls
    _, prompt_ids = _prompt(tok)
    rambling = tok.encode("<think> I am not sure what to do", add_special_tokens=False)  # ran out of tokens
    eos = tok.eos_token_id
    giving_up = [
        *tok.encode("I give up.", add_special_tokens=False),
        eos,
        *tok.encode(" junk", add_special_tokens=False),
    ]
    traj = run_agent_episode(
        ScriptedModel([rambling, giving_up]),
        FakeSearch(),
        tok,
        prompt_ids,
        max_turns=3,
        max_obs_tokens=200,
        tools=impl.tool_calls,
    )
    assert traj.actions == [None, None] and traj.num_invalid_actions == 1
    assert traj.finish_reason == "eos" and not traj.answered and not traj.hit_max_turns
    message_ids = tok.encode(tc.INVALID_ACTION_MESSAGE, add_special_tokens=False)
    assert traj.segments[1] == (message_ids, False)
    assert traj.segments[2][0][-1] == eos, "the EOS the model sampled is kept (and trained on)"
    out = traj.assemble(impl.tool_calls)
    assert out["loss_mask"][-1] == 1 and out["input_ids"][-1] == eos
    assert tok.decode(out["input_ids"][len(prompt_ids) :]).endswith("Let me try again.\nI give up.<|endoftext|>")


def test_max_obs_tokens_truncation(impl, tok) -> None:
    tc = impl.tool_calls
    _, prompt_ids = _prompt(tok)
    long_docs = {"capital of France": [{"contents": "Paris\n" + "Paris is the capital of France. " * 20}]}
    turns = [tok.encode(TURNS[0], add_special_tokens=False), tok.encode(TURNS[2], add_special_tokens=False)]
    full = tok.encode(tc.information_block(tc.format_docs(long_docs["capital of France"])), add_special_tokens=False)
    assert len(full) > 30

    traj = run_agent_episode(
        ScriptedModel(turns),
        FakeSearch(long_docs),
        tok,
        prompt_ids,
        max_turns=2,
        max_obs_tokens=30,
        tools=impl.tool_calls,
    )
    obs = traj.segments[1]
    assert obs == (full[:30], False), "Search-R1 keeps the head: the block is left open"
    assert traj.stats()["truncated_observations"] == 1
    assert traj.assemble(impl.tool_calls)["loss_mask"].count(0) == len(prompt_ids) + 30

    closed = run_agent_episode(
        ScriptedModel(turns),
        FakeSearch(long_docs),
        tok,
        prompt_ids,
        max_turns=2,
        max_obs_tokens=30,
        close_truncated_observations=True,
        tools=impl.tool_calls,
    )
    suffix = tok.encode("</information>\n\n", add_special_tokens=False)
    obs_ids = closed.segments[1][0]
    assert (
        len(obs_ids) == 30
        and obs_ids[-len(suffix) :] == suffix
        and obs_ids[: 30 - len(suffix)] == full[: 30 - len(suffix)]
    )

    fits = run_agent_episode(
        ScriptedModel(turns),
        FakeSearch(long_docs),
        tok,
        prompt_ids,
        max_turns=2,
        max_obs_tokens=len(full),
        tools=impl.tool_calls,
    )
    assert fits.segments[1][0] == full and fits.stats()["truncated_observations"] == 0


def test_multi_token_tags_cut_at_smallest_prefix(impl, tok) -> None:
    """Tags that the tokenizer splits into several tokens: the turn ends with the token completing the tag."""
    tc = impl.tool_calls
    protocol = tc.ToolProtocol(search_open="[[q]]", search_close="[[/q]]", answer_open="[[a]]", answer_close="[[/a]]")
    assert len(tok.encode("[[/q]]", add_special_tokens=False)) > 1
    _, prompt_ids = _prompt(tok)
    text = "[[q]] capital of France [[/q]] and more text"
    sampled = tok.encode(text, add_special_tokens=False)
    turns = [sampled, tok.encode("[[a]] Paris [[/a]]", add_special_tokens=False)]
    search = FakeSearch()
    traj = run_agent_episode(
        ScriptedModel(turns),
        search,
        tok,
        prompt_ids,
        max_turns=2,
        max_obs_tokens=200,
        protocol=protocol,
        tools=impl.tool_calls,
    )
    kept = traj.segments[0][0]
    assert kept == sampled[: len(kept)], "a prefix of the sampled ids"
    assert "[[/q]]" in tok.decode(kept) and "[[/q]]" not in tok.decode(kept[:-1]), "the smallest such prefix"
    assert search.queries == ["capital of France"] and traj.answer == "Paris"


def test_collate_pads_right_with_zero_masks(impl, tok) -> None:
    _, prompt_ids = _prompt(tok)
    one = run_agent_episode(
        ScriptedModel([tok.encode(TURNS[2], add_special_tokens=False)]),
        FakeSearch(),
        tok,
        prompt_ids,
        max_turns=2,
        max_obs_tokens=200,
        tools=impl.tool_calls,
    ).assemble(impl.tool_calls)
    two = run_agent_episode(
        ScriptedModel([tok.encode(t, add_special_tokens=False) for t in (TURNS[0], TURNS[2])]),
        FakeSearch(),
        tok,
        prompt_ids,
        max_turns=2,
        max_obs_tokens=200,
        tools=impl.tool_calls,
    ).assemble(impl.tool_calls)
    batch = collate_trajectories([one, two], pad_id=tok.pad_token_id)
    n1, n2 = len(one["input_ids"]), len(two["input_ids"])
    assert n1 < n2 and batch["input_ids"].shape == (2, n2)
    for b, traj in enumerate((one, two)):
        n = len(traj["input_ids"])
        assert batch["input_ids"][b, :n].tolist() == traj["input_ids"]
        assert batch["loss_mask"][b, :n].tolist() == traj["loss_mask"]
        assert batch["attention_mask"][b, :n].sum() == n
    assert (batch["input_ids"][0, n1:] == tok.pad_token_id).all()
    assert batch["attention_mask"][0, n1:].sum() == 0 and batch["loss_mask"][0, n1:].sum() == 0
    assert batch["response_start"].tolist() == [len(prompt_ids)] * 2
    wide = collate_trajectories([one], pad_id=0, pad_to=n2 + 5)
    assert wide["input_ids"].shape == (1, n2 + 5)
    with pytest.raises(ValueError, match="shorter"):
        collate_trajectories([two], pad_id=0, pad_to=n2 - 1)


def test_render_marks_what_is_trained(impl, tok) -> None:
    _, prompt_ids = _prompt(tok)
    turns = [tok.encode(t, add_special_tokens=False) for t in (TURNS[0], TURNS[2])]
    out = run_agent_episode(
        ScriptedModel(turns), FakeSearch(), tok, prompt_ids, max_turns=2, max_obs_tokens=200, tools=impl.tool_calls
    ).assemble(impl.tool_calls)
    pairs = render_trajectory(tok, out["input_ids"], out["loss_mask"])
    assert len(pairs) == len(out["input_ids"]) and [m for _, m in pairs] == out["loss_mask"]
    merged = render_trajectory(tok, out["input_ids"], out["loss_mask"], merge=True)
    assert [m for _, m in merged] == [0, 1, 0, 1]
    assert "".join(text for text, _ in merged) == tok.decode(out["input_ids"])
    assert merged[1][0] == TURNS[0] and merged[2][0].startswith("\n\n<information>Doc 1(Title: Paris)")


# Search-R1's own examples: the prompt's `<search> query </search>` / `<answer> Beijing </answer>`,
# a rollout turn, a turn that ran past its tag, and a turn with no action
SEARCH_R1_TURNS = [
    (
        "<think> I need the capital of China. </think>\n<search> query </search>",
        "<think> I need the capital of China. </think>\n<search> query </search>",
        ("search", "query"),
    ),
    ("<answer> Beijing </answer>", "<answer> Beijing </answer>", ("answer", "Beijing")),
    (
        "<search> capital of France </search>\n\n<information>Doc 1(Title: Paris) ...</information>",
        "<search> capital of France </search>",
        ("search", "capital of France"),
    ),
    ("<think> The capital is Paris.", "<think> The capital is Paris.", (None, "")),
]


@pytest.mark.parametrize(("turn", "cut", "parsed"), SEARCH_R1_TURNS)
def test_search_r1_examples_truncate_then_parse(impl, turn: str, cut: str, parsed: tuple) -> None:
    tc = impl.tool_calls
    assert tc.truncate_at_action(turn) == cut
    assert tc.truncate_at_action(turn, search_r1_order=True) == cut  # one tag: both orders agree
    assert tuple(tc.parse_action(cut)) == parsed


def test_search_r1_check_order_quirk(impl) -> None:
    """Search-R1 cuts at </search> when present anywhere, even after a complete answer."""
    tc = impl.tool_calls
    turn = "<answer> Paris </answer> but let me verify <search> capital of France </search> more"
    first_tag = tc.truncate_at_action(turn)
    search_r1 = tc.truncate_at_action(turn, search_r1_order=True)
    assert first_tag == "<answer> Paris </answer>"
    assert search_r1 == "<answer> Paris </answer> but let me verify <search> capital of France </search>"
    # both parse to the answer (the first complete action), but Search-R1 keeps, and trains on, the extra text
    assert tuple(tc.parse_action(first_tag)) == tuple(tc.parse_action(search_r1)) == ("answer", "Paris")


TAG_PIECES = ["<search>", "</search>", "<answer>", "</answer>", "<", "</", ">", "search", " q ", "\n", "é", "x"]


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(st.sampled_from(TAG_PIECES), max_size=14).map("".join)))
def test_parse_and_truncate_never_raise(impl, text: str) -> None:
    tc = impl.tool_calls
    for order in (False, True):
        cut = tc.truncate_at_action(text, search_r1_order=order)
        assert text.startswith(cut)
        if cut != text:
            assert cut.endswith(("</search>", "</answer>"))
    action, content = tc.parse_action(text)
    assert action in (None, "search", "answer")
    assert content == content.strip() and (action is not None or content == "")
    if action is not None:
        assert f"<{action}>" in text and f"</{action}>" in text
    # the default cut keeps exactly one closing tag, at its end: an action found in it closes there
    cut = tc.truncate_at_action(text)
    cut_action, _ = tc.parse_action(cut)
    if cut_action is not None:
        assert cut.endswith(f"</{cut_action}>")
