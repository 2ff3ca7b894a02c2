# Chapter 07 notes: learning_notes/07_scaling/README.md#the-search-agent-on-verl
"""Search-R1's episode on verl 0.9.1's agent loop: the sequence and loss mask our trainer builds, token for token.

verl's `ToolAgentLoop` ("tool_agent") is a chat agent. `SearchR1AgentLoop` ("search_r1_agent") keeps its
machinery (the state machine, the LLM server client, the tool registry, our parser, and after the loop
verl's padding, position ids and streamed reward) and changes what makes an episode ours
(`episode.run_agent_episode`):

  1. the prompt is the chat template without tool schemas (our prompt explains the tags itself);
  2. a turn stops at the first closing tag: `stop` strings go to vLLM / SGLang, and `cut_turn_ids` cuts the
     returned ids (so a backend that ignores them changes nothing); at most `max_new_tokens` per turn;
  3. an observation (the information block, or the invalid-action message) is appended as its own tokens,
     with no chat-template turn around it, and cut to `max_obs_tokens` keeping the head;
  4. an invalid turn gets the invalid-action message and the episode goes on (stock: the episode ends).

verl's `response_mask` is then our loss mask (1 on sampled ids, 0 on observations). The texts our reward
reads go to verl's reward hook in `extra_fields["search_r1_episode"]` (verl_reward.py uses them).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from verl.experimental.agent_loop.tool_agent_loop import AgentData, AgentState, ToolAgentLoop
from verl.utils.profiler import simple_timer

from .episode import cut_turn_ids
from .tool_calls import SEARCH_R1, truncate_observation
from .verl_bridge import EPISODE_KEY, PARSER_NAME, TOOL_NAME
from .verl_search_tool import SearchR1ToolParser


@functools.lru_cache(maxsize=8)
def _generation_eos(model_path: str) -> tuple[int, ...]:
    """The EOS ids of the model's generation config (vLLM stops on them too)."""
    from verl.utils.fs import copy_to_local
    from verl.utils.model import get_generation_config

    eos = getattr(get_generation_config(copy_to_local(model_path)), "eos_token_id", None)
    return tuple(eos) if isinstance(eos, (list, tuple)) else () if eos is None else (eos,)


def eos_ids(model_path: str, tokenizer: Any) -> set[int]:
    """Ids that end a turn, as our trainer's `rollout.eos_token_ids`: the generation config's list (Qwen2.5-
    Instruct: <|im_end|>, <|endoftext|>) plus the tokenizer's EOS."""
    ids = set(_generation_eos(str(model_path)))
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    if not ids:
        raise ValueError(f"neither the generation config of {model_path} nor its tokenizer defines an EOS token")
    return ids


