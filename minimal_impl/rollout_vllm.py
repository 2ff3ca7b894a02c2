# Chapter 07 notes: learning_notes/07_scaling/README.md#vllm-as-the-rollout-engine
"""Rollout with vLLM, colocated with the trainer on one GPU: `rollout_backend=vllm`.

Generation is most of a step's time (chapter 07 measures ~70% with Hugging Face `generate`). vLLM's
paged KV cache and continuous batching make it several times faster, at a price the trainer must pay:

  1. The engine holds its *own* copy of the weights. After every update the trainer pushes the new
     policy weights into it (`sync_weights`), or the rollout samples from a stale policy: the
     importance ratio of the PPO loss would then be computed against the wrong old policy.
  2. vLLM reserves `gpu_memory_utilization` of the *whole* GPU for weights plus KV cache at start-up.
     During the update that memory is idle, so the engine is put to sleep (`release_memory`: KV cache
     dropped, weights offloaded to CPU) and woken before the next rollout.
  3. vLLM stops at stop strings but only cuts the *text*: the token ids run to the end of the token that
     completed the string; the caller re-cuts every turn at the first closing tag with
     `episode.cut_turn_ids`, as for any backend.
  4. Its sampler is not torch's: the same seed gives other samples than the HF backend, and the log-probs
     the trainer recomputes in phase 3 differ slightly from the sampler's (bf16 kernels). The trainer
     always recomputes them, so the loss never uses vLLM's numbers.

Targets vLLM 0.30-0.31 (V1 engine, in-process: VLLM_ENABLE_V1_MULTIPROCESSING=0, so that the model can
be reached from Python). Install with `pip install 'vllm>=0.30,<0.32'` on a CUDA machine (it pins the
torch the project uses). The CPU test suite only checks the fallback: without vLLM or a GPU the trainer
says why and uses HF generate.
"""

from __future__ import annotations

import os
import random
from importlib import metadata

import numpy as np
import torch

from .rollout import eos_token_ids
from .tool_calls import ToolProtocol

SUPPORTED = ((0, 30), (0, 32))  # [low, high) of the vLLM versions this backend is written for
MAX_BIASED_IDS = 1024  # vLLM's Model Runner V2 takes at most this many logit_bias (or allowed) ids


def vllm_unavailable_reason() -> str | None:
    """None when vLLM can run here, else a sentence saying why not (no GPU, not installed, other version)."""
    if not torch.cuda.is_available():
        return "no CUDA device"
    try:
        version = metadata.version("vllm")
    except metadata.PackageNotFoundError:
        return "vllm is not installed (pip install 'vllm>=0.30,<0.32')"
    major_minor = tuple(int(x) for x in version.split(".")[:2] if x.isdigit())
    if not SUPPORTED[0] <= major_minor < SUPPORTED[1]:
        return f"vllm {version} is installed; this backend is written for 0.30 and 0.31"
    return None


