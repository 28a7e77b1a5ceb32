"""The run folder is the source of truth: one place writes it, the report reads it."""
