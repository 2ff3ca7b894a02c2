# Chapter 07 notes: learning_notes/07_scaling/README.md#the-search-agent-on-verl
"""The search agent on verl 0.9.1, checked on a CPU with verl's own classes and a scripted LLM server.

(a) the registered parser reads what `parse_action` reads from the same ids, and its calls survive verl's
    JSON handling (3,000 generated turns, and hand-worked ones);
(b) the tool answers with our information block, byte for byte (in-process BM25 and the HTTP service);
(c) verl's `AgentLoopWorker` (dataset rows -> `SearchR1AgentLoop` -> padding) and `RewardLoopWorker` (our
    reward hook) give the sequence, loss mask, rollout log-probs and reward of `run_agent_episode` + `Task.score`;
(d) verl's stock `ToolAgentLoop` on the same turns differs exactly as the notes say.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip(
    "verl.experimental.agent_loop.agent_loop",
    reason="verl's agent loop is not importable (verl 0.9.1 with cachetools and aiohttp: requirements-oracle.txt)",
)
import hydra  # noqa: E402
import verl  # noqa: E402
from transformers import AutoTokenizer, GenerationConfig  # noqa: E402
from verl.experimental.agent_loop.agent_loop import AgentLoopWorker, DictConfigWrap, ToolListWrap  # noqa: E402
from verl.experimental.agent_loop.tool_agent_loop import ToolAgentLoop  # noqa: E402
from verl.experimental.reward_loop.reward_loop import RewardLoopWorker  # noqa: E402
from verl.protocol import DataProto  # noqa: E402
from verl.tools.schemas import (  # noqa: E402
    OpenAIFunctionCallSchema,
    OpenAIFunctionParsedSchema,
    OpenAIFunctionToolSchema,  # noqa: E402
)
from verl.tools.tool_registry import initialize_tools_from_config  # noqa: E402
from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn  # noqa: E402
from verl.workers.rollout.replica import TokenOutput  # noqa: E402

from minimal_impl import data, verl_bridge  # noqa: E402
from minimal_impl.config import build_config  # noqa: E402
from minimal_impl.episode import run_agent_episode  # noqa: E402
from minimal_impl.retrieval import BM25Retriever  # noqa: E402
from minimal_impl.rewards import score_response  # noqa: E402
from minimal_impl.rollout import eos_token_ids  # noqa: E402
from minimal_impl.tool_calls import (  # noqa: E402
    INVALID_ACTION_MESSAGE,
    format_docs,
    information_block,
    parse_action,
)
from minimal_impl.verl_agent_loop import SearchR1AgentLoop, eos_ids  # noqa: E402
from minimal_impl.verl_reward import compute_score  # noqa: E402
from minimal_impl.verl_search_tool import SearchR1ToolParser, SearchTool  # noqa: E402

N_GENERATED = 3000


@pytest.fixture(scope="module")
def tok(tiny_model_dir: Path):
    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


@pytest.fixture(scope="module")
def corpus(prepared: Path) -> Path:
    return prepared / "nq" / "corpus.jsonl"


@pytest.fixture(scope="module")
def bm25(corpus: Path) -> BM25Retriever:
    return BM25Retriever.from_jsonl(corpus)


# ---------------------------------------------------------------- (a) the parser

FRAGMENTS = (
    ["<search>", "</search>", "<answer>", "</answer>"] * 4  # the actions, often
    + ["<think>", "</think>", "<information>", "</information>", "<search", "search>", "</search", "<Search>",
       "< search>", "<answer >", "<<answer>>", "</ answer>"]  # near misses
    + [" ", "  ", "\n", "\n\n", "\t", "\r\n", "\u3000", "\u00a0", ""]  # whitespace
    + ["capital of France", "Paris", "巴黎是法国的首都", "🙂", "e\u0301", "שלום", '"quoted"', "back\\slash",
       '{"query": "x"}', "\\u0041", "\x00", "<|im_end|>", "<|endoftext|>", "q" * 40]
)  # fmt: skip


def generated_turns(tok, n: int, seed: int = 0) -> list[list[int]]:
    """Sampled-looking turns: two thirds texts glued from FRAGMENTS (most around one well-formed action,
    whose content may hold tags too) and encoded; one third random ids (ids the tokenizer would never
    produce from text: a tag spelled in bytes, broken UTF-8, special tokens anywhere)."""
    rng, vocab = random.Random(seed), len(tok)  # len(tok) costs ~1 ms: once
    turns = []
    for i in range(n):
        if i % 3 == 2:
            turns.append([rng.randrange(vocab) for _ in range(rng.randint(0, 30))])
            continue
        pieces = [rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 6))]
        if rng.random() < 0.7:
            name, inner = rng.choice(["search", "answer"]), "".join(rng.sample(FRAGMENTS, rng.randint(0, 4)))
            pieces.insert(rng.randint(0, len(pieces)), f"<{name}>{inner}</{name}>")
        turns.append(tok.encode("".join(pieces), add_special_tokens=False))
    return turns


async def check_parser_reads_like_parse_action(parser: SearchR1ToolParser, tok, ids: list[int]) -> str | None:
    """verl's view of one turn against ours (`record_turn`: decode with specials, then parse_action)."""
    text = tok.decode(ids, skip_special_tokens=False)
    action, content = parse_action(text)
    assert parser.parse(ids) == (text, action, content)
    got_text, calls = await parser.extract_tool_calls(ids)
    assert got_text == text
    if action != "search":
        assert calls == [], f"{text!r}: {action} is not a tool call"
        return action
    (call,) = calls
    assert call.name == "search" and json.loads(call.arguments) == {"query": content}  # verl's _call_tool json.loads
    parsed, has_error = OpenAIFunctionCallSchema.from_openai_function_parsed_schema(
        OpenAIFunctionParsedSchema(name=call.name, arguments=call.arguments)
    )  # what verl's loop writes into the assistant message
    assert not has_error and parsed.arguments == {"query": content}
    return action