class VLLMRollout:
    """The `RolloutBackend` of `rollout.py` on a vLLM engine that shares the GPU with the trainer."""

    def __init__(
        self, policy: torch.nn.Module, tokenizer: object, protocol: ToolProtocol | None, config: object
    ) -> None:
        # forced, not defaulted: sync_weights hands tensors to a Python callable, which needs the engine here
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        from vllm import LLM

        self.tokenizer, self.protocol, self.config = tokenizer, protocol, config
        self.stop_ids = eos_token_ids(policy, tokenizer)
        # vLLM's logits keep the embedding's padding rows (Qwen2.5: 151936 rows, 151665 tokens), which the HF
        # backend masks. allowed_token_ids would list every real id (Model Runner V2 refuses over 1024), so
        # the few padding ids get a -inf bias instead
        padding = range(len(tokenizer), policy.config.vocab_size)
        if len(padding) > MAX_BIASED_IDS:
            raise ValueError(f"{len(padding)} padding rows in the embedding: vLLM can mask at most {MAX_BIASED_IDS}")
        self.no_padding = {i: float("-inf") for i in padding} or None
        # in-process, vLLM seeds the global RNGs (random, numpy, torch, CUDA) with `seed`, twice during
        # start-up: keep the trainer's streams (resume must stay exact)
        saved = random.getstate(), np.random.get_state(), torch.get_rng_state(), torch.cuda.get_rng_state_all()
        self.llm = LLM(
            model=str(config.model_path),
            dtype="bfloat16",
            gpu_memory_utilization=config.vllm_gpu_memory_utilization,
            enable_sleep_mode=True,  # lets release_memory() give the KV cache back during the update
            enforce_eager=True,  # no torch.compile, no CUDA graphs: start-up in seconds, not minutes
            seed=config.seed,
            max_model_len=config.max_prompt_length + config.max_response_tokens,
        )  # fmt: skip
        random.setstate(saved[0]), np.random.set_state(saved[1])
        torch.set_rng_state(saved[2]), torch.cuda.set_rng_state_all(saved[3])
        self.sleeping = False
        self.sync_weights(policy)  # a resumed run's policy is not the checkpoint on disk vLLM loaded

    def generate(self, contexts: list[list[int]], max_new_tokens: int, greedy: bool = False) -> list[list[int]]:
        return self._generate(contexts, max_new_tokens, greedy, logprobs=False)[0]

    def generate_with_logprobs(
        self, contexts: list[list[int]], max_new_tokens: int
    ) -> tuple[list[list[int]], list[list[float]]]:
        """Sampled ids and the engine's own log-prob of each (chapter 08's rollout-vs-trainer mismatch)."""
        return self._generate(contexts, max_new_tokens, greedy=False, logprobs=True)

    def _generate(
        self, contexts: list[list[int]], max_new_tokens: int, greedy: bool, logprobs: bool
    ) -> tuple[list[list[int]], list[list[float]]]:
        from vllm import SamplingParams

        self._wake()
        params = SamplingParams(
            temperature=0.0 if greedy else self.config.temperature,
            top_p=1.0 if greedy else self.config.top_p,
            max_tokens=max_new_tokens,
            stop=list(self.protocol.stop_tags) if self.protocol else None,
            stop_token_ids=self.stop_ids,
            include_stop_str_in_output=True,  # only the text changes: the token ids keep the tag anyway
            skip_special_tokens=False,  # stop strings are matched on the decoded text: a tag must stay in it
            logit_bias=self.no_padding,
            logprobs=0 if logprobs else None,  # 0: the sampled token's log-prob only
        )
        outputs = self.llm.generate([{"prompt_token_ids": c} for c in contexts], params, use_tqdm=False)
        ids = [list(o.outputs[0].token_ids) for o in outputs]  # in the order of `contexts`
        if not logprobs:
            return ids, []
        # one {token id: Logprob} per position, holding the sampled token (untested here: no GPU, see notes)
        values = [[pos[t].logprob for t, pos in zip(o.outputs[0].token_ids, o.outputs[0].logprobs)] for o in outputs]
        return ids, values

    @torch.no_grad()
    def sync_weights(self, policy: torch.nn.Module) -> None:
        """Copy the policy's current weights into the engine (LoRA adapters merged first)."""
        self._wake(tags=["weights"])  # the KV cache stays asleep: the copy needs no room for it
        merged = hasattr(policy, "merge_adapter")
        if merged:  # peft: W + B A in place, pushed, then undone so training goes on with the adapters
            policy.merge_adapter()
        try:
            model = policy.get_base_model() if merged else policy
            weights = (
                (name.replace(".base_layer", ""), tensor.to(torch.bfloat16))
                for name, tensor in model.state_dict().items()
                if "lora_" not in name  # adapter factors are already inside the merged weights
            )
            # vLLM's model loads Hugging Face names itself (q/k/v into its fused qkv_proj, lm_head skipped
            # when tied to the embedding), copying into its parameters in place
            self.llm.apply_model(lambda vllm_model: vllm_model.load_weights(weights))
        finally:
            if merged:
                policy.unmerge_adapter()
        self.llm.reset_prefix_cache()  # cached prefixes hold keys and values of the old weights
        self._wake(tags=["kv_cache"])

    def release_memory(self) -> None:
        """Before the update: drop the KV cache and offload the weights (sleep level 1)."""
        if not self.sleeping:
            self.llm.sleep(level=1)
            self.sleeping = True

    def _wake(self, tags: list[str] | None = None) -> None:
        # vLLM warns and does nothing when asked to wake what is awake: track it here
        if self.sleeping:
            self.llm.wake_up(tags=tags)
            self.sleeping = tags is not None and "kv_cache" not in tags
