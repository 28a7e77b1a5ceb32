"""The agent loop: reset -> model turn -> tool call(s) -> environment step -> ... -> Trace.

Two ways for the model to act, chosen by `loop.tool_mode` (auto: structured for the
embedded model, native for everything else):
- native: the provider's tool calling (`tools=`), for capable models;
- structured: the reply is grammar-constrained JSON, `{"tool": NAME, "arguments": {...}}`,
  where each tool's `arguments` is constrained to *that tool's own* parameter schema
  (an anyOf over the tools). Small local models never fire free-form tool calls but
  produce valid constrained JSON every time.

The episode ends when the environment says done, the agent gives a final answer, or a
turn/token limit is hit. Provider and environment failures end it as an infrastructure
error (stop_reason "error"), recorded with their cause and never scored as a 0.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from typing import Any, Protocol

from agentopt.envs.kind import NotAnOpenEnvServer
from agentopt.envs.observation import ToolSpec
from agentopt.envs.tasks import TaskRef
from agentopt.errors import EnvError, ProviderError, TemplateLimitError, ValidationError
from agentopt.models.types import ChatModel, ChatRequest, ChatResponse
from agentopt.prompt import LOAD_SKILL, render_observation, system_prompt
from agentopt.redact import redact
from agentopt.spec.agent import AgentSpec
from agentopt.trace import ToolCall, Trace

FINAL_ANSWER = "final_answer"


def cap_observation(text: str, limit: int | None) -> str:
    """A tool result as the model sees it (and the trace keeps it): at most `limit`
    characters, then a note the model can read saying it was cut and how long it was."""
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}\n[agentopt: output cut at {limit} of {len(text)} characters]"


def openai_tools(spec: AgentSpec, env_tools: list[ToolSpec]) -> list[dict[str, Any]]:
    """The tools the agent sees: the environment's, with the spec's descriptions where given."""
    tools = [
        {
            "type": "function",
            "function": {
                "name": t.name,
                "description": spec.tool_description(t.name, t.description),
                "parameters": t.input_schema or {"type": "object", "properties": {}},
            },
        }
        for t in env_tools
        if t.name not in spec.hidden_tools  # tools: {NAME: {hidden: true}}: never offered
    ]
    if spec.skills and spec.loop.skills == "on_demand":
        names = [s.name for s in spec.skills]
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": LOAD_SKILL,
                    "description": "Read the full procedure of one of your skills.",
                    "parameters": {
                        "type": "object",
                        "properties": {"name": {"type": "string", "enum": names}},
                        "required": ["name"],
                    },
                },
            }
        )
    return tools


def action_schema(tools: list[dict[str, Any]], final_answer: bool) -> dict[str, Any]:
    """JSON Schema for one structured action: each tool's arguments constrained to its own schema."""
    branches = []
    for tool in tools:
        function = tool["function"]
        branches.append(_branch(function["name"], function["parameters"]))
    if final_answer:
        branches.append(
            _branch(FINAL_ANSWER, {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]})
        )
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def _branch(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"tool": {"const": name}, "arguments": parameters},
        "required": ["tool", "arguments"],
        "additionalProperties": False,
    }


