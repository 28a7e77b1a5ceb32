"""OpenEnv, both sides: the harness's session client and the environment servers we ship."""

from agentopt.envs import web_ui

web_ui.install()  # before any submodule imports openenv.core: its gradio web UI is skipped (web_ui.py)
