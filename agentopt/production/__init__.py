"""Tasks from production: captured conversations (chat-completions logs, OpenTelemetry GenAI
spans) read into typed records (`logs`) and turned into a `dataset:` environment file (`tasks`)."""
