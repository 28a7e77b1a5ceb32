"""From a trace to a score with feedback: checks, the LLM judge, aggregation."""
