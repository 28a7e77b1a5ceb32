"""The YAML rubric as an OpenEnv reward: `agentopt.openenv.rubric(path)`.

The rubric a PM edits and CI gates on becomes the reward an OpenEnv environment gives, on the
server, so a trainer optimizes exactly what `agentopt eval` scores. The object returned is an
OpenEnv `Rubric` (`openenv.core.rubrics`), composed from OpenEnv's own pieces:

    EpisodeRubric (an ExponentialDiscountingTrajectoryRubric)  accumulates the steps; at done:
      Sequential(                                              0 as soon as a gate fails
        Gate(GateView(criterion), threshold=pass_at), ...      one per `gate: true` criterion
        WeightedMean([criterion, ...], weights))               a WeightedSum over the weights

Each criterion is a `CriterionRubric` that runs agentopt's own check (agentopt.scoring) on the
episode, so the reward of an episode equals `score_trace` on the same trace: the weighted mean
of the criteria that apply (a criterion that does not apply is left out and the other weights
renormalised), 0 when a gate criterion scores below its `pass_at`. Every criterion needs the
whole episode (the answer is the arguments of the call that ended it), so the top is OpenEnv's
trajectory rubric: `intermediate_reward` (0.0) on every step before the last, the score on the
step that ends the episode, and `compute_step_rewards()` for credit assignment (gamma 1.0:
every step gets the episode's score).

In an environment (see docs/learning-loop.md for a whole server):

    class MyEnv(MCPEnvironment):
        def __init__(self):
            super().__init__(mcp, rubric=agentopt.openenv.rubric("rubrics/triage.yaml"))
        def reset(self, ...):
            self._reset_rubric()
            self.rubric.task = task          # what checks see as `task` and `expected`
        async def step_async(self, action, ...):
            observation = ...                # done set when the episode ends
            observation.reward = await self._apply_rubric_async(action, observation)

What the server sees is what the rubric scores: the tool calls, their arguments and results,
the environment's own reward and metadata. So, on the server:
- `answer`, `answer.KEY`, `tool:NAME.ARG`, `info.KEY`, tool_called, tool_args, ...: as in agentopt;
- `messages` and `last_message`: the tool calls' arguments only (the agent's free text never
  reaches the environment);
- `env_reward`: the rewards the environment set before the rubric replaced them (e.g. the
  dataset environment's share of right fields); not applicable when it set none;
- `max_turns` counts steps; `max_tokens` cannot be scored (tokens never reach the server) and
  is refused when the rubric is loaded;
- `llm_judge`: pass `judge=` (an agentopt ChatModel); its transcript holds the tool calls.
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from openenv.core.rubrics import ExponentialDiscountingTrajectoryRubric, Gate, Rubric, Sequential, WeightedSum

from agentopt.errors import Problem, ValidationError
from agentopt.models.types import ChatModel
from agentopt.scoring.base import CheckContext, CheckResult, get_check
from agentopt.spec.rubric import Criterion
from agentopt.spec.rubric import Rubric as RubricSpec
from agentopt.trace import ToolCall, Trace

SERVER_BLIND = {"max_tokens": "token counts never reach the environment server"}

__all__ = ["CriterionRubric", "EpisodeRubric", "GateView", "WeightedMean", "rubric", "server_trace"]


def rubric(path: str | RubricSpec, judge: ChatModel | None = None, gamma: float = 1.0) -> EpisodeRubric:
    """An OpenEnv rubric that rewards an episode with the YAML rubric's score (see the module
    docstring). `path`: a rubric file (validated as `agentopt validate` does: a bad file raises
    ValidationError with one line per problem) or a loaded rubric. Build one per environment
    instance: it holds the episode's steps."""
    if isinstance(path, RubricSpec):
        spec = path
    else:
        from agentopt.spec.load import load_rubric

        spec = load_rubric(str(path))
    where = _locator(spec, path)
    problems = [
        where(f"criteria[{i}].check.type", f"{c.check} cannot be scored by an environment server: {SERVER_BLIND[c.check]}")
        for i, c in enumerate(spec.criteria) if c.check in SERVER_BLIND
    ]
    if judge is None:
        problems += [
            where(f"criteria[{i}].check.type", "llm_judge needs a model: pass judge= (an agentopt ChatModel)")
            for i, c in enumerate(spec.criteria) if c.check == "llm_judge"
        ]
    if problems:
        raise ValidationError(problems)
    return EpisodeRubric(spec, CheckContext(judge=judge, judge_model=spec.judge_model), gamma)


def _locator(spec: RubricSpec, path: Any) -> Callable[[str, str], Problem]:
    """problem(field, message) -> a Problem at the field's file:line:column when the file is at hand."""
    file = str(path) if not isinstance(path, RubricSpec) else (spec.source or "rubric")
    source = None
    if not isinstance(path, RubricSpec) or spec.source:
        from agentopt.spec.yaml_source import read

        source = read(file)
    if source is None or source.problems:
        return lambda field, message: Problem(file, 0, 0, field, message)
    return source.problem


