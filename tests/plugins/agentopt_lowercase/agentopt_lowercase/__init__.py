"""An example agentopt plug-in: the `all_lowercase` check and the `lowercase` operator."""
