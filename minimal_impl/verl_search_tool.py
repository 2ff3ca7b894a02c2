# Chapter 07 notes: learning_notes/07_scaling/README.md#the-search-agent-on-verl
"""Our search tool and Search-R1's tags as verl 0.9.1 plug-ins: a `ToolParser` and a `BaseTool`.

verl's agent loop asks a tool parser (`actor_rollout_ref.rollout.multi_turn.format`) which tool calls a
generated turn holds, and runs each call through a tool class named in the tool-config YAML
(`multi_turn.tool_config_path`, written by `verl_bridge.agent_loop_files`):

    SearchR1ToolParser ("search_r1"): "<search> capital of France </search>" -> search({"query": "capital of France"}),
                                      exactly the action and query `tool_calls.parse_action` reads
    SearchTool:                       search({"query": q}) -> information_block(format_docs(docs)), byte for byte

Importing this module registers the parser; verl's workers import it when they load `SearchTool` (by its
module path, so the repository must be on their PYTHONPATH: the bridge sets it).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Sequence
from typing import Any

from verl.experimental.agent_loop.tool_parser import FunctionCall, ToolParser
from verl.tools.base_tool import BaseTool
from verl.tools.schemas import OpenAIFunctionToolSchema, ToolResponse

from .retrieval import BM25Retriever, RemoteRetriever
from .tool_calls import SEARCH_R1, format_docs, information_block, parse_action
from .verl_bridge import PARSER_NAME, TOOL_NAME


@ToolParser.register(PARSER_NAME)
class SearchR1ToolParser(ToolParser):
    """`<search> q </search>` is a call of the search tool; `<answer>` and anything else are not calls.

    >>> parser.parse(tokenizer.encode("<think> hm </think> <search> capital of France </search>"))
    ('<think> hm </think> <search> capital of France </search>', 'search', 'capital of France')
    """

    protocol = SEARCH_R1

    @property
    def stop_token_ids(self) -> list[int]:
        """The closing tags' ids when each tag is one token (the tiny tokenizer): verl's loops stop there.
        With multi-token tags (Qwen2.5) this is empty and only `SearchR1AgentLoop`'s stop strings stop a turn."""
        ids = [self.tokenizer.encode(tag, add_special_tokens=False) for tag in self.protocol.stop_tags]
        return [one[0] for one in ids] if all(len(one) == 1 for one in ids) else []

    def parse(self, response_ids: Sequence[int]) -> tuple[str, str | None, str]:
        """(text, action, content) of one turn: decoded as our rollout decodes it (special tokens kept),
        parsed by `parse_action` (action "search", "answer" or None)."""
        text = self.tokenizer.decode(list(response_ids), skip_special_tokens=False)
        action, content = parse_action(text, self.protocol)
        return text, action, content

    async def extract_tool_calls(
        self, responses_ids: list[int], tools: list[OpenAIFunctionToolSchema] | None = None
    ) -> tuple[str, list[FunctionCall]]:
        """verl's parser interface: (the turn's text, [search call] or [])."""
        text, action, content = self.parse(responses_ids)
        if action != "search":
            return text, []
        arguments = json.dumps({"query": content}, ensure_ascii=False)  # verl json.loads it back
        return text, [FunctionCall(name=TOOL_NAME, arguments=arguments)]


@functools.lru_cache(maxsize=4)
def _retriever(retriever_url: str, corpus_path: str) -> BM25Retriever | RemoteRetriever:
    """One retriever per process and setting: a BM25 index is built once, not once per trajectory."""
    if retriever_url:
        return RemoteRetriever(retriever_url)
    if not corpus_path:
        raise ValueError("SearchTool: set retriever_url (a retrieval service) or corpus_path (a JSONL corpus)")
    return BM25Retriever.from_jsonl(corpus_path)


class SearchTool(BaseTool):
    """The search tool our trainer calls, behind verl's `BaseTool` interface.

    Tool config (`config:` in the YAML): `retriever_url` (the HTTP service of chapter 05) or `corpus_path`
    (in-process BM25 over a JSONL corpus), and `topk`. `execute` answers with our information block:

    >>> await tool.execute(instance_id, {"query": "capital of France"})
    (ToolResponse(text='\\n\\n<information>Doc 1(Title: Paris) Paris is ...\\n</information>\\n\\n'), 0.0, {...})
    """

    def __init__(self, config: dict, tool_schema: OpenAIFunctionToolSchema | None) -> None:
        if tool_schema is None:
            raise ValueError("SearchTool needs its tool_schema in the tool config (verl_bridge.tool_schema)")
        super().__init__(config, tool_schema)
        if self.name != TOOL_NAME:
            raise ValueError(f"SearchTool: the schema names the function {self.name!r}; the parser calls {TOOL_NAME!r}")
        topk = config.get("topk", 3)
        if isinstance(topk, bool) or not isinstance(topk, int) or topk < 1:
            raise ValueError(f"SearchTool: topk must be an int >= 1, got {topk!r}")
        self.topk = topk
        self.retriever_url = config.get("retriever_url") or ""
        self.corpus_path = config.get("corpus_path") or ""
        _retriever(self.retriever_url, self.corpus_path)  # fail at start-up, not at the first search

    def search(self, query: str) -> list[dict]:
        """The documents of one query, as `Task.search_batch` returns them for a batch of one."""
        return _retriever(self.retriever_url, self.corpus_path).search([query], topk=self.topk, return_scores=True)[0]

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[ToolResponse, float, dict]:
        """Search, and answer with `information_block(format_docs(docs))`; reward 0 (the reward is the answer's)."""
        query = parameters.get("query") if isinstance(parameters, dict) else None
        if not isinstance(query, str):
            raise ValueError(f'search: expected {{"query": <string>}}, got {parameters!r:.120}')
        docs = await asyncio.to_thread(self.search, query)  # BM25 or HTTP: keep the event loop free
        return ToolResponse(text=information_block(format_docs(docs, SEARCH_R1), SEARCH_R1)), 0.0, {"docs": len(docs)}
