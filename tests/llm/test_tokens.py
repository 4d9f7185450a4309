"""Offline token estimates with the bundled cl100k_base encoding."""

from colloquy.llm import tokens
from colloquy.llm.providers.base import ChatMessage


def test_counts_with_cl100k_base() -> None:
    assert tokens.count_tokens("") == 0
    assert tokens.count_tokens("hello world") == 2
    assert tokens.count_tokens("tiktoken is great!") == 6


def test_special_token_markers_count_as_text() -> None:
    assert tokens.count_tokens("<|endoftext|>") > 1


async def test_async_count_matches_for_short_and_long_texts() -> None:
    short = "A short message."
    long = "Many words in a long message. " * 200
    assert len(long) > tokens.OFF_LOOP_CHARS

    assert await tokens.count_tokens_async(short) == tokens.count_tokens(short)
    assert await tokens.count_tokens_async(long) == tokens.count_tokens(long)


async def test_message_count_adds_the_per_message_overhead() -> None:
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "hello world")]
    content = sum(tokens.count_tokens(m.role) + tokens.count_tokens(m.content) for m in messages)

    expected = content + 2 * tokens.MESSAGE_OVERHEAD + tokens.REPLY_PRIMING
    assert tokens.count_message_tokens(messages) == expected
    assert await tokens.count_message_tokens_async(messages) == expected
    assert tokens.count_message_tokens([]) == 0
