"""Chat examples as token ids and labels for causal language-model training.

Examples are rendered with the tokenizer's chat template; a tokenizer without one gets the plain
transcript the `local` provider prompts with (`role: content` lines, the reply after
`assistant:`), so a model is prompted at inference exactly as it was trained. Labels cover
assistant tokens only, and only assistant messages whose `weight` is not 0.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IGNORE_INDEX = -100

Message = dict[str, Any]


class ExampleError(ValueError):
    """A dataset or a chat template that cannot be turned into training examples."""


@dataclass(frozen=True, slots=True)
class EncodedExample:
    input_ids: list[int]
    labels: list[int]

    @property
    def n_trainable(self) -> int:
        # The first token is never a target: each label is predicted from the tokens before it.
        return sum(label != IGNORE_INDEX for label in self.labels[1:])


def read_examples(path: Path) -> list[list[Message]]:
    """The conversations of a JSONL dataset (blank lines, CRLF and a BOM accepted)."""
    conversations = []
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                messages = json.loads(line)["messages"]
                if not all(isinstance(m["content"], str) and m["role"] for m in messages):
                    raise TypeError
            except (ValueError, KeyError, TypeError) as exc:
                raise ExampleError(f"line {number} of {path.name} is not a chat example") from exc
            conversations.append(messages)
    return conversations


def encode_example(tokenizer: Any, messages: Sequence[Message], max_length: int) -> EncodedExample:
    """Token ids and labels: the ids of trained assistant tokens, IGNORE_INDEX elsewhere.

    Each piece of the conversation is tokenized on its own, so a reply's tokens start where
    generation would start after the prompt.
    """
    if getattr(tokenizer, "chat_template", None):
        pieces = _template_pieces(tokenizer, messages)
        prefix: list[int] = []
    else:
        pieces = _transcript_pieces(messages)
        prefix = list(tokenizer("", add_special_tokens=True)["input_ids"])
    input_ids, labels = prefix, [IGNORE_INDEX] * len(prefix)
    for text, trained in pieces:
        ids = list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []
        input_ids += ids
        labels += ids if trained else [IGNORE_INDEX] * len(ids)
    eos_id, eos_text = tokenizer.eos_token_id, tokenizer.eos_token
    last_reply = pieces[-1] if messages[-1]["role"] == "assistant" else None
    if eos_id is not None and last_reply is not None and eos_text not in last_reply[0]:
        # Without an end-of-text token after the last reply the model never learns to stop.
        input_ids.append(eos_id)
        labels.append(eos_id if last_reply[1] else IGNORE_INDEX)
    return EncodedExample(input_ids[:max_length], labels[:max_length])


def _trained(message: Message) -> bool:
    return bool(message["role"] == "assistant" and message.get("weight", 1) != 0)


def _transcript_pieces(messages: Sequence[Message]) -> list[tuple[str, bool]]:
    pieces: list[tuple[str, bool]] = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            pieces.append((f"{message['role']}: {message['content']}\n", False))
            continue
        ending = "" if index == len(messages) - 1 else "\n"
        pieces.append(("assistant:", False))
        pieces.append((f" {message['content']}{ending}", _trained(message)))
    return pieces


def _template_pieces(tokenizer: Any, messages: Sequence[Message]) -> list[tuple[str, bool]]:
    def render(upto: int, *, prompt: bool) -> str:
        conversation = [{"role": m["role"], "content": m["content"]} for m in messages[:upto]]
        try:
            text: str = tokenizer.apply_chat_template(
                conversation, tokenize=False, add_generation_prompt=prompt
            )
        except Exception as exc:  # templates raise their own errors (jinja's, or exceptions)
            raise ExampleError(f"the chat template refused an example: {exc}") from exc
        return text

    pieces: list[tuple[str, bool]] = []
    done = ""
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt, full = render(index, prompt=True), render(index + 1, prompt=False)
        if not (prompt.startswith(done) and full.startswith(prompt)):
            raise ExampleError("the chat template does not render conversations prefix by prefix")
        pieces += [(prompt[len(done) :], False), (full[len(prompt) :], _trained(message))]
        done = full
    rest = render(len(messages), prompt=False)
    if rest[len(done) :]:
        pieces.append((rest[len(done) :], False))
    return pieces


def encode_file(tokenizer: Any, path: Path, max_length: int) -> list[EncodedExample]:
    """The file's examples that keep at least one trained token after truncation."""
    encoded = (encode_example(tokenizer, m, max_length) for m in read_examples(path))
    return [example for example in encoded if example.n_trainable > 0]
