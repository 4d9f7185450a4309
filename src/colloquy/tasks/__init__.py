"""Tasks: a user's to-do items, with status, priority, due dates, soft delete and purge."""
