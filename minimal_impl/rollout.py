# Chapter 06 notes: learning_notes/06_training_engineering/README.md#one-step-walked-through
"""Phase 1 of a step: generate every episode of a batch, turn by turn, with tool calls in between.

A *backend* turns a batch of token contexts into one sampled turn each (`RolloutBackend.generate`);
`rollout_batch` runs the multi-turn loop of chapter 05 over a whole batch at once: every episode that is
still going generates its next turn in the same `generate` call, the searches of that turn go to the
retriever as one batch, and the observations are appended with loss mask 0. The episode logic is
`tool_calls.py`'s (cut at the first closing tag, parse, execute, budgets), so a batch of episodes is the
same as the episodes run one by one (a test checks it).

The Hugging Face backend (`HFRollout`) uses `model.generate` with a KV cache, left padding, and stops at
EOS or at the closing tags: as token ids when each tag is one token, as stop strings otherwise.
`rollout_vllm.py` implements the same protocol on vLLM (chapter 07). The protocol declares every hook
the trainer calls: `generate`, `release_memory()` before the update, `sync_weights(policy)` after it
(no-ops for the Hugging Face backend, which samples from the policy's own weights).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Protocol

import torch

from . import tool_calls
from .episode import Trajectory, cut_turn_ids, record_turn, take_action
from .tool_calls import SEARCH_R1, ToolProtocol


class RolloutBackend(Protocol):
    """Anything that samples one turn for each of a batch of contexts; the trainer calls these three hooks."""

    def generate(self, contexts: list[list[int]], max_new_tokens: int, greedy: bool = False) -> list[list[int]]:
        """New token ids for each context (they may run past a stop tag; the caller cuts)."""
        ...

    def generate_with_logprobs(
        self, contexts: list[list[int]], max_new_tokens: int
    ) -> tuple[list[list[int]], list[list[float]]]:
        """Sampled ids and the sampler's log-prob of each (rollout correction, chapter 08)."""
        ...

    def release_memory(self) -> None:
        """Free the rollout's memory (a KV cache) before the update needs it; called after phase 1."""
        ...

    def sync_weights(self, policy: torch.nn.Module) -> None:
        """Copy the updated policy's weights into the sampler; called after phase 6."""
        ...