def test_parser_agrees_with_parse_action_on_generated_turns(tok) -> None:
    parser = SearchR1ToolParser(tok)

    async def check_all() -> list[str | None]:
        return [
            await check_parser_reads_like_parse_action(parser, tok, ids) for ids in generated_turns(tok, N_GENERATED)
        ]

    counts: dict[str | None, int] = {}
    for action in asyncio.run(check_all()):
        counts[action] = counts.get(action, 0) + 1
    assert sum(counts.values()) == N_GENERATED
    assert min(counts.get(a, 0) for a in ("search", "answer", None)) >= 300, f"too few of some action: {counts}"


@pytest.mark.parametrize(
    ("text", "action", "content"),
    [
        ("<search> capital of France </search>", "search", "capital of France"),
        ("<think> a </think>\n<search>\n\t巴黎\u3000</search> junk", "search", "巴黎"),  # str.strip: unicode spaces
        ("<search></search>", "search", ""),  # an empty query is still a search
        ('<search> say "hi" \\ {"query": 1} </search>', "search", 'say "hi" \\ {"query": 1}'),
        ("<answer> x </answer><search> q </search>", "answer", "x"),  # the leftmost complete action
        ("<search> <answer> x </answer> </search>", "search", "<answer> x </answer>"),  # nested: the outer
        ("<search><search> a </search>", "search", "<search> a"),
        ("<search> a </search> <search> b </search>", "search", "a"),  # one call per turn
        ("<search> q", None, ""),  # unclosed
        ("<search> q </answer>", None, ""),  # mismatched
        ("<SEARCH> q </SEARCH> < search>q</search>", None, ""),  # tags are exact
        ("", None, ""),
    ],
)
def test_parser_on_hand_worked_turns(tok, text: str, action: str | None, content: str) -> None:
    ids = tok.encode(text, add_special_tokens=False)
    assert asyncio.run(check_parser_reads_like_parse_action(SearchR1ToolParser(tok), tok, ids)) == action
    assert SearchR1ToolParser(tok).parse(ids)[1:] == (action, content)


def test_parser_stop_ids_only_for_single_token_tags(tok) -> None:
    """The tiny tokenizer's tags are one token each: verl's loops may stop on them; multi-token tags cannot."""
    tags = [tok.convert_tokens_to_ids(tag) for tag in ("</search>", "</answer>")]
    assert SearchR1ToolParser(tok).stop_token_ids == tags
    split = types.SimpleNamespace(encode=lambda text, add_special_tokens=False: [1] * len(text))  # Qwen-like
    assert SearchR1ToolParser(split).stop_token_ids == []