class _Episode:
    """Mutable state of one episode while it runs; `trace()` freezes it."""

    def __init__(self, spec: AgentSpec, task: TaskRef):
        self.spec = spec
        self.task = task
        self.episode_id = uuid.uuid4().hex[:12]
        self.messages: list[dict[str, Any]] = []
        self.calls: list[ToolCall] = []
        self.final_answer: str | None = None
        self.reward: float | None = None
        self.rewards: list[float | None] = []  # every environment step's reward (None: it gave none)
        self.done = False
        self.turns = 0
        self.truncated_turns = 0  # turns the provider cut at max_tokens
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost = 0.0
        self.model_calls = 0
        self.cached_calls = 0
        self.stop_reason = "max_turns"
        self.error: str | None = None
        self.info: dict[str, Any] = {}
        self.variables: list[str] = []
        self.started = time.perf_counter()

    def account(self, response: ChatResponse) -> None:
        self.turns += 1
        self.truncated_turns += response.finish_reason == "length"
        self.prompt_tokens += response.prompt_tokens
        self.completion_tokens += response.completion_tokens
        self.cost += response.cost_usd
        if response.cached:
            self.cached_calls += 1
        else:
            self.model_calls += 1

    def over_token_budget(self) -> bool:
        limit = self.spec.loop.max_tokens
        return limit is not None and self.prompt_tokens + self.completion_tokens >= limit

    def trace(self) -> Trace:
        return Trace(
            episode_id=self.episode_id,
            task_id=self.task.task_id,
            split=self.task.split,
            task=self.task.spec,
            messages=self.messages,
            tool_calls=self.calls,
            final_answer=self.final_answer,
            reward=self.reward,
            rewards=tuple(self.rewards),
            done=self.done,
            turns=self.turns,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost_usd=self.cost,
            latency_s=time.perf_counter() - self.started,
            model_calls=self.model_calls,
            cached_calls=self.cached_calls,
            stop_reason=self.stop_reason,
            error=self.error,
            info=self.info,
            variables=self.variables,
            base_task_id=getattr(self.task, "base_task_id", None),  # set by TaskRef once tasks repeat
            repeat=getattr(self.task, "repeat", 0),
            truncated_turns=self.truncated_turns,
        )


class SessionSource(Protocol):
    """Where an episode plays: a RunningEnv, a pool of replicas (EnvPool), or one task's view
    of either (TaskEnv). `session()` gives an async context manager around one OpenEnv session."""

    def session(self) -> Any: ...


