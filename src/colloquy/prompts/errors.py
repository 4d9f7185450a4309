"""Errors the prompts domain raises."""

from colloquy.core.errors import NotFound


class PromptNotFound(NotFound):
    code = "prompt_not_found"
    default_detail = "No such prompt."


class CommonPromptNotFound(NotFound):
    code = "common_prompt_not_found"
    default_detail = "No such common prompt."
