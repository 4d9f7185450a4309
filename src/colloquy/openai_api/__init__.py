"""The OpenAI-compatible API under `/v1`: models and chat completions for OpenAI's clients,
answered by the providers directly, with no chat rows written."""
