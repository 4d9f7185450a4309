"""Request bodies for fine-tuning."""

import uuid
from typing import Annotated

from pydantic import Field

from colloquy.core.schemas import Strict
from colloquy.datasets.schemas import DatasetName, Description


class DatasetFromChats(Strict):
    name: DatasetName
    description: Description = ""
    chat_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=1000)] = Field(
        description="Your chats; each one's active branch becomes one example, in this order."
    )
    include_system: bool = Field(
        default=False, description="Start each example with the chat agent's instructions."
    )
