"""A tokenizer for synthetic-weight smoke runs: byte-level BPE trained on the shipped example tasks.

Synthetic weights (the architecture with random values, gentrend.models.loading) score at chance; they exist to
exercise the full evaluation path and to time it without downloading anything. Real checkpoints bring their
own tokenizer. This one covers any text (byte-level, no unknown token), has at most 512 entries (so it fits
the tiny architectures' vocabulary) and a Qwen-style chat template with the enable_thinking switch.
"""

from __future__ import annotations

from gentrend.core import paths

VOCAB_SIZE = 400
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
# Qwen3's convention, reduced to what evaluation uses: one turn per message, and with enable_thinking=false an
# empty thinking block opens the assistant turn.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)


def synthetic_tokenizer():
    """A fresh fast tokenizer (transformers PreTrainedTokenizerFast) trained on data/tasks/*.jsonl (milliseconds;
    deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [line for f in sorted(paths.data_file("tasks").glob("*.jsonl")) for line in f.read_text().splitlines()]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=CHAT_TEMPLATE
    )
