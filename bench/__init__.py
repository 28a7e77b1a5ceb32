"""Benchmarks: plain scripts that print figures (`.venv/bin/python bench/<name>.py`)."""
