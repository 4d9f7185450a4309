"""Chats and their messages (a tree of turns), replies streamed over SSE and WebSocket."""
