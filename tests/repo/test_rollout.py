# Chapter 06 notes: learning_notes/06_training_engineering/README.md#one-step-walked-through
"""The batched rollout: the same episodes as chapter 05's one-at-a-time loop, and a real HF backend that stops at tags."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from minimal_impl import tool_calls as tc
from minimal_impl.rollout import HFRollout, eos_token_ids, rollout_batch

DOCS = {
    "capital of France": [
        {"document": {"id": "1", "contents": "Paris\nParis is the capital of France."}, "score": 2.0}
    ],
    "Eiffel Tower": [
        {"document": {"id": "2", "contents": "Eiffel Tower\nThe Eiffel Tower is in Paris."}, "score": 1.0}
    ],
}
SCRIPTS = [  # one list of turns per episode: search-search-answer, answer, invalid-then-eos, search forever, overshoot
    ["<search> capital of France </search>", "<search> Eiffel Tower </search>", "<answer> Paris </answer>"],
    ["<answer> Rome </answer>"],
    ["<think> hmm", "I give up.<|endoftext|>"],
    ["<search> capital of France </search>"] * 3,
    ["<search> Eiffel Tower </search>\n\n<information>made up</information>", "<answer> Paris </answer> trailing"],
]


class ScriptedBackend:
    """Turn k of episode e returns SCRIPTS[e][k]; identifies episodes by their prompt."""

    def __init__(self, tok, prompts: list[list[int]]) -> None:
        self.tok, self.prompts = tok, prompts
        self.turn = [0] * len(prompts)
        self.calls: list[int] = []  # batch size of each generate call

    def generate(self, contexts: list[list[int]], max_new_tokens: int, greedy: bool = False) -> list[list[int]]:
        self.calls.append(len(contexts))
        out = []
        for context in contexts:
            episode = next(e for e, p in enumerate(self.prompts) if context[: len(p)] == p)
            text = SCRIPTS[episode][self.turn[episode]]
            self.turn[episode] += 1
            out.append(self.tok.encode(text, add_special_tokens=False)[:max_new_tokens])
        return out


@pytest.fixture(scope="module")
def tok(tiny_model_dir: Path):
    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def _prompts(tok) -> list[list[int]]:
    return [tok.encode(f"Question {e}: where?", add_special_tokens=False) for e in range(len(SCRIPTS))]


def test_batch_equals_one_episode_at_a_time(tok) -> None:
    prompts = _prompts(tok)
    searches: list[list[str]] = []

    def search_batch(queries: list[str]) -> list[list[dict]]:
        searches.append(list(queries))
        return [DOCS.get(q, []) for q in queries]

    backend = ScriptedBackend(tok, prompts)
    eos = [tok.eos_token_id]
    batched = rollout_batch(backend, prompts, tok, eos, 64, tc.SEARCH_R1, search_batch, max_turns=2, max_obs_tokens=40)
    assert backend.calls == [5, 4, 2], "turn k generates only for the episodes still going, all in one call"
    assert searches == [
        ["capital of France", "capital of France", "Eiffel Tower"],
        ["Eiffel Tower", "capital of France"],
    ]
    for e, traj in enumerate(batched):
        turns = iter(tok.encode(t, add_special_tokens=False) for t in SCRIPTS[e])
        single = tc.run_agent_episode(
            lambda ids, turns=turns: next(turns), lambda q: DOCS.get(q, []), tok, prompts[e], 2, 40, eos_ids=eos
        )
        assert traj.segments == single.segments, f"episode {e}"
        assert (traj.finish_reason, traj.answer, traj.search_queries) == (
            single.finish_reason,
            single.answer,
            single.search_queries,
        )
        assert traj.assemble() == single.assemble()
    assert [t.finish_reason for t in batched] == ["answer", "answer", "eos", "max_turns", "answer"]


def test_single_turn_task_keeps_up_to_eos(tok) -> None:
    prompts = _prompts(tok)[:2]

    class Fixed:
        def generate(self, contexts, max_new_tokens, greedy=False):
            return [
                tok.encode("2 + 3 = 5\n#### 5", add_special_tokens=False) + [tok.eos_token_id, 7, 7],
                tok.encode("7 7 7"),
            ]

    trajs = rollout_batch(Fixed(), prompts, tok, [tok.eos_token_id], 16, protocol=None)
    assert [t.finish_reason for t in trajs] == ["eos", "length"]
    assert trajs[0].segments[0][0][-1] == tok.eos_token_id and len(trajs[0].segments) == 1
    with pytest.raises(ValueError, match="search_batch"):
        rollout_batch(Fixed(), prompts, tok, [0], 16, tc.SEARCH_R1, None)


def test_hf_backend_stops_at_single_token_tags(tiny_model_dir: Path, tok) -> None:
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    close_search = tok.convert_tokens_to_ids("</search>")
    backend = HFRollout(model, tok, tc.SEARCH_R1)
    assert close_search in backend.stop_ids and backend.stop_strings is None
    assert set(eos_token_ids(model, tok)) <= set(backend.stop_ids)
    torch.manual_seed(0)
    out = backend.generate([[5, 6, 7], [8, 9]] * 8, max_new_tokens=12)
    assert len(out) == 16 and all(1 <= len(ids) <= 12 for ids in out)
    for ids in out:  # each row ends at its first stop id (or runs to the limit); nothing after it
        stops = [i for i, t in enumerate(ids) if t in backend.stop_ids]
        assert not stops or stops[0] == len(ids) - 1
    greedy = backend.generate([[5, 6, 7]], max_new_tokens=6, greedy=True)
    assert greedy == backend.generate([[5, 6, 7]], max_new_tokens=6, greedy=True), "greedy decoding is deterministic"
    # left padding must not change a row's continuation
    alone = backend.generate([[8, 9]], max_new_tokens=6, greedy=True)
    padded = backend.generate([[5, 6, 7, 5, 6, 7], [8, 9]], max_new_tokens=6, greedy=True)
    assert padded[1] == alone[0]
    with pytest.raises(ValueError, match="temperature"):
        HFRollout(model, tok, tc.SEARCH_R1, temperature=0)


def test_multi_token_tags_use_stop_strings(tiny_model_dir: Path, tok) -> None:
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    protocol = tc.ToolProtocol(search_open="[[q]]", search_close="[[/q]]", answer_open="[[a]]", answer_close="[[/a]]")
    backend = HFRollout(model, tok, protocol)
    assert backend.stop_strings == ["[[/q]]", "[[/a]]"]
    torch.manual_seed(0)
    assert len(backend.generate([[5, 6, 7]], max_new_tokens=5)[0]) <= 5