async def run_episode(spec: AgentSpec, env: SessionSource, model: ChatModel, task: TaskRef, seed: int | None = None) -> Trace:
    """Play one episode of `task` and return its trace. Never raises for provider or env failures."""
    episode = _Episode(spec, task)
    try:
        async with env.session() as session:
            reset = await session.reset(task.split, task.index, seed=seed)
            episode.variables = sorted(reset.context)
            tools = openai_tools(spec, await session.tools())
            structured = spec.structured_tools
            first = render_observation(spec, reset.fields, "reset") if spec.loop.observation_template else reset.prompt
            prompt = system_prompt(spec, reset.context, tools if structured else None, first)
            episode.messages = [{"role": "system", "content": prompt}, {"role": "user", "content": first}]
            runner = _Runner(spec, session, model, episode, tools, structured)
            await runner.run()
    except (ValidationError, NotAnOpenEnvServer):
        raise  # the spec is wrong (a prompt variable the environment does not give), or no episode can run: stop the run
    except (ProviderError, EnvError, TemplateLimitError) as exc:
        episode.stop_reason, episode.error = "error", redact(str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug must not lose the run; it is reported as an error
        episode.stop_reason, episode.error = "error", redact(f"internal error: {type(exc).__name__}: {exc}")
    return episode.trace()


class _Runner:
    def __init__(self, spec, session, model, episode: _Episode, tools, structured: bool):
        self.spec = spec
        self.session = session
        self.model = model
        self.ep = episode
        self.tools = tools
        self.structured = structured
        self.tool_names = {t["function"]["name"] for t in tools}

    def request(self) -> ChatRequest:
        p = self.spec.params
        common = dict(
            model=self.spec.model,
            messages=list(self.ep.messages),
            temperature=p.temperature,
            max_tokens=p.max_tokens,
            seed=p.seed,
            top_p=p.top_p,
            api_base=p.api_base,
            timeout_s=p.timeout_s,
        )
        if self.structured:
            return ChatRequest(**common, json_schema=action_schema(self.tools, self.spec.loop.final_answer))
        tool_choice = "auto" if self.spec.loop.final_answer else "required"
        return ChatRequest(**common, tools=self.tools or None, tool_choice=tool_choice if self.tools else None)

    async def run(self) -> None:
        for _ in range(self.spec.loop.max_turns):
            if self.ep.over_token_budget():
                self.ep.stop_reason = "max_tokens"
                return
            response = await self.model.chat(self.request())
            self.ep.account(response)
            finished = await (self.structured_turn(response) if self.structured else self.native_turn(response))
            if finished:
                return
        self.ep.stop_reason = "max_turns"

    async def structured_turn(self, response: ChatResponse) -> bool:
        content = response.content or ""
        self.ep.messages.append({"role": "assistant", "content": content})
        try:
            action = json.loads(content)
            name, arguments = action["tool"], action["arguments"]
            if not isinstance(arguments, dict):
                raise TypeError("arguments is not an object")
        except (ValueError, KeyError, TypeError) as exc:
            note = f"Your reply was not a valid action ({type(exc).__name__}). Reply with one JSON action."
            if response.finish_reason == "length":  # say why, or the agent cannot tell a cut reply from a wrong one
                note = (f"Your reply was cut off at the {self.spec.params.max_tokens}-token limit before it was a "
                        "complete action. Reply with one short JSON action.")
            self.ep.messages.append({"role": "user", "content": note})
            return False
        if name == FINAL_ANSWER:
            return self.finish_with_answer(str(arguments.get("answer", "")))
        outcome_text, finished = await self.execute(name, arguments)
        self.ep.messages.append({"role": "user", "content": f"Result of {name}: {outcome_text}"})
        return finished

    async def native_turn(self, response: ChatResponse) -> bool:
        message: dict[str, Any] = {"role": "assistant", "content": response.content or ""}
        if response.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in response.tool_calls
            ]
        self.ep.messages.append(message)
        if not response.tool_calls:
            if self.spec.loop.final_answer:
                return self.finish_with_answer(response.content or "")
            self.ep.messages.append({"role": "user", "content": "Use one of your tools to act."})
            return False
        for call in response.tool_calls:
            try:
                arguments = json.loads(call.arguments or "{}")
                if not isinstance(arguments, dict):
                    raise TypeError("arguments is not a JSON object")
            except (ValueError, TypeError) as exc:
                text = f"ERROR: invalid JSON arguments for {call.name}: {exc}"
                self.ep.calls.append(ToolCall(name=call.name, arguments={}, error=text))
                self.ep.messages.append({"role": "tool", "tool_call_id": call.id, "content": text})
                continue
            text, finished = await self.execute(call.name, arguments)
            self.ep.messages.append({"role": "tool", "tool_call_id": call.id, "content": text})
            if finished:
                return True
        return False

    def finish_with_answer(self, answer: str) -> bool:
        self.ep.final_answer = answer
        self.ep.stop_reason = "final_answer"
        return True

    async def execute(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """Run one tool call (in the environment, or load_skill locally); True when the episode ended."""
        if name == LOAD_SKILL and LOAD_SKILL in self.tool_names:
            body = next((s.body for s in self.spec.skills if s.name == arguments.get("name")), None)
            text = body if body is not None else f"ERROR: no skill named {arguments.get('name')!r}"
            self.ep.calls.append(ToolCall(name=name, arguments=arguments, result=body, error=None if body else text))
            return text, False
        if name in self.spec.hidden_tools:  # hidden by the spec: as if the environment had no such tool
            offered = ", ".join(sorted(self.tool_names)) or "none"
            text = f"ERROR: unknown tool {name!r} (the tools are: {offered})"
            self.ep.calls.append(ToolCall(name=name, arguments=arguments, error=text))
            return text, False
        outcome = await self.session.call_tool(name, arguments)
        if self.spec.loop.observation_template and outcome.error is None:
            outcome = replace(outcome, text=render_observation(self.spec, outcome.fields, "step"))
        limit = self.spec.loop.max_observation_chars
        outcome = replace(
            outcome,
            text=cap_observation(outcome.text, limit),
            error=None if outcome.error is None else cap_observation(outcome.error, limit),
        )
        self.ep.calls.append(
            ToolCall(
                name=name,
                arguments=arguments,
                result=None if outcome.error else outcome.text,
                error=outcome.error,
                reward=outcome.reward,
                done=outcome.done,
            )
        )
        self.ep.rewards.append(outcome.reward)
        if outcome.reward is not None:
            self.ep.reward = outcome.reward
        if outcome.metadata:
            self.ep.info = outcome.metadata
        if outcome.done:
            self.ep.done = True
            self.ep.stop_reason = "done"
            self.ep.final_answer = json.dumps(arguments)
            return outcome.text, True
        return outcome.text, False