class SearchR1AgentLoop(ToolAgentLoop):
    """Our episode on verl's loop; the agent-loop YAML names it and passes the keyword arguments.

    Args (besides verl's):
        max_new_tokens: tokens per turn (ours: `max_new_tokens`).
        max_obs_tokens: tokens per observation, head kept (ours: `max_obs_tokens`).
        close_truncated_observations: a cut information block still ends with `</information>\\n\\n`
            (ours: the `close_truncated_observations` of `run_agent_episode`; the trainer and Search-R1: False).

    Turns come from verl's settings: `multi_turn.max_assistant_turns` = our `max_turns` + 1 (the last turn's
    search is parsed but not run), `multi_turn.max_user_turns` = `max_turns`.
    """

    def __init__(
        self,
        *args: Any,
        max_new_tokens: int,
        max_obs_tokens: int,
        close_truncated_observations: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for name, value, low in (("max_new_tokens", max_new_tokens, 1), ("max_obs_tokens", max_obs_tokens, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"SearchR1AgentLoop: {name} must be an int >= {low}, got {value!r}")
        if not isinstance(self.tool_parser, SearchR1ToolParser):
            raise ValueError(f"SearchR1AgentLoop needs multi_turn.format={PARSER_NAME}, got {self.tool_parser_name!r}")
        if TOOL_NAME not in self.tools:
            raise ValueError(f"SearchR1AgentLoop needs a tool named {TOOL_NAME!r} in multi_turn.tool_config_path")
        if not self.max_assistant_turns:
            raise ValueError(
                "SearchR1AgentLoop needs multi_turn.max_assistant_turns = max_turns + 1 (null is unlimited)"
            )
        self.protocol = SEARCH_R1
        self.max_new_tokens, self.max_obs_tokens = max_new_tokens, max_obs_tokens
        self.eos_ids = eos_ids(self.config.actor_rollout_ref.model.path, self.tokenizer)
        suffix = self.tokenizer.encode(self.protocol.information_suffix, add_special_tokens=False)
        self.suffix_ids = suffix if close_truncated_observations else []

    async def _handle_pending_state(self, agent_data: AgentData, sampling_params: dict[str, Any]) -> AgentState:
        """The prompt as our trainer renders it: the chat template with no tool schemas."""
        agent_data.prompt_ids = await self.ct_build_initial_tokens(agent_data.messages, tools=None)
        agent_data.search_r1 = {"turn_texts": [], "actions": [], "search_queries": [], "answer": None}
        agent_data.search_r1.update(finish_reason="", num_invalid_actions=0, num_truncated_observations=0)
        return AgentState.GENERATING

    async def _handle_generating_state(
        self, agent_data: AgentData, sampling_params: dict[str, Any], ignore_termination: bool = False
    ) -> AgentState:
        """One turn: sample, cut at the first closing tag, then the decision of `episode.take_action`."""
        room = self.response_length - len(agent_data.response_mask)
        params = {**sampling_params, "max_tokens": max(1, min(self.max_new_tokens, room))}
        params["stop"] = list(self.protocol.stop_tags)  # vLLM / SGLang stop strings; the ids are cut below anyway
        if self.tool_parser.stop_token_ids:
            params["stop_token_ids"] = sorted(
                set(params.get("stop_token_ids") or []) | set(self.tool_parser.stop_token_ids)
            )
        with simple_timer("generate_sequences", agent_data.metrics):
            output = await self.server_manager.generate(
                request_id=agent_data.request_id, prompt_ids=agent_data.prompt_ids, sampling_params=params
            )
        _merge_server_fields(agent_data, output)
        kept, reason = cut_turn_ids(output.token_ids, self.tokenizer, self.protocol, self.eos_ids)
        await self._append_turn(agent_data, kept, output.log_probs)

        episode = agent_data.search_r1
        text, action, content = self.tool_parser.parse(kept)
        episode["turn_texts"].append(text)
        episode["actions"].append(action)
        if action is None and reason == "eos":  # the model stopped without an action: the episode ends
            return self._finish(agent_data, "eos")
        if action is None:
            episode["num_invalid_actions"] += 1
        if action == "answer":
            episode["answer"] = content
            return self._finish(agent_data, "answer")
        last = agent_data.assistant_turns >= self.max_assistant_turns or (
            self.max_user_turns and agent_data.user_turns >= self.max_user_turns
        )
        if last:  # the final turn: its search is parsed, not run
            return self._finish(agent_data, "max_turns")
        if len(agent_data.response_mask) >= self.response_length:  # verl's episode budget (the bridge's never binds)
            return self._finish(agent_data, "length")
        if action == "search":
            _, agent_data.tool_calls = await self.tool_parser.extract_tool_calls(kept)
            return AgentState.PROCESSING_TOOLS
        return self._observe(agent_data, self.protocol.invalid_action_message, is_search=False)

    async def _handle_processing_tools_state(self, agent_data: AgentData) -> AgentState:
        """Run the turn's search through verl's tool (create, execute, release) and append its block."""
        call = agent_data.tool_calls[0]
        tool = self.tools[call.name]
        arguments = json.loads(call.arguments)
        create_kwargs = agent_data.tools_kwargs.get(call.name, {}).get("create_kwargs", {})
        with simple_timer("tool_calls", agent_data.metrics):
            instance_id, _ = await tool.create(create_kwargs=create_kwargs)
            try:  # a retrieval error stops the run, as in our trainer (stock verl shows it to the model)
                response, reward, _ = await tool.execute(instance_id, arguments, agent_data=agent_data)
            finally:
                await tool.release(instance_id)
        if reward is not None:
            agent_data.tool_rewards.append(reward)
        agent_data.search_r1["search_queries"].append(arguments["query"])
        return self._observe(agent_data, response.text or "", is_search=True)

    async def _append_turn(self, agent_data: AgentData, ids: list[int], log_probs: Sequence[float] | None) -> None:
        """The sampled ids, loss mask 1, through verl's continuous-token merge (a plain append for text models)."""
        agent_data.assistant_turns += 1
        agent_data.response_ids = ids
        turn_logprobs = list(log_probs[: len(ids)]) if log_probs else None  # cut like the ids
        previous = agent_data.response_logprobs if (agent_data.response_logprobs or turn_logprobs) else None
        merged, mask, logprobs = await self.ct_merge_assistant_token(
            agent_data.prompt_ids, ids, agent_data.response_mask, previous, assistant_logprobs=turn_logprobs
        )
        agent_data.prompt_ids, agent_data.response_mask = merged.token_ids, mask
        if logprobs is not None:
            agent_data.response_logprobs = logprobs

    def _observe(self, agent_data: AgentData, text: str, *, is_search: bool) -> AgentState:
        """Append an observation's ids with loss mask 0, cut to max_obs_tokens (head kept), as `take_action`."""
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) > self.max_obs_tokens:
            agent_data.search_r1["num_truncated_observations"] += 1
            ids = truncate_observation(ids, self.max_obs_tokens, self.suffix_ids if is_search else ())
        if len(agent_data.response_mask) + len(ids) >= self.response_length:  # as verl: no room, no observation
            return self._finish(agent_data, "length")
        agent_data.prompt_ids = agent_data.prompt_ids + ids
        agent_data.response_mask = agent_data.response_mask + [0] * len(ids)  # the environment wrote these
        if agent_data.response_logprobs:
            agent_data.response_logprobs = agent_data.response_logprobs + [0.0] * len(ids)
        agent_data.user_turns += 1
        return AgentState.GENERATING

    def _finish(self, agent_data: AgentData, reason: str) -> AgentState:
        """End the episode; leave the texts our rewards read (`Task.score`) for verl's reward hook."""
        episode = agent_data.search_r1
        episode["finish_reason"] = reason
        response_ids = agent_data.prompt_ids[len(agent_data.prompt_ids) - len(agent_data.response_mask) :]
        episode["model_text"] = "".join(episode["turn_texts"])  # em, gsm8k: the model's own text
        episode["full_text"] = self.tokenizer.decode(response_ids, skip_special_tokens=False)  # em_format
        agent_data.extra_fields[EPISODE_KEY] = episode
        return AgentState.TERMINATED


def _merge_server_fields(agent_data: AgentData, output: Any) -> None:
    """Keep the server's bookkeeping as verl's loop does: preemptions summed, the newest weights version."""
    preempted = output.num_preempted
    if "num_preempted" not in agent_data.metrics:
        agent_data.metrics["num_preempted"] = preempted if preempted is not None else -1  # -1: not reported
    else:
        agent_data.metrics["num_preempted"] += preempted or 0
    for key, value in output.extra_fields.items():
        if key not in agent_data.extra_fields or (key == "max_global_steps" and value):
            agent_data.extra_fields[key] = value