def server_trace(trajectory: list[tuple[Any, Any]], task: dict[str, Any]) -> Trace:
    """The agentopt Trace of an episode as the environment saw it: its (action, observation) steps."""
    calls, rewards, messages = [], [], []
    info: dict[str, Any] = {}
    final_answer, done = None, False
    for number, (action, observation) in enumerate(trajectory):
        name = getattr(action, "tool_name", None)
        if name is None:  # not a tool call (e.g. list tools): nothing the agent did
            continue
        arguments = dict(getattr(action, "arguments", {}) or {})
        text, error = _result(observation)
        reward = getattr(observation, "reward", None)
        ended = bool(getattr(observation, "done", False))
        calls.append(ToolCall(name, arguments, None if error else text, error, None if reward is None else float(reward), ended))
        rewards.append(None if reward is None else float(reward))
        call_id = f"call_{number}"
        messages.append({"role": "assistant", "content": "", "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}]})
        messages.append({"role": "tool", "tool_call_id": call_id, "name": name, "content": f"ERROR: {error}" if error else text})
        if getattr(observation, "metadata", None):
            info = dict(observation.metadata)
        if ended:
            done, final_answer = True, json.dumps(arguments)
    given = [r for r in rewards if r is not None]
    return Trace(
        episode_id=uuid.uuid4().hex[:12], task_id=str(task.get("id", "")), split=str(task.get("split", "")), task=dict(task),
        messages=messages, tool_calls=calls, final_answer=final_answer, reward=given[-1] if given else None,
        rewards=tuple(rewards), done=done, turns=len(calls), stop_reason="done" if done else "max_turns", info=info,
    )


def _result(observation: Any) -> tuple[str, str | None]:
    from agentopt.envs.mcp_session import result_text

    raw: object = getattr(observation, "result", None)
    if hasattr(raw, "model_dump"):
        raw = raw.model_dump(mode="json")
    elif raw is not None and not isinstance(raw, (dict, str)) and hasattr(raw, "content"):  # fastmcp's CallToolResult
        raw = {"content": [{"type": "text", "text": getattr(b, "text", "")} for b in raw.content], "is_error": getattr(raw, "is_error", False)}
    text = result_text(raw)
    error = getattr(observation, "error", None)
    if error is not None:
        return text, getattr(error, "message", str(error))
    if isinstance(raw, dict) and (raw.get("is_error") or raw.get("isError")):
        return text, text
    return text, None


class CriterionRubric(Rubric):
    """One YAML criterion: agentopt's check on the episode's trace. Called with (trace, observation).

    The check runs once per trace (a gate criterion is read by its Gate and by the weighted mean);
    `last_result` keeps its CheckResult (score None: it does not apply)."""

    def __init__(self, criterion: Criterion, ctx: CheckContext):
        super().__init__()
        self.criterion = criterion
        self._ctx = ctx
        self._check = get_check(criterion.check)
        self._trace: Trace | None = None
        self.last_result: CheckResult | None = None
        if criterion.check == "llm_judge":  # the judge is a model call: this criterion is async
            # OpenEnv's Rubric.__call__ takes its async path only when `forward` itself is a
            # coroutine function, so the judge's instances replace the method.
            self.forward = self._forward_async  # type: ignore[method-assign]

    @property
    def applicable(self) -> bool:
        return self.last_result is not None and self.last_result.applicable

    @property
    def passed(self) -> bool:
        r = self.last_result
        return r is None or r.score is None or r.score >= self.criterion.pass_at

    def forward(self, trace: Trace, observation: Any) -> float | Awaitable[float]:
        """The criterion's score (awaitable for llm_judge, whose instances use _forward_async)."""
        if self._trace is not trace:
            self.last_result, self._trace = _run(self._check.score(trace, self.criterion.params, self._ctx)), trace
        return self._value()

    async def _forward_async(self, trace: Trace, observation: Any) -> float:
        if self._trace is not trace:
            self.last_result, self._trace = await self._check.score(trace, self.criterion.params, self._ctx), trace
        return self._value()

    def _value(self) -> float:
        return 0.0 if self.last_result is None or self.last_result.score is None else float(self.last_result.score)

    def reset(self) -> None:
        self._trace, self.last_result = None, None


def _run(coroutine: Any) -> CheckResult:
    """Run a check that never waits on anything (every check but llm_judge) to its result, in a
    sync forward: OpenEnv calls a rubric from sync and async environments alike."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return finished.value
    coroutine.close()
    raise RuntimeError("a check awaited something: only llm_judge may, and it runs async")


class GateView(Rubric):
    """What a Gate reads of a criterion: its score, or 1.0 when it does not apply (a criterion
    that does not apply has not failed, as in agentopt.scoring.aggregate)."""

    def __init__(self, criterion: CriterionRubric):
        super().__init__()
        self.criterion = criterion

    def forward(self, trace: Trace, observation: Any) -> Any:
        value = self.criterion(trace, observation)
        if inspect.iscoroutine(value):
            return self._after(value)
        return value if self.criterion.applicable else 1.0

    async def _after(self, value: Any) -> float:
        score = await value
        return score if self.criterion.applicable else 1.0


class WeightedMean(WeightedSum):
    """OpenEnv's WeightedSum over the criteria with the YAML's weights (normalised), the weights of
    the criteria that do not apply to an episode left out and the others renormalised."""

    def __init__(self, criteria: list[CriterionRubric]):
        total = sum(c.criterion.weight for c in criteria)
        super().__init__(criteria, [c.criterion.weight / total for c in criteria] if total > 0 else [1.0 / len(criteria)] * len(criteria))
        self.applicable = True  # False when no weighted criterion applied to the last episode

    def __call__(self, action: Any, observation: Any) -> Any:
        return Rubric.__call__(self, action, observation)

    def forward(self, trace: Trace, observation: Any) -> Any:
        values = [c(trace, observation) for c in self._rubric_list]
        if any(inspect.iscoroutine(v) for v in values):
            return self._gather(values)
        return self._mean(values)

    async def _gather(self, values: list[Any]) -> float:
        return self._mean([await v if inspect.iscoroutine(v) else v for v in values])

    def _mean(self, values: list[float]) -> float:
        # The YAML's own weights, in agentopt.scoring.aggregate's order of operations: the same
        # float to the last bit (normalised weights would differ in the 16th digit).
        used = [(c.criterion.weight, v) for v, c in zip(values, self._rubric_list) if c.applicable]
        weight = sum(w for w, _ in used)
        self.applicable = weight > 0
        return sum(w * v for w, v in used) / weight if weight > 0 else 0.0


class EpisodeRubric(ExponentialDiscountingTrajectoryRubric):
    """The YAML rubric over an episode. Set `task` after each reset (the task spec checks read as
    `task` and `expected`); after the last step, `last_trace`, `last_criteria` ({id: score, None
    when it did not apply}) and `last_passed` say how the episode scored."""

    def __init__(self, spec: RubricSpec, ctx: CheckContext, gamma: float = 1.0):
        super().__init__(gamma=gamma, intermediate_reward=0.0)
        self.spec = spec
        self.task: dict[str, Any] = {}
        leaves = [CriterionRubric(c, ctx) for c in spec.criteria]
        self.criteria = WeightedMean(leaves)
        gates = [Gate(GateView(leaf), threshold=leaf.criterion.pass_at) for leaf in leaves if leaf.criterion.gate and leaf.criterion.pass_at > 0]
        self.score = Sequential(*gates, self.criteria)
        self._leaves = leaves
        self.last_trace: Trace | None = None

    def forward(self, action: Any, observation: Any) -> Any:
        # A copy of the observation: the environment replaces its reward with ours right after,
        # and the trace must keep the reward the environment itself gave (what env_reward reads).
        snapshot = observation.model_copy() if hasattr(observation, "model_copy") else observation
        return super().forward(action, snapshot)

    def score_trajectory(self, trajectory: list[tuple[Any, Any]]) -> Any:
        self.last_trace = server_trace(trajectory, self.task)
        return self.score(self.last_trace, trajectory[-1][1] if trajectory else None)

    def compute_step_rewards(self) -> list[float]:
        """Every step's share of the episode's score (gamma ** steps-to-go), from the score already
        computed at done: the checks (and a judge) are not run again."""
        final = self.last_score or 0.0
        steps = len(self._trajectory)
        return [final * self.gamma ** (steps - 1 - t) for t in range(steps)]

    @property
    def last_criteria(self) -> dict[str, float | None]:
        """Every criterion's score on the last episode (None: it did not apply). A failed gate stops
        the Sequential before the others run: the sync ones are run here so a trainer sees them all."""
        for leaf in self._leaves:
            if self.last_trace is not None and leaf._trace is not self.last_trace and leaf.criterion.check != "llm_judge":
                leaf(self.last_trace, None)
        return {leaf.criterion.id: (leaf.last_result.score if leaf.last_result else None) for leaf in self._leaves}

    def summary(self) -> dict[str, Any]:
        """The last episode's score, pass and criteria: what an environment may put in its last
        observation's metadata for a trainer that logs per-criterion rewards."""
        return {"score": self.last_score, "passed": self.last_passed, "criteria": self.last_criteria}

    @property
    def last_passed(self) -> bool:
        gates_ok = all(leaf.passed for leaf in self._leaves if leaf.criterion.gate)
        return bool(gates_ok and self.criteria.applicable and (self.last_score or 0.0) >= self.spec.pass_threshold)

    def reset(self) -> None:
        super().reset()
        self.task = {}
        self.last_trace = None
        for leaf in self._leaves:
            leaf.reset()
