"""OpenEnv, both sides: the harness's session client and the environment servers we ship."""
