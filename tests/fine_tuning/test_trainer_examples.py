"""How examples become token ids and labels: assistant replies only, weight 0 left out."""

from pathlib import Path
from typing import Any

import pytest

from colloquy.fine_tuning.examples import (
    IGNORE_INDEX,
    EncodedExample,
    ExampleError,
    encode_example,
    encode_file,
    read_examples,
)
from tests.fine_tuning.conftest import write_jsonl

END = "<|endoftext|>"
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "Greet people."},
    {"role": "user", "content": "hello"},
    {"role": "assistant", "content": "say hello", "weight": 0},
    {"role": "user", "content": "how are you?"},
    {"role": "assistant", "content": "hello there"},
]


@pytest.fixture(scope="module")
def chat_tokenizer(model_root: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_root / "tiny-chat", local_files_only=True)


@pytest.fixture(scope="module")
def plain_tokenizer(model_root: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_root / "tiny", local_files_only=True)


def trained_text(tokenizer: Any, example: EncodedExample) -> str:
    text: str = tokenizer.decode([label for label in example.labels if label != IGNORE_INDEX])
    return text


def test_chat_template_trains_on_weighted_replies_only(chat_tokenizer: Any) -> None:
    example = encode_example(chat_tokenizer, CONVERSATION, 512)

    assert chat_tokenizer.decode(example.input_ids) == (
        "<|system|>Greet people.\n<|user|>hello\n<|assistant|>say hello\n"
        f"<|user|>how are you?\n<|assistant|>hello there\n{END}"
    )
    assert trained_text(chat_tokenizer, example) == f"hello there\n{END}"
    assert len(example.labels) == len(example.input_ids)


def test_weight_one_is_trained_like_an_unweighted_reply(chat_tokenizer: Any) -> None:
    conversation = [
        dict(message, weight=1) if "weight" in message else message for message in CONVERSATION
    ]

    example = encode_example(chat_tokenizer, conversation, 512)

    assert trained_text(chat_tokenizer, example) == f"say hello\nhello there\n{END}"


def test_labels_are_the_input_ids_where_trained(chat_tokenizer: Any) -> None:
    example = encode_example(chat_tokenizer, CONVERSATION, 512)

    trained = [i for i, label in enumerate(example.labels) if label != IGNORE_INDEX]
    assert trained
    assert all(example.labels[i] == example.input_ids[i] for i in trained)
    assert trained == list(range(trained[0], len(example.input_ids)))


def test_without_a_template_uses_the_local_providers_transcript(plain_tokenizer: Any) -> None:
    example = encode_example(plain_tokenizer, CONVERSATION, 512)

    assert plain_tokenizer.decode(example.input_ids) == (
        "system: Greet people.\nuser: hello\nassistant: say hello\n"
        f"user: how are you?\nassistant: hello there{END}"
    )
    assert trained_text(plain_tokenizer, example) == f" hello there{END}"
    # The provider prompts with the transcript up to "assistant:"; training saw those tokens.
    prompt = (
        "system: Greet people.\nuser: hello\nassistant: say hello\nuser: how are you?\nassistant:"
    )
    prompt_ids = plain_tokenizer(prompt)["input_ids"]
    assert example.input_ids[: len(prompt_ids)] == prompt_ids


def test_a_conversation_ending_with_the_user_gets_no_end_token(chat_tokenizer: Any) -> None:
    conversation = [*CONVERSATION, {"role": "user", "content": "bye"}]

    example = encode_example(chat_tokenizer, conversation, 512)

    assert chat_tokenizer.decode(example.input_ids).endswith("<|user|>bye\n")
    assert trained_text(chat_tokenizer, example) == "hello there\n"


def test_truncates_to_the_maximum_length(chat_tokenizer: Any) -> None:
    full = encode_example(chat_tokenizer, CONVERSATION, 512)

    example = encode_example(chat_tokenizer, CONVERSATION, 16)

    assert len(full.input_ids) > 16
    assert example.input_ids == full.input_ids[:16]
    assert example.labels == full.labels[:16]


def test_drops_examples_left_with_nothing_to_train(chat_tokenizer: Any, tmp_path: Path) -> None:
    long_question = " ".join(["the quick brown fox"] * 20)
    path = write_jsonl(
        tmp_path / "train.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": long_question},
                    {"role": "assistant", "content": "hello"},
                ]
            },
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ]
            },
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "no", "weight": 0},
                ]
            },
        ],
    )

    examples = encode_file(chat_tokenizer, path, 32)

    assert len(examples) == 1
    assert trained_text(chat_tokenizer, examples[0]) == f"hello\n{END}"


def test_reads_crlf_bom_and_blank_lines(tmp_path: Path) -> None:
    line = (
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}'
    )
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + f"{line}\r\n\r\n{line}\r\n".encode())

    assert len(read_examples(path)) == 2


def test_a_broken_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"oops": 1}\n')

    with pytest.raises(ExampleError, match=r"line 2 of train\.jsonl"):
        read_examples(path)
