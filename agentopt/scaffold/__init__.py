"""Template files `agentopt init` copies into a new project (package data; see
agentopt/commands/init.py for where each one goes)."""
