"""One module per CLI command: loads inputs, drives the library, renders the terminal output."""
