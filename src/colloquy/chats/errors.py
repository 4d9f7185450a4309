"""Errors the chats domain raises."""

from colloquy.core.errors import Conflict, NotFound, ValidationFailed


class ChatNotFound(NotFound):
    code = "chat_not_found"
    default_detail = "No such chat."


class MessageNotFound(NotFound):
    code = "message_not_found"
    default_detail = "No such message in this chat."


class GenerationInProgress(Conflict):
    code = "generation_in_progress"
    default_detail = "A reply is still being generated in this chat; wait or cancel it."


class ContextTooLong(ValidationFailed):
    code = "context_too_long"
    default_detail = "The message does not fit in the model's context window, even alone."

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(
            f"The message needs {needed} tokens but the model leaves room for {available}.",
            errors=[{"loc": ["body", "content"], "msg": "too long for the model's context"}],
        )


class NotAUserMessage(ValidationFailed):
    code = "not_a_user_message"
    default_detail = "Only a user message can be edited."

    def __init__(self, detail: str | None = None) -> None:
        detail = detail or self.default_detail
        super().__init__(detail, errors=[{"loc": ["path", "message_id"], "msg": detail}])


class NotAnAssistantMessage(ValidationFailed):
    code = "not_an_assistant_message"
    default_detail = "Only a reply can be rated."

    def __init__(self, detail: str | None = None) -> None:
        detail = detail or self.default_detail
        super().__init__(detail, errors=[{"loc": ["path", "message_id"], "msg": detail}])
