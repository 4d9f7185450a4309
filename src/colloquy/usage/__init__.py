"""Usage accounting: an event for every model call, a daily rollup, quotas and rate limits."""
