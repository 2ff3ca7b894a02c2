# Chapter 02 notes: learning_notes/02_data/README.md#a-tiny-local-model
"""A small byte-level BPE tokenizer, trained offline in a second, that loads like any Hugging Face one.

Real runs use the tokenizer of a pretrained model (Qwen2.5). For tests, notebooks and the tiny CPU
model we want the same code path (`save_pretrained` / `AutoTokenizer.from_pretrained`, a chat
template, special tokens) without downloading anything, so we train one on a handful of sentences.

Layout of the vocabulary (ids are stable because training is deterministic):
  - ids 0..2: the chat tokens `<|endoftext|>` (eos and pad), `<|im_start|>`, `<|im_end|>`;
  - then the 256 byte symbols and the learned merges;
  - last, the tool tags (`<think>`, `</think>`, `<search>`, ...), one token each.

The tool tags are *added* tokens: the BPE never splits them, so `</search>` is one id and a rollout can
stop on it exactly. Like Qwen's `<tool_call>`, they are not marked "special", so decoding keeps them
even with `skip_special_tokens=True` (Search-R1 decodes that way and would otherwise lose its tags).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

if TYPE_CHECKING:  # transformers is imported only where a Hugging Face tokenizer is built or loaded
    from transformers import PreTrainedTokenizerFast

EOS_TOKEN = "<|endoftext|>"
CHAT_TOKENS = (EOS_TOKEN, "<|im_start|>", "<|im_end|>")
TOOL_TAGS = ("<think>", "</think>", "<search>", "</search>", "<information>", "</information>", "<answer>", "</answer>")

# Qwen-style ChatML without Qwen's default system message:
#   <|im_start|>user\nWhat is ...?<|im_end|>\n<|im_start|>assistant\n
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

DEMO_TEXTS = (
    "The capital of France is Paris. Paris is the largest city of France.",
    "The capital of China is Beijing. Beijing hosted the 2008 Summer Olympics.",
    "The capital of Japan is Tokyo. Tokyo is on the island of Honshu.",
    "The capital of Italy is Rome. Rome is known for the Colosseum.",
    "The Eiffel Tower is in Paris. It was completed in 1889.",
    "Mount Everest is the highest mountain on Earth, on the border of Nepal and China.",
    "The Nile is a river in Africa. It flows north into the Mediterranean Sea.",
    "Who wrote Hamlet? William Shakespeare wrote Hamlet around 1600.",
    "The user asks a question and the assistant answers it. The assistant may search first.",
    "Think inside <think> and </think>. To look something up, write <search> your query </search>; the "
    "results come back between <information> and </information>. Give the final answer inside <answer> and "
    "</answer>, for example <answer> Beijing </answer>. Question: What is the capital of France?",
    "<think> I need to find the capital of France. </think>\n<search> capital of France </search>",
    "\n\n<information>Doc 1(Title: Paris) Paris is the capital of France.\n</information>\n\n",
    "<think> The documents say Paris. </think>\n<answer> Paris </answer>",
    "My previous action is invalid. If I want to search, I should put the query between <search> and "
    "</search>. If I want to give the final answer, I should put the answer between <answer> and </answer>. "
    "Let me try again.",
)


def train_bpe(
    texts: Iterable[str],
    vocab_size: int = 2000,
    special_tokens: Sequence[str] = TOOL_TAGS,
    min_frequency: int = 2,
) -> Tokenizer:
    """Train the byte-level BPE itself (a `tokenizers.Tokenizer`, no transformers involved).

    Training is deterministic: the same texts and arguments give the same vocabulary and merges.

    Args:
        texts: training sentences (any iterable; read once).
        vocab_size: upper bound on the vocabulary, including the 256 bytes, the chat tokens and the tags
            (a small corpus may stop merging earlier).
        special_tokens: tags added as single, never-split tokens after the BPE vocabulary
            (default: the tool tags). Decoding returns their text.
        min_frequency: a pair must occur this often to be merged.

    Returns:
        The trained tokenizer: chat tokens at ids 0..2, bytes and merges, then the tags.
    """
    texts = list(texts)
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("build_tokenizer: texts must be strings")
    if not texts:
        raise ValueError("build_tokenizer: need at least one training text")
    tags = list(dict.fromkeys(special_tokens))  # de-duplicated, order kept
    clash = set(tags) & set(CHAT_TOKENS)
    if clash:
        raise ValueError(f"build_tokenizer: {sorted(clash)} are chat tokens already; pass only extra tags")
    if any(not isinstance(t, str) or not t for t in tags):
        raise ValueError("build_tokenizer: special tokens must be non-empty strings")
    min_size = 256 + len(CHAT_TOKENS) + len(tags)
    if vocab_size < min_size:
        raise ValueError(f"build_tokenizer: vocab_size={vocab_size} is below the {min_size} bytes and tokens")

    tok = Tokenizer(models.BPE())
    # GPT-2 style: split on the GPT-2 regex, then map bytes to printable symbols (space -> "Ġ")
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(tags),  # the tags are added after training
        min_frequency=min_frequency,
        special_tokens=list(CHAT_TOKENS),  # ids 0, 1, 2
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte has a symbol: no unknown token
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in tags])
    return tok


def build_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 2000,
    special_tokens: Sequence[str] = TOOL_TAGS,
    min_frequency: int = 2,
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `texts` and wrap it as a Hugging Face fast tokenizer.

    Training is deterministic: the same texts and arguments give the same vocabulary and merges.

    Args:
        texts: training sentences (any iterable; read once).
        vocab_size: upper bound on the vocabulary, including the 256 bytes and the added tokens
            (a small corpus may stop merging earlier).
        special_tokens: tags added as single, never-split tokens after the BPE vocabulary
            (default: the tool tags). Decoding returns their text.
        min_frequency: a pair must occur this often to be merged.

    Returns:
        A `PreTrainedTokenizerFast` with eos = pad = `<|endoftext|>`, the chat tokens, the tags and a
        ChatML chat template; `save_pretrained(dir)` then `AutoTokenizer.from_pretrained(dir)` round-trips.
    """
    from transformers import PreTrainedTokenizerFast

    tok = train_bpe(texts, vocab_size=vocab_size, special_tokens=special_tokens, min_frequency=min_frequency)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS_TOKEN, pad_token=EOS_TOKEN)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_and_save(path: str | Path, texts: Iterable[str] = DEMO_TEXTS, vocab_size: int = 2000) -> Path:
    """Build a tokenizer on `texts` (the demo sentences by default) and `save_pretrained` it to `path`.

    Args:
        path: output directory (created if missing).
        texts: training sentences.
        vocab_size: see `build_tokenizer`.

    Returns:
        The directory, ready for `AutoTokenizer.from_pretrained(path)`.
    """
    path = Path(path)
    build_tokenizer(texts, vocab_size=vocab_size).save_pretrained(str(path))
    return path


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """`AutoTokenizer.from_pretrained(path)`: the code path a real checkpoint goes through.

    Args:
        path: a directory written by `save_pretrained`.

    Returns:
        The loaded tokenizer.
    """
    from transformers import AutoTokenizer

    if not Path(path).is_dir():
        raise FileNotFoundError(f"no tokenizer directory at {path}")
    return AutoTokenizer.from_pretrained(str(path))
