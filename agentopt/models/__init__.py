"""How we talk to LLMs: one client (retries, timeouts, accounting, cache) for every provider."""
