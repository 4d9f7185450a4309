"""A tiny GPT-2 style checkpoint built on the spot: nothing is downloaded.

The body is randomly initialised; the output head is set so that greedy decoding always picks
the token " hello", which gives the text word boundaries to stream at and never ends early.
"""

from pathlib import Path
from typing import Any

SENTENCES = [
    "hello there, how are you today?",
    "hello hello, the quick brown fox jumps over the lazy dog.",
    "say hello to the model that says hello.",
] * 5
END = "<|endoftext|>"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tiny_checkpoint(directory: Path, *, chat_template: str | None = None) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=[END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(SENTENCES, trainer)
    fast_tokenizer: Any = PreTrainedTokenizerFast  # untyped in some transformers versions
    tokenizer = fast_tokenizer(
        tokenizer_object=bpe, bos_token=END, eos_token=END, unk_token=END, pad_token=END
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    (hello,) = tokenizer(" hello")["input_ids"]

    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=512,
        n_embd=64,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model: Any = GPT2LMHeadModel(config)
    with torch.no_grad():
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.fill_(1.0)
        model.lm_head.weight.zero_()
        model.lm_head.weight[hello].fill_(1.0)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
