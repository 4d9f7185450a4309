"""Projects: named groups of a user's agents, chats and tasks."""
