"""The JSONL validator on its own: chunk boundaries, counts, error limits, file names."""

import json

import pytest

from colloquy.datasets.service import clean_filename
from colloquy.datasets.validation import MAX_REPORTED_ERRORS, DatasetStats, JsonlValidator
from tests.datasets.support import example, jsonl, valid_file


def _validate(
    data: bytes, *, chunk: int | None = None, **limits: int
) -> tuple[JsonlValidator, DatasetStats]:
    validator = JsonlValidator(
        max_line_bytes=limits.get("max_line_bytes", 1024 * 1024),
        min_examples=limits.get("min_examples", 10),
    )
    step = chunk or max(len(data), 1)
    for start in range(0, len(data), step):
        validator.feed(data[start : start + step])
    stats = validator.finish()
    return validator, stats


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, None])
def test_chunk_boundaries_do_not_change_the_result(chunk: int | None) -> None:
    data = b"\xef\xbb\xbf" + valid_file(12).replace(b"\n", b"\r\n") + b"\n\n"
    whole, whole_stats = _validate(data)
    split, split_stats = _validate(data, chunk=chunk)
    assert whole.is_valid
    assert split.is_valid
    assert split_stats == whole_stats
    assert whole_stats.n_examples == 12
    assert whole_stats.n_messages == 36


def test_tokens_are_counted_per_example() -> None:
    short = example("Hi", "Yo")
    long = example("Tell me a long story " * 20, "Once upon a time " * 40)
    _, stats = _validate(jsonl([short, long]), min_examples=2)
    assert 0 < stats.max_example_tokens < stats.total_tokens
    assert stats.max_example_tokens > stats.total_tokens - stats.max_example_tokens


def test_last_line_without_newline_counts() -> None:
    data = valid_file(10).rstrip(b"\n")
    validator, stats = _validate(data)
    assert validator.is_valid
    assert stats.n_examples == 10


def test_a_long_line_split_across_chunks_is_refused_and_the_next_lines_still_checked() -> None:
    long_line = json.dumps(example("x" * 500)).encode()
    data = valid_file(10) + long_line + b"\n" + b"not json\n"
    validator, _ = _validate(data, chunk=33, max_line_bytes=200)
    assert [error.line for error in validator.errors] == [11, 12]
    assert "longer than 200 bytes" in validator.errors[0].msg
    assert "not valid JSON" in validator.errors[1].msg


def test_only_the_first_errors_are_listed_but_all_are_counted() -> None:
    data = valid_file(10) + b"[]\n" * 30
    validator, _ = _validate(data)
    assert len(validator.errors) == MAX_REPORTED_ERRORS
    assert validator.error_count == 30


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("train.jsonl", "train.jsonl"),
        ("../../etc/train.jsonl", "train.jsonl"),
        ("C:\\Users\\me\\data.jsonl", "data.jsonl"),
        ("bad\u202ename\x07.jsonl", "badname.jsonl"),
        ("line\r\nbreak.jsonl", "linebreak.jsonl"),
        ("  spaced   out .jsonl ", "spaced out .jsonl"),
        ("..", "dataset.jsonl"),
        ("", "dataset.jsonl"),
        (None, "dataset.jsonl"),
        ("données.jsonl", "données.jsonl"),
    ],
)
def test_file_names_are_reduced_to_a_clean_display_name(raw: str | None, expected: str) -> None:
    assert clean_filename(raw) == expected


def test_a_very_long_file_name_keeps_its_extension() -> None:
    name = clean_filename("a" * 400 + ".jsonl")
    assert len(name) == 255
    assert name.endswith(".jsonl")
