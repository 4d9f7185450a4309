"""API keys: long-lived, scoped secrets users create for programs, kept only as keyed digests."""
