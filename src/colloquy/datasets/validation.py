"""JSONL chat examples, checked as the bytes arrive: the file is never whole in memory.

One JSON object per line, `{"messages": [{"role", "content", "weight"?}, ...]}`; blank lines,
CRLF line ends and a UTF-8 byte order mark are accepted. Token counts are estimates.
"""

import json
from dataclasses import dataclass
from typing import Any

from colloquy.llm import tokens

ROLES = frozenset({"system", "user", "assistant"})
EXAMPLE_KEYS = frozenset({"messages"})
MESSAGE_KEYS = frozenset({"role", "content", "weight"})
MAX_REPORTED_ERRORS = 20
BOM = b"\xef\xbb\xbf"


class ExampleError(ValueError):
    """What is wrong with one example; the validator adds the line number."""


@dataclass(frozen=True, slots=True)
class LineError:
    line: int | None
    msg: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "msg": self.msg}


@dataclass(frozen=True, slots=True)
class DatasetStats:
    n_examples: int
    n_messages: int
    total_tokens: int
    max_example_tokens: int


def _check_message(index: int, message: Any) -> None:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise ExampleError(f"{where} must be an object")
    unknown = sorted(set(message) - MESSAGE_KEYS)
    if unknown:
        raise ExampleError(f"{where} has an unknown key {unknown[0]!r}")
    role = message.get("role")
    if role not in ROLES:
        raise ExampleError(f"{where}.role must be 'system', 'user' or 'assistant'")
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        raise ExampleError(f"{where}.content must be a non-empty string")
    if "weight" in message:
        if role != "assistant":
            raise ExampleError(f"{where}.weight is only allowed on assistant messages")
        weight = message["weight"]
        if isinstance(weight, bool) or weight not in (0, 1):
            raise ExampleError(f"{where}.weight must be 0 or 1")


def check_example(example: Any) -> list[dict[str, Any]]:
    """The example's messages, if it is a valid chat example; ExampleError says why not."""
    if not isinstance(example, dict):
        raise ExampleError("each line must be a JSON object")
    unknown = sorted(set(example) - EXAMPLE_KEYS)
    if unknown:
        raise ExampleError(f"unknown key {unknown[0]!r}; an example has only 'messages'")
    if "messages" not in example:
        raise ExampleError("missing 'messages'")
    messages = example["messages"]
    if not isinstance(messages, list) or not messages:
        raise ExampleError("'messages' must be a non-empty list")
    for index, message in enumerate(messages):
        _check_message(index, message)
    roles = {message["role"] for message in messages}
    if "user" not in roles:
        raise ExampleError("an example needs at least one user message")
    if "assistant" not in roles:
        raise ExampleError("an example needs at least one assistant message")
    return messages


def parse_line(raw: bytes, *, first: bool = False) -> list[dict[str, Any]] | None:
    """One line's example messages, or None for a blank line; ExampleError says what is wrong."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if first and raw.startswith(BOM):
        raw = raw[len(BOM) :]
    if b"\x00" in raw:
        raise ExampleError("binary content (a NUL byte); a dataset is UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExampleError(f"not valid UTF-8 (byte {exc.start + 1} of the line)") from exc
    if not text.strip():
        return None
    try:
        example = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExampleError(f"not valid JSON: {exc.msg} (column {exc.colno})") from exc
    except RecursionError as exc:
        raise ExampleError("not valid JSON: nested too deeply") from exc
    return check_example(example)


def example_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(
        tokens.count_tokens(message["content"]) + tokens.MESSAGE_OVERHEAD for message in messages
    )


class JsonlValidator:
    """Feed it the file's bytes in chunks of any size, then call `finish`."""

    def __init__(self, *, max_line_bytes: int, min_examples: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.min_examples = min_examples
        self.errors: list[LineError] = []
        self.error_count = 0
        self._line = 1
        self._buffer = bytearray()
        self._skipping = False
        self._examples = 0
        self._messages = 0
        self._total_tokens = 0
        self._max_example_tokens = 0

    @property
    def is_valid(self) -> bool:
        return self.error_count == 0

    def _error(self, line: int | None, msg: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(LineError(line, msg))

    def _too_long(self) -> None:
        self._error(self._line, f"the line is longer than {self.max_line_bytes} bytes")

    def feed(self, data: bytes) -> None:
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            if not self._skipping:
                self._buffer += data[start:] if end < 0 else data[start:end]
                # One byte of slack for the CR of a CRLF line end.
                if len(self._buffer) > self.max_line_bytes + 1:
                    self._too_long()
                    self._buffer.clear()
                    self._skipping = True
            if end < 0:
                return
            self._end_line()
            start = end + 1

    def _end_line(self) -> None:
        if not self._skipping:
            self._line_done(bytes(self._buffer))
        self._buffer.clear()
        self._skipping = False
        self._line += 1

    def _line_done(self, raw: bytes) -> None:
        if len(raw.removesuffix(b"\r")) > self.max_line_bytes:
            self._too_long()
            return
        try:
            messages = parse_line(raw, first=self._line == 1)
        except ExampleError as exc:
            self._error(self._line, str(exc))
            return
        if messages is None:
            return
        self._examples += 1
        self._messages += len(messages)
        if self.is_valid:
            # Counting is the costly part; an invalid file is refused anyway.
            count = example_tokens(messages)
            self._total_tokens += count
            self._max_example_tokens = max(self._max_example_tokens, count)

    def finish(self) -> DatasetStats:
        """The last line (if the file does not end with a newline) and the whole-file checks."""
        if self._buffer and not self._skipping:
            self._line_done(bytes(self._buffer))
        self._buffer.clear()
        if self._examples < self.min_examples:
            self._error(
                None,
                f"the file has {self._examples} valid examples; "
                f"at least {self.min_examples} are needed",
            )
        return DatasetStats(
            n_examples=self._examples,
            n_messages=self._messages,
            total_tokens=self._total_tokens,
            max_example_tokens=self._max_example_tokens,
        )
