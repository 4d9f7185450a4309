"""Errors the tasks domain raises."""

from colloquy.core.errors import NotFound


class TaskNotFound(NotFound):
    code = "task_not_found"
    default_detail = "No such task."
