# Chapter 06 notes: learning_notes/06_training_engineering/README.md#one-step-walked-through
"""The batched rollout: the same episodes as chapter 05's one-at-a-time loop, and a real HF backend that stops at tags."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from minimal_impl import episode as ep
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
    batched = rollout_batch(
        backend,
        prompts,
        tokenizer=tok,
        eos_ids=eos,
        max_new_tokens=64,
        protocol=tc.SEARCH_R1,
        search_batch=search_batch,
        max_turns=2,
        max_obs_tokens=40,
    )
    assert backend.calls == [5, 4, 2], "turn k generates only for the episodes still going, all in one call"
    assert searches == [
        ["capital of France", "capital of France", "Eiffel Tower"],
        ["Eiffel Tower", "capital of France"],
    ]
    for e, traj in enumerate(batched):
        turns = iter(tok.encode(t, add_special_tokens=False) for t in SCRIPTS[e])
        single = ep.run_agent_episode(
            lambda ids, turns=turns: next(turns),
            lambda q: DOCS.get(q, []),
            tok,
            prompts[e],
            max_turns=2,
            max_obs_tokens=40,
            eos_ids=eos,
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

    trajs = rollout_batch(Fixed(), prompts, tokenizer=tok, eos_ids=[tok.eos_token_id], max_new_tokens=16, protocol=None)
    assert [t.finish_reason for t in trajs] == ["eos", "length"]
    assert trajs[0].segments[0][0][-1] == tok.eos_token_id and len(trajs[0].segments) == 1
    with pytest.raises(ValueError, match="search_batch"):
        rollout_batch(Fixed(), prompts, tokenizer=tok, eos_ids=[0], max_new_tokens=16, protocol=tc.SEARCH_R1)


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


def test_vllm_backend_falls_back_to_hf_with_the_reason(tiny_model_dir: Path, tok, monkeypatch) -> None:
    import contextlib
    from importlib import metadata

    from minimal_impl import rollout_vllm
    from minimal_impl.config import build_config
    from minimal_impl.trainer_setup import make_backend

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = build_config("tiny_sample_nq", ["rollout_backend=vllm", f"model_path={tiny_model_dir}", "device=cpu"])
    messages: list[str] = []
    if not torch.cuda.is_available():
        backend = make_backend(config, model, tok, tc.SEARCH_R1, amp=contextlib.nullcontext, log=messages.append)
        assert isinstance(backend, HFRollout)
        assert messages == [
            "[rollout] rollout_backend=vllm is not possible here (no CUDA device): using Hugging Face generate instead"
        ]
    # each reason, as if on a GPU machine
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    versions = {"vllm": None}

    def fake_version(name: str) -> str:
        if versions.get(name) is None:
            raise metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(rollout_vllm.metadata, "version", fake_version)
    assert "not installed" in rollout_vllm.vllm_unavailable_reason()
    versions["vllm"] = "0.11.2"
    assert "0.11.2 is installed" in rollout_vllm.vllm_unavailable_reason()
    versions["vllm"] = "0.31.0"
    assert rollout_vllm.vllm_unavailable_reason() is None


def _real_backend(kind: str, model_dir: Path, tok):
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    if kind == "hf":
        return HFRollout(model, tok, tc.SEARCH_R1)
    from minimal_impl.config import build_config
    from minimal_impl.rollout_vllm import VLLMRollout, vllm_unavailable_reason

    reason = vllm_unavailable_reason()
    if reason is not None:
        pytest.skip(f"the vLLM backend needs a CUDA device and vLLM 0.30-0.31: {reason}")
    config = build_config(
        "tiny_sample_nq", [f"model_path={model_dir}", "device=cuda", "vllm_gpu_memory_utilization=0.2"]
    )
    return VLLMRollout(model.cuda(), tok, tc.SEARCH_R1, config)


@pytest.mark.parametrize("kind", ["hf", "vllm"])
def test_rollout_semantics_on_each_real_backend(kind: str, tiny_model_dir: Path, tok) -> None:
    """The same invariants whichever engine samples: turns cut at the first closing tag, observations masked."""
    backend = _real_backend(kind, tiny_model_dir, tok)
    prompts = [p + tok.encode(" <search>", add_special_tokens=False) for p in _prompts(tok)] * 4
    torch.manual_seed(0)
    trajs = rollout_batch(
        backend,
        prompts,
        tokenizer=tok,
        eos_ids=[tok.eos_token_id],
        max_new_tokens=10,
        protocol=tc.SEARCH_R1,
        search_batch=lambda qs: [DOCS.get(q, []) for q in qs],
        max_turns=2,
        max_obs_tokens=40,
    )
    closing = {tok.convert_tokens_to_ids(t) for t in tc.SEARCH_R1.stop_tags}
    for traj in trajs:
        assert traj.finish_reason in ("answer", "eos", "max_turns", "length") and 1 <= traj.num_turns <= 3
        for ids, generated in traj.segments:
            if generated:  # a model turn: at most 10 tokens, nothing after its first closing tag
                assert len(ids) <= 10 and not closing & set(ids[:-1])
        row = traj.assemble()
        observed = [ids for ids, generated in traj.segments if not generated]
        assert sum(row["loss_mask"]) == sum(len(ids) for ids, g in traj.segments if g)
        assert len(row["input_ids"]) == len(traj.prompt_ids) + sum(len(ids) for ids, _ in traj.segments)
        assert all(len(ids) > 0 for ids in observed)
    assert backend.generate([prompts[0]], 6, greedy=True) == backend.generate([prompts[0]], 6, greedy=True)
