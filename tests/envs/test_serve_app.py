"""`--env package.module:app` serves an OpenEnv environment's exported ASGI app as is (a
factory is still called), and a URL that answers HTTP but is not an OpenEnv server gets one
line naming what it lacks, exit 3, never a traceback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agentopt.envs.serve import build_app, is_app
from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM, call
from tests.fakes.openenv_native import grid_app, quiz_app


def rubric(tmp_path: Path) -> Path:
    return write(
        tmp_path / "rubrics" / "r.yaml",
        """
        name: r
        pass_threshold: 0.5
        criteria:
          - id: right
            description: The environment's reward.
            check: {type: env_reward}
        """,
    )


class RawAsgi:
    async def __call__(self, scope, receive, send):  # pragma: no cover - never served here
        pass


def test_an_app_object_is_served_as_is_and_a_factory_is_called():
    assert is_app(grid_app) and is_app(quiz_app) and is_app(RawAsgi())
    assert not is_app(lambda: grid_app) and not is_app(RawAsgi)
    assert build_app("tests.fakes.openenv_native:grid_app", {}) is grid_app
    built = build_app("tests.fakes.envs:build_counter", {})
    assert is_app(built) and built is not build_app("tests.fakes.envs:build_counter", {})
    with pytest.raises(ValueError, match="is an app, not a factory: it takes no options"):
        build_app("tests.fakes.openenv_native:grid_app", {"size": "3"})


def test_eval_launches_a_module_app(tmp_path):
    def walker(request: dict) -> Reply:
        return call("grid_action", {"direction": "down"})

    with ScriptedLLM(walker) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        agent.write_text(agent.read_text().replace("max_turns: 3", "max_turns: 6"))
        result = run_cli("eval", str(agent), "--rubric", str(rubric(tmp_path)), "--env", "tests.fakes.openenv_native:grid_app",
                         "--episodes", "3", "--runs-dir", "runs", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 1: the gate (some goals are not below)
    assert "Traceback" not in result.stderr
    (run,) = sorted((tmp_path / "runs").iterdir())
    records = [json.loads(line) for line in (run / "traces.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["trace"]["error"] is None and r["trace"]["done"] for r in records)
    assert all(first.startswith("instructions: Walk from [0, 0]") for first in
               (next(m["content"] for m in r["messages"] if m["role"] == "user") for r in llm.requests))
    # Walking down reaches a goal in column 0 (reward 1) and no other (reward 0 after five moves).
    for record in records:
        goal = json.loads(record["trace"]["messages"][1]["content"].split("goal: ")[1].splitlines()[0])
        assert record["score"]["score"] == (1.0 if goal[1] == 0 else 0.0)


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<h1>Not Found</h1>")

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def plain_http_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=10)


def test_a_url_that_is_not_an_openenv_server_gets_one_line_and_exit_3(tmp_path, plain_http_url):
    with ScriptedLLM(lambda request: call("x", {})) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli("eval", str(agent), "--rubric", str(rubric(tmp_path)), "--env", plain_http_url,
                         "--episodes", "2", "--runs-dir", "runs", cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "not an OpenEnv server" in line]
    assert lines == [f"error: --env {plain_http_url}: not an OpenEnv server (no /ws WebSocket endpoint; GET /schema answered HTTP 404)"]
    assert llm.requests == []