# ---------------------------------------------------------------- (b) the tool


def make_tool(**config: object) -> SearchTool:
    schema = OpenAIFunctionToolSchema.model_validate(verl_bridge.tool_schema())
    return SearchTool(config={"type": "native", **config}, tool_schema=schema)


def run_tool(tool: SearchTool, parameters: dict) -> str:
    response, reward, _ = asyncio.run(tool.execute("instance", parameters))
    assert reward == 0.0
    return response.text


QUERIES = ["", "   ", "巴黎", "capital of\nFrance", "x" * 500, '"quoted" \\ back', "<search> q </search>"]


def test_tool_answers_with_our_information_block(prepared: Path, corpus: Path, bm25: BM25Retriever) -> None:
    expected = (
        "\n\n<information>Doc 1(Title: Zozai) Zozai is a country. Other cities of Zozai are Staibraiku and "
        "Teafiostas. The capital of Zozai is Rasuros.</information>\n\n"
    )  # by hand: the sample corpus' Zozai document in Search-R1's layout
    assert run_tool(make_tool(corpus_path=str(corpus), topk=1), {"query": "capital of Zozai"}) == expected
    tool = make_tool(corpus_path=str(corpus), topk=3)
    questions = [row["extra_info"]["question"] for row in data.load_rows(prepared / "nq" / "test.parquet")[:40]]
    for query in questions + QUERIES:
        ours = information_block(format_docs(bm25.search([query], topk=3)[0]))
        assert run_tool(tool, {"query": query}).encode("utf-8") == ours.encode("utf-8"), query


def test_tool_over_the_retrieval_service(bm25: BM25Retriever) -> None:
    """retriever_url: the same block through HTTP (a loopback stand-in for the chapter-05 service)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            result = bm25.search(body["queries"], topk=body["topk"], return_scores=body["return_scores"])
            payload = json.dumps({"result": result}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        tool = make_tool(retriever_url=f"http://127.0.0.1:{server.server_port}/retrieve", topk=2)
        for query in ["capital of Zozai", *QUERIES]:
            assert run_tool(tool, {"query": query}) == information_block(format_docs(bm25.search([query], topk=2)[0]))
    finally:
        server.shutdown()
        server.server_close()


def test_tool_config_written_by_the_bridge_loads_in_verl(prepared: Path, tmp_path: Path) -> None:
    shutil.copytree(prepared / "nq", tmp_path / "sample-nq")
    config = build_config("tiny_sample_nq", [f"data_dir={tmp_path}", f"output_dir={tmp_path}", "retriever_topk=2"])
    (path, text), *_ = verl_bridge.agent_loop_files(config).items()
    path.parent.mkdir(parents=True)
    path.write_text(text)
    (tool,) = initialize_tools_from_config(str(path))  # verl's own loader, as its workers call it
    assert isinstance(tool, SearchTool) and (tool.name, tool.topk) == ("search", 2)
    assert tool.corpus_path == str(tmp_path / "sample-nq" / "corpus.jsonl")


def test_tool_errors_are_clear(corpus: Path) -> None:
    with pytest.raises(ValueError, match="set retriever_url"):
        make_tool(topk=3)
    with pytest.raises(ValueError, match="topk must be an int >= 1"):
        make_tool(corpus_path=str(corpus), topk=0)
    with pytest.raises(ValueError, match="needs its tool_schema"):
        SearchTool(config={"corpus_path": str(corpus)}, tool_schema=None)
    schema = verl_bridge.tool_schema()
    schema["function"]["name"] = "lookup"
    with pytest.raises(ValueError, match="'lookup'"):
        SearchTool(config={"corpus_path": str(corpus)}, tool_schema=OpenAIFunctionToolSchema.model_validate(schema))
    with pytest.raises(ValueError, match='expected {"query": <string>}'):
        run_tool(make_tool(corpus_path=str(corpus)), {"q": "x"})


# ---------------------------------------------------------------- (c) verl's rollout data path against ours

MAX_OBS = 80  # tokens: the invalid-action message (77) fits, information blocks of 3 passages (~100) are cut
TOPK = 3
FORMAT_SCORE = (
    0.1  # > 0: EM on verl's raw solution_str would read the invalid-action message's "<answer> and </answer>"
)
RAMBLE = "I am not sure what to do here, so I will just keep on talking about nothing at all for a while longer"
EOS = "<|im_end|>"
# (test row, turns as the model writes them, our finish_reason, reward by hand); {q} question, {a} golden answer
SCENARIOS = [
    (0, ["<think> look it up </think> <search> {q} </search> then more", "<answer> {a} </answer> bye" + EOS],
     "answer", 1.0),
    (1, [RAMBLE, "<search> {q} </search>", "<answer> Paris </answer>"], "answer", FORMAT_SCORE),
    (2, ["<search> {q} </search>", "<search> capital </search>", "<search> never run </search>"], "max_turns", 0.0),
    (3, ["I know it" + EOS], "eos", 0.0),
    (4, [RAMBLE, "<search> {q} </search>", RAMBLE], "max_turns", 0.0),  # no answer: the message's must not count
    (5, ["<answer> {a} </answer> and then some"], "answer", 1.0),
]  # fmt: skip


def logprobs(turn: int, n: int) -> list[float]:
    """The scripted log-probs of a turn's ids, distinct per position, so that any misalignment shows."""
    return [-(100 * turn + k + 1) / 1000 for k in range(n)]


