"""OpenEnv's Gradio web UI is skipped at import (agentopt/envs/web_ui.py): 3-20 s less at every
environment server's and every eval's start, while an environment that asks for it still gets it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO

SERVED = """
import json, sys
from agentopt.envs.serve import build_app
build_app("dataset", {"path": sys.argv[1]})  # what `agentopt.envs.serve dataset path=...` serves
from openenv.core.mcp_client import MCPToolClient  # noqa: F401  (the harness's client side)
import openenv.core.env_server as server
state = {"gradio": "gradio" in sys.modules, "web_ui": server.create_web_interface_app is not None}
from openenv.core.env_server.web_interface import create_web_interface_app  # asked for after start-up: found
state["explicit"] = callable(create_web_interface_app)
print(json.dumps(state))
"""


def served(tmp_path, **env: str) -> dict:
    without_switch = {k: v for k, v in os.environ.items() if k != "ENABLE_WEB_INTERFACE"}
    data = tmp_path / "qa.jsonl"
    data.write_text(json.dumps({"id": "q1", "split": "val", "input": "2 + 2?", "expected": "4"}) + "\n")
    done = subprocess.run([sys.executable, "-c", SERVED, str(data)], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**without_switch, "PYTHONPATH": str(REPO), **env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_served_environment_and_its_client_start_without_gradio(tmp_path):
    assert served(tmp_path) == {"gradio": False, "web_ui": False, "explicit": True}


def test_enable_web_interface_still_gives_openenvs_web_ui(tmp_path):
    assert served(tmp_path, ENABLE_WEB_INTERFACE="true") == {"gradio": True, "web_ui": True, "explicit": True}
