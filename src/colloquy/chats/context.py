"""What the model is sent: the agent's instructions, then the newest turns that fit."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.chats import repository
from colloquy.chats.errors import ContextTooLong
from colloquy.chats.models import Message, MessageRole, MessageStatus
from colloquy.llm.providers.base import ChatMessage

# Tokens a chat format spends per message besides its content (role markers, separators).
MESSAGE_OVERHEAD = 4
BATCH = 64


@dataclass(frozen=True, slots=True)
class Context:
    messages: list[ChatMessage]
    input_tokens: int
    included: int
    dropped: int


def check_fits(*, budget: int, system_tokens: int, content_tokens: int) -> None:
    """A message that cannot fit even alone is refused before anything is written or sent."""
    needed = system_tokens + content_tokens + MESSAGE_OVERHEAD
    if needed > budget:
        raise ContextTooLong(needed=needed, available=max(budget - system_tokens, 0))


def system_cost(instructions: str | None, instruction_tokens: int) -> int:
    return instruction_tokens + MESSAGE_OVERHEAD if instructions else 0


def _usable(message: Message) -> bool:
    if message.role is MessageRole.ASSISTANT:
        return message.status in {MessageStatus.COMPLETE, MessageStatus.CANCELLED} and bool(
            message.content
        )
    return True


async def assemble(
    session: AsyncSession,
    *,
    last: Message,
    instructions: str | None,
    system_tokens: int,
    budget: int,
) -> Context:
    """Read the branch ending at `last` newest-first, in batches, only as far as it fits."""
    used = system_tokens + last.content_tokens + MESSAGE_OVERHEAD
    history: list[Message] = []
    next_id = last.parent_id
    full = False
    while next_id is not None and not full:
        batch = await repository.ancestors(session, start_id=next_id, limit=BATCH)
        for message in batch:
            if not _usable(message):
                continue
            cost = message.content_tokens + MESSAGE_OVERHEAD
            if used + cost > budget:
                full = True
                break
            used += cost
            history.append(message)
        next_id = batch[-1].parent_id if batch and len(batch) == BATCH else None
    turns = [*reversed(history), last]
    messages = [ChatMessage(role=m.role.value, content=m.content) for m in turns]
    if instructions:
        messages.insert(0, ChatMessage(role="system", content=instructions))
    return Context(
        messages=messages,
        input_tokens=used,
        included=len(turns),
        dropped=last.depth - len(history),
    )