class ScriptedServer:
    """verl's LLM server client with scripted turns, found by the episode's prompt. It honours max_tokens,
    and stop_token_ids when `honour_stops` (vLLM does; a backend that ignores them is the worst case)."""

    def __init__(self, scripts: dict[tuple[int, ...], list[list[int]]], honour_stops: bool) -> None:
        self.scripts, self.honour_stops, self.calls = scripts, honour_stops, []

    async def generate(self, request_id: str, *, prompt_ids: list[int], sampling_params: dict, **kwargs) -> TokenOutput:
        prompt = next((p for p in self.scripts if tuple(prompt_ids[: len(p)]) == p), None)
        assert prompt is not None, "verl asked to continue a prompt that is not ours"
        turn = sum(1 for called, _ in self.calls if called == prompt)
        self.calls.append((prompt, dict(sampling_params)))
        ids = self.scripts[prompt][turn][: sampling_params.get("max_tokens")]
        stops = set(sampling_params.get("stop_token_ids") or []) if self.honour_stops else set()
        ids = ids[: next((k + 1 for k, t in enumerate(ids) if t in stops), len(ids))]
        return TokenOutput(token_ids=ids, log_probs=logprobs(turn, len(ids)), num_preempted=0, stop_reason="completed")


@pytest.fixture(scope="module")
def world(tiny_model_dir: Path, prepared: Path, tok, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The test rows, our prompts of them (as train.py renders them) and each scenario's scripted turn ids."""
    root = tmp_path_factory.mktemp("verl_agent")
    shutil.copytree(prepared / "nq", root / "data" / "sample-nq")
    rows = data.load_rows(root / "data" / "sample-nq" / "test.parquet")
    prompts, scripts = [], []
    for row_index, turns, _, _ in SCENARIOS:
        row = rows[row_index]
        text = tok.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
        prompts.append(tok.encode(text, add_special_tokens=False))
        fill = {"q": row["extra_info"]["question"], "a": row["reward_model"]["ground_truth"]["target"][0]}
        scripts.append([tok.encode(turn.format(**fill), add_special_tokens=False) for turn in turns])
    return {"root": root, "rows": rows, "prompts": prompts, "scripts": scripts}


@pytest.fixture(scope="module")
def configs(world: dict, tiny_model_dir: Path) -> dict[str, tuple]:
    """agent loop -> (our config of the tiny search preset, verl's config composed by Hydra from the bridge's
    overrides), with the agent-loop files written where the overrides point."""
    out = {}
    for agent_loop in verl_bridge.AGENT_LOOPS:
        overrides = [f"model_path={tiny_model_dir}", f"data_dir={world['root'] / 'data'}", f"max_obs_tokens={MAX_OBS}",
                     f"output_dir={world['root'] / agent_loop}", f"retriever_topk={TOPK}", f"format_score={FORMAT_SCORE}"]  # fmt: skip
        config = build_config("tiny_sample_nq", overrides)
        for path, text in verl_bridge.agent_loop_files(config, agent_loop).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        config_dir = str(Path(verl.__file__).parent / "trainer/config")
        with hydra.initialize_config_dir(config_dir=config_dir, version_base=None):
            cfg = hydra.compose(config_name="ppo_trainer", overrides=verl_bridge.verl_overrides(config, 1, agent_loop))
        out[agent_loop] = (config, cfg)
    return out


def run_verl(world: dict, configs: dict, tok, agent_loop: str, honour_stops: bool) -> tuple:
    """verl's rollout of every scenario: AgentLoopWorker over RLHFDataset rows, with verl's RewardLoopWorker
    (our reward hook) as the streaming reward worker. Returns (our config, verl's output, the server)."""
    config, cfg = configs[agent_loop]
    dataset = RLHFDataset(data_files=str(world["root"] / "data/sample-nq/test.parquet"), tokenizer=tok, config=cfg.data)
    batch = DataProto.from_single_dict(collate_fn([dataset[row] for row, *_ in SCENARIOS]))
    server = ScriptedServer({tuple(p): s for p, s in zip(world["prompts"], world["scripts"])}, honour_stops)

    async def rollout() -> DataProto:  # verl's workers keep the event loop they are built on: build them in it
        reward_worker = RewardLoopWorker(cfg)  # loads verl_reward.py by path, as in a run
        handle = types.SimpleNamespace(compute_score=types.SimpleNamespace(remote=reward_worker.compute_score))
        worker = AgentLoopWorker(cfg, llm_client=server, reward_loop_worker_handles=[handle])
        return await worker.generate_sequences(batch)

    output = asyncio.run(rollout())
    return config, output, server


def unpad(output: DataProto, i: int) -> tuple[list[int], list[int], list[int], list[float]]:
    """Row i of verl's padded batch: (prompt ids, response ids, response mask, rollout log-probs)."""
    width = output.batch["prompts"].shape[1]
    attention = output.batch["attention_mask"][i]
    n = int(attention[width:].sum())
    assert int(output.batch["response_mask"][i][n:].sum()) == 0, "the mask is 0 on padding"
    prompt = output.batch["prompts"][i][attention[:width].bool()].tolist()
    response = output.batch["responses"][i][:n].tolist()
    return (
        prompt,
        response,
        output.batch["response_mask"][i][:n].tolist(),
        output.batch["rollout_log_probs"][i][:n].tolist(),
    )


def test_verl_rollout_equals_our_episode(
    world: dict, configs: dict, tiny_model_dir: Path, tok, bm25: BM25Retriever
) -> None:
    config, output, server = run_verl(world, configs, tok, "search_r1", honour_stops=False)
    our_eos = eos_token_ids(
        types.SimpleNamespace(generation_config=GenerationConfig.from_pretrained(tiny_model_dir)), tok
    )
    assert eos_ids(str(tiny_model_dir), tok) == set(our_eos)  # <|im_end|> and <|endoftext|>, as the trainer's
    truncated = 0
    for i, (row_index, _, finish, reward) in enumerate(SCENARIOS):
        turns = iter(world["scripts"][i])
        traj = run_agent_episode(
            lambda context, turns=turns: next(turns)[: config.max_new_tokens],  # HF generate: no stop strings here
            lambda query: bm25.search([query], topk=TOPK)[0],
            tok,
            world["prompts"][i],
            max_turns=config.max_turns,
            max_obs_tokens=MAX_OBS,
            eos_ids=our_eos,
        )
        ours = traj.assemble()
        start = ours["response_start"]
        prompt, response, mask, rollout_logprobs = unpad(output, i)
        assert prompt == traj.prompt_ids, f"scenario {i}: the prompt"
        assert response == ours["input_ids"][start:], f"scenario {i}: the response ids"
        assert mask == ours["loss_mask"][start:], f"scenario {i}: verl's response_mask is our loss mask"
        expected_logprobs, turn = [], 0
        for ids, generated in traj.segments:  # the sampler's log-probs, cut with their ids; 0 on observations
            expected_logprobs += logprobs(turn, len(ids)) if generated else [0.0] * len(ids)
            turn += generated
        assert rollout_logprobs == pytest.approx(expected_logprobs, abs=1e-6), f"scenario {i}: rollout log-probs"

        episode = output.non_tensor_batch["search_r1_episode"][i]
        assert (episode["finish_reason"], traj.finish_reason) == (finish, finish), f"scenario {i}"
        assert episode["actions"] == traj.actions and episode["search_queries"] == traj.search_queries
        assert episode["num_invalid_actions"] == traj.num_invalid_actions
        assert episode["turn_texts"] == traj.turn_texts
        observations = sum(1 for _, generated in traj.segments if not generated)
        assert output.non_tensor_batch["__num_turns__"][i] == 1 + traj.num_turns + observations  # verl's count
        truncated += traj.num_truncated_observations

        golden = world["rows"][row_index]["reward_model"]["ground_truth"]["target"]
        ours_reward = score_response("em", "".join(traj.turn_texts), list(golden), FORMAT_SCORE)  # Task.score
        assert output.batch["rm_scores"][i].sum().item() == pytest.approx(ours_reward) == pytest.approx(reward)
    assert truncated >= 3, "the scenarios must cut some information blocks"
    # scenario 4 never answers, but its response holds the invalid-action message and with it "<answer> and
    # </answer>": scored on verl's own solution_str, EM would pay the format score; on the episode's text, 0
    solution_str = tok.decode(unpad(output, 4)[1], skip_special_tokens=True)  # verl's naive reward manager
    assert INVALID_ACTION_MESSAGE in solution_str
    row = world["rows"][SCENARIOS[4][0]]
    truth = row["reward_model"]["ground_truth"]
    assert compute_score(row["data_source"], solution_str, truth, format_score=FORMAT_SCORE) == FORMAT_SCORE
    assert output.batch["rm_scores"][4].sum().item() == 0.0
    for _, params in server.calls:  # what the loop asked the server for
        assert params["stop"] == ["</search>", "</answer>"] and params["max_tokens"] == config.max_new_tokens
        assert set(params["stop_token_ids"]) == {tok.convert_tokens_to_ids(t) for t in ("</search>", "</answer>")}


# ---------------------------------------------------------------- (d) verl's stock ToolAgentLoop, for comparison


def test_stock_tool_agent_differs_as_the_notes_say(world: dict, configs: dict, tok, bm25: BM25Retriever) -> None:
    """verl's own ToolAgentLoop with our parser and tool on the same scripted turns, against a vLLM-like server
    that honours the stop ids the parser asks for (the tiny tokenizer's tags are single tokens)."""
    config, output, _ = run_verl(world, configs, tok, "tool_agent", honour_stops=True)
    prompt, response, mask, _ = unpad(output, 0)
    assert prompt == world["prompts"][0]  # the tiny chat template ignores the tool schema; Qwen2.5's renders it
    turn1, turn2 = world["scripts"][0][0], world["scripts"][0][1]
    turn1 = turn1[: turn1.index(tok.convert_tokens_to_ids("</search>")) + 1]  # stopped on the tag's id
    turn2 = turn2[: turn2.index(tok.convert_tokens_to_ids("</answer>")) + 1]
    chars = config.max_obs_tokens * verl_bridge.CHARS_PER_TOKEN  # 320 characters for our 80 tokens

    def tool_turn(query: str) -> str:  # the observation as a chat turn of the template, cut in characters
        block = information_block(format_docs(bm25.search([query], topk=TOPK)[0]))
        text = block if len(block) <= chars else block[:chars] + "...(truncated)"
        return "<|im_start|>tool\n" + text + "<|im_end|>\n<|im_start|>assistant\n"

    question = world["rows"][0]["extra_info"]["question"]  # its block: 278 characters, 91 tokens
    # verl keeps the whole block (278 <= 320 characters) where ours keeps 80 tokens; the assistant turn that
    # stopped on </search> is never closed with <|im_end|> before the tool turn opens
    assert tok.decode(response, skip_special_tokens=False) == tok.decode(turn1) + tool_turn(question) + tok.decode(
        turn2
    )
    assert mask == [1] * len(turn1) + [0] * (len(response) - len(turn1) - len(turn2)) + [1] * len(turn2)
    assert output.batch["rm_scores"][0].sum().item() == 1.0  # EM on solution_str still finds the answer
    assert "search_r1_episode" not in output.non_tensor_batch  # no episode: the hook scores solution_str

    question = world["rows"][2]["extra_info"]["question"]  # its block: 415 characters, cut at 320 + a marker
    assert tool_turn(question) in tok.decode(unpad(output, 2)[1], skip_special_tokens=False)
    assert "...(truncated)<|im_end|>" in tool_turn(question)

    _, response, mask, _ = unpad(output, 1)  # an invalid first turn ends the episode (ours: message, go on)
    assert response == world["scripts"][1][0] and mask == [1] * len(response)  # no per-turn token cap either
    assert output.non_tensor_batch["__num_turns__"][1] == 2


def make_loop(cls: type, cfg, tok, tools: tuple, server: object = None, **kwargs: object):
    """An agent loop built as verl's AgentLoopWorker builds one per trajectory (hydra passes these arguments)."""
    verl_args = dict(trainer_config=DictConfigWrap(cfg), server_manager=server, tokenizer=tok, processor=None,
                     dataset_cls=RLHFDataset, data_config=DictConfigWrap(cfg.data), tools=ToolListWrap(list(tools)))  # fmt: skip
    return cls(**verl_args, **kwargs)


def test_agent_loop_refuses_settings_that_would_change_the_episode(configs: dict, tok, corpus: Path) -> None:
    _, cfg = configs["search_r1"]
    tool = make_tool(corpus_path=str(corpus))

    def build(cfg=cfg, tools=(tool,), **kwargs: object) -> SearchR1AgentLoop:
        return make_loop(SearchR1AgentLoop, cfg, tok, tools, **{"max_new_tokens": 24, "max_obs_tokens": 80, **kwargs})

    async def check() -> None:  # verl's loops keep the event loop they are built on
        assert build().max_assistant_turns == 3
        with pytest.raises(ValueError, match="max_new_tokens must be an int >= 1"):
            build(max_new_tokens=0)
        with pytest.raises(ValueError, match="a tool named 'search'"):
            build(tools=())
        hermes = cfg.copy()
        hermes.actor_rollout_ref.rollout.multi_turn.format = "hermes"
        with pytest.raises(ValueError, match="multi_turn.format=search_r1"):
            build(cfg=hermes)
        unlimited = cfg.copy()
        unlimited.actor_rollout_ref.rollout.multi_turn.max_assistant_turns = None
        with pytest.raises(ValueError, match="max_assistant_turns = max_turns \\+ 1"):
            build(cfg=unlimited)

    asyncio.run(check())


def test_a_retrieval_error_stops_our_loop_but_verls_shows_it_to_the_model(
    world: dict, configs: dict, tok, corpus: Path
) -> None:
    class DownTool(SearchTool):
        def search(self, query: str) -> list[dict]:
            raise RuntimeError("retrieval service at http://127.0.0.1:8000/retrieve is unreachable")

    tool = DownTool(config={"corpus_path": str(corpus)}, tool_schema=make_tool(corpus_path=str(corpus)).tool_schema)
    row = world["rows"][SCENARIOS[0][0]]

    async def episode(cls: type, cfg, **kwargs: object):
        server = ScriptedServer({tuple(world["prompts"][0]): world["scripts"][0]}, honour_stops=True)
        return await make_loop(cls, cfg, tok, (tool,), server, **kwargs).run(
            {"temperature": 1.0}, raw_prompt=row["prompt"]
        )

    with pytest.raises(RuntimeError, match="unreachable"):
        asyncio.run(episode(SearchR1AgentLoop, configs["search_r1"][1], max_new_tokens=24, max_obs_tokens=80))
    output = asyncio.run(episode(ToolAgentLoop, configs["tool_agent"][1]))
    shown = tok.decode(output.response_ids, skip_special_tokens=False)
    assert "Error executing tool 'search': retrieval service" in shown