class HFRollout:
    """Batched sampling with Hugging Face `generate` (KV cache, left padding, stop tokens or strings)."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: object,
        protocol: ToolProtocol | None = SEARCH_R1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_batch: int = 256,
        amp: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    ) -> None:
        """Args:
        model: a causal LM (`AutoModelForCausalLM`).
        tokenizer: its tokenizer (pad id, and stop strings when tags span several tokens).
        protocol: the tool tags to stop at; None stops at EOS only (single-turn tasks such as GSM8K).
        temperature, top_p: sampling parameters (greedy ignores them).
        max_batch: contexts per `generate` call (bigger batches are split).
        amp: a context factory for mixed precision (the trainer's bf16 autocast on a GPU).
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0 (use greedy=True for argmax decoding), got {temperature}")
        self.model, self.tokenizer = model, tokenizer
        self.temperature, self.top_p, self.max_batch = temperature, top_p, max_batch
        self.eos_ids = eos_token_ids(model, tokenizer)
        self.stop_ids, self.stop_strings = list(self.eos_ids), None
        if protocol is not None:
            tag_ids = [tokenizer.encode(tag, add_special_tokens=False) for tag in protocol.stop_tags]
            if all(len(ids) == 1 for ids in tag_ids):
                self.stop_ids += [ids[0] for ids in tag_ids]  # exact and cheap: a tag is one sampled id
            else:
                self.stop_strings = list(protocol.stop_tags)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_ids[0]
        self.amp = amp
        # Qwen2.5 pads its embedding matrix beyond the tokenizer (151936 rows, 151665 tokens): ids past the
        # tokenizer's vocabulary decode to nothing, so they are never sampled
        vocab = len(tokenizer)
        self.logits_processor = [OnlyTokenizerVocab(vocab)] if model.config.vocab_size > vocab else []

    def release_memory(self) -> None:
        """Nothing to free: `generate`'s KV cache is released when it returns."""

    def sync_weights(self, policy: torch.nn.Module) -> None:
        """Nothing to copy: this backend samples from the policy module itself."""

    @torch.no_grad()
    def generate(self, contexts: list[list[int]], max_new_tokens: int, greedy: bool = False) -> list[list[int]]:
        out: list[list[int]] = []
        for start in range(0, len(contexts), self.max_batch):
            out += self._generate(contexts[start : start + self.max_batch], max_new_tokens, greedy)[0]
        return out

    @torch.no_grad()
    def generate_with_logprobs(
        self, contexts: list[list[int]], max_new_tokens: int
    ) -> tuple[list[list[int]], list[list[float]]]:
        """Sampled ids and log pi_rollout of each, recorded while sampling (`SampledLogprobs`)."""
        ids: list[list[int]] = []
        logprobs: list[list[float]] = []
        for start in range(0, len(contexts), self.max_batch):
            more_ids, more_lp = self._generate(contexts[start : start + self.max_batch], max_new_tokens, False, True)
            ids, logprobs = ids + more_ids, logprobs + more_lp
        return ids, logprobs

    def _generate(
        self, contexts: list[list[int]], max_new_tokens: int, greedy: bool, record: bool = False
    ) -> tuple[list[list[int]], list[list[float]]]:
        device = next(self.model.parameters()).device
        width = max(len(c) for c in contexts)
        input_ids = torch.full((len(contexts), width), self.pad_id, dtype=torch.long)  # [B, L] left-padded
        attention_mask = torch.zeros(len(contexts), width, dtype=torch.long)  # [B, L]
        for row, context in enumerate(contexts):
            input_ids[row, width - len(context) :] = torch.tensor(context)
            attention_mask[row, width - len(context) :] = 1
        kwargs = (
            {"do_sample": False}
            if greedy
            else {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p}
        )
        if self.stop_strings:
            kwargs.update(stop_strings=self.stop_strings, tokenizer=self.tokenizer)
        recorder = SampledLogprobs(self.temperature) if record else None
        was_training = self.model.training
        self.model.eval()
        try:
            with self.amp():
                sequences = self.model.generate(
                    input_ids=input_ids.to(device),
                    attention_mask=attention_mask.to(device),
                    max_new_tokens=max_new_tokens,
                    eos_token_id=self.stop_ids,
                    pad_token_id=self.pad_id,
                    top_k=None,
                    logits_processor=self.logits_processor + ([recorder] if recorder else []),
                    **kwargs,
                )
        finally:
            self.model.train(was_training)
        new = sequences[:, width:].tolist()  # [B, new]
        stops = set(self.stop_ids)
        # after a row stops, generate pads it: keep up to and including its first stop id
        ids = [row[: next((i + 1 for i, t in enumerate(row) if t in stops), len(row))] for row in new]
        if recorder is None:
            return ids, []
        logprobs = recorder.finish(sequences[:, -1]).tolist()  # [B, new]
        return ids, [lp[: len(row)] for lp, row in zip(logprobs, ids)]


class SampledLogprobs:
    """A logits processor that records log pi_rollout(x_t) of every sampled token while `generate` runs.

    `generate` applies custom processors before its temperature and top-p warpers, and a processor never
    sees the token drawn from its scores; at the next step that token is `input_ids[:, -1]`. So each call
    keeps log softmax(scores / temperature) `[B, V]` and reads off the previous step's token: one
    vocabulary-sized buffer instead of `output_scores`' one per step. With top_p < 1 the true sampling
    distribution is truncated; this records the untruncated log-prob, as the trainer recomputes it.
    """

    def __init__(self, temperature: float) -> None:
        self.temperature, self.previous, self.steps = temperature, None, []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.previous is not None:  # the token sampled from the previous step's scores
            self.steps.append(self.previous.gather(-1, input_ids[:, -1:]).squeeze(-1))  # [B]
        self.previous = torch.log_softmax(scores.float() / self.temperature, dim=-1)  # [B, V]
        return scores

    def finish(self, last_tokens: torch.Tensor) -> torch.Tensor:
        """`[B, new]` log-probs, given the tokens sampled at the last step."""
        self.steps.append(self.previous.gather(-1, last_tokens.unsqueeze(-1)).squeeze(-1))
        return torch.stack(self.steps, dim=1).cpu()


class OnlyTokenizerVocab:
    """A logits processor that forbids ids beyond the tokenizer's vocabulary (padding rows of the embedding)."""

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores[:, self.vocab_size :] = -float("inf")  # [B, V]
        return scores


def eos_token_ids(model: torch.nn.Module, tokenizer: object) -> list[int]:
    """The ids that end a turn: the generation config's EOS list (Qwen2.5-Instruct: <|im_end|>, <|endoftext|>)."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = configured if isinstance(configured, list) else [configured] if configured is not None else []
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    if not ids:
        raise ValueError("neither the model's generation config nor the tokenizer defines an EOS token")
    return [int(i) for i in ids]


def rollout_batch(
    backend: RolloutBackend,
    prompts: Sequence[Sequence[int]],
    *,
    tokenizer: object,
    eos_ids: Sequence[int],
    max_new_tokens: int,
    protocol: ToolProtocol | None = SEARCH_R1,
    search_batch: Callable[[list[str]], list[list[dict]]] | None = None,
    max_turns: int = 2,
    max_obs_tokens: int = 500,
    greedy: bool = False,
    tools: ModuleType = tool_calls,
    record_logprobs: bool = False,
) -> list[Trajectory]:
    """Run one episode per prompt, every turn batched across the episodes still going.

    Args:
        backend: samples one turn per context.
        prompts: chat-formatted prompt ids, one per episode (repeat a prompt n times for a GRPO group).
        tokenizer: encodes observations, decodes turns.
        eos_ids: ids that end a turn (kept, and trained on).
        max_new_tokens: tokens per turn.
        protocol: the tool protocol; None is a single-turn task (one turn, no tags, no tools).
        search_batch: `queries -> documents per query`; required when `protocol` is given.
        max_turns: turns whose actions are executed (then one last turn whose search is not).
        max_obs_tokens: tokens per observation (longer ones keep their head).
        greedy: argmax decoding (evaluation).
        tools: the module with the tool-call exercises (`minimal_impl.tool_calls` or a learner's).
        record_logprobs: keep the sampler's log-prob of every kept token (`Trajectory.turn_logprobs`).

    Returns:
        One `Trajectory` per prompt, in order, as `episode.run_agent_episode` would build it;
        `finish_reason` is answer, eos or max_turns (and for single-turn tasks eos or length).
    """
    if protocol is not None and search_batch is None:
        raise ValueError("rollout_batch: a tool protocol needs a search_batch function")
    eos = set(eos_ids)
    trajs = [Trajectory(prompt_ids=list(p)) for p in prompts]
    contexts = [list(p) for p in prompts]

    def sample(batch: list[list[int]]) -> list[tuple[list[int], list[float] | None]]:
        if not record_logprobs:
            return [(ids, None) for ids in backend.generate(batch, max_new_tokens, greedy)]
        return list(zip(*backend.generate_with_logprobs(batch, max_new_tokens)))

    if protocol is None:  # single turn: keep up to the first EOS
        for traj, (ids, logprobs) in zip(trajs, sample(contexts)):
            kept = ids[: next((k + 1 for k, t in enumerate(ids) if t in eos), len(ids))]
            if logprobs is not None:
                traj.turn_logprobs.append(list(logprobs[: len(kept)]))
            traj.segments.append((kept, True))
            traj.turn_texts.append(tokenizer.decode(kept, skip_special_tokens=False))
            traj.actions.append(None)
            traj.finish_reason = "eos" if kept and kept[-1] in eos else "length"
        return trajs

    active = list(range(len(prompts)))
    for turn in range(max_turns + 1):
        if not active:
            break
        last = turn == max_turns  # the final turn: actions are parsed, searches not executed
        parsed: dict[int, tuple[str | None, str, str]] = {}
        for i, (ids, logprobs) in zip(active, sample([contexts[i] for i in active])):
            kept, reason = cut_turn_ids(ids, tokenizer, protocol, eos_ids)
            if logprobs is not None:  # the kept ids are a prefix of the sampled ones
                trajs[i].turn_logprobs.append(list(logprobs[: len(kept)]))
            contexts[i] += kept
            parsed[i] = (*record_turn(trajs[i], kept, tokenizer=tokenizer, protocol=protocol, tools=tools), reason)
        # every search of this turn goes to the retriever in one batch
        searches = [i for i in active if parsed[i][0] == "search" and not last]
        found = dict(zip(searches, search_batch([parsed[i][1] for i in searches]))) if searches else {}
        still_active = []
        for i in active:
            action, content, reason = parsed[i]
            obs_ids = take_action(
                trajs[i],
                action,
                content,
                reason=reason,
                docs=found.get(i),
                tokenizer=tokenizer,
                protocol=protocol,
                last=last,
                max_obs_tokens=max_obs_tokens,
                tools=tools,
            )
            if obs_ids is not None:
                contexts[i] += obs_ids
                still_active.append(i)
        active = still_active
    return trajs
