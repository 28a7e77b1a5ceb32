"""The mutator's prompts: Jinja2 templates, the episodes they show it, and asking it.

Templates live in `agentopt/optimizer/templates/`. A team can override any of them: a file
with the same name in a user directory (passed in, or named by `$AGENTOPT_TEMPLATES`) wins.
Templates render with StrictUndefined (a missing variable is an error, not an empty string)
and without autoescaping (they are markdown, not HTML).
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from agentopt.episode_record import Episode
from agentopt.models.types import ChatRequest
from agentopt.optimizer.types import ProposalContext
from agentopt.spec.rubric import Rubric
from agentopt.trace import Trace

log = logging.getLogger(__name__)

TEMPLATES_ENV = "AGENTOPT_TEMPLATES"
BUILTIN_TEMPLATES = Path(__file__).parent / "templates"

# Limits per episode shown: a few episodes, the component and the answer must fit the
# embedded model's 4096-token context.
MAX_INPUT_CHARS = 800
MAX_OUTPUT_CHARS = 400
MAX_ACTIONS = 5
MAX_ACTION_CHARS = 160
TRUNCATED = "max_tokens"  # the reflective record's note for an episode whose replies were cut short
MUTATOR_TEMPERATURE = 0.7  # some variety: the same parent may be reflected on more than once


def render(name: str, /, templates_dir: str | Path | None = None, **variables: Any) -> str:
    """Render template `name` ("reflect.j2"), preferring `templates_dir`, then $AGENTOPT_TEMPLATES."""
    user_dir = templates_dir or os.environ.get(TEMPLATES_ENV) or None
    return _environment(str(user_dir) if user_dir else None).get_template(name).render(**variables)


@lru_cache(maxsize=8)
def _environment(user_dir: str | None) -> Environment:
    search_path = [user_dir, str(BUILTIN_TEMPLATES)] if user_dir else [str(BUILTIN_TEMPLATES)]
    return Environment(
        loader=FileSystemLoader(search_path),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


# --- The reflective dataset: what the mutator reads about each episode -------------------


@dataclass(frozen=True)
class FailedCriterion:
    id: str
    feedback: str


@dataclass(frozen=True)
class EpisodeRecord:
    """One episode as the mutator sees it: compact, truncated, readable."""

    task_id: str
    input: str
    actions: tuple[str, ...]  # "name(args) -> result", the first few tool calls
    output: str
    score: float
    passed: bool
    failed: tuple[FailedCriterion, ...]


def reflective_dataset(episodes: Sequence[Episode]) -> list[EpisodeRecord]:
    """Scored episodes (infrastructure errors skipped) as records for a mutator prompt."""
    return [_record(e) for e in episodes if e.score.error is None]


def _record(episode: Episode) -> EpisodeRecord:
    trace, score = episode.trace, episode.score
    failed = tuple(FailedCriterion(c.id, c.feedback) for c in score.criteria if not c.passed)
    if trace.truncated_turns:  # the cause of a malformed or missing answer, which the criteria cannot name
        failed += (FailedCriterion(TRUNCATED, f"{trace.truncated_turns} of {trace.turns} model turns were cut off at the "
                                              "max_tokens limit (model_params.max_tokens) before the reply was complete"),)
    return EpisodeRecord(
        task_id=trace.task_id,
        input=truncate(task_input(trace), MAX_INPUT_CHARS),
        actions=tuple(_action(c.name, c.arguments, c.error or c.result) for c in trace.tool_calls[:MAX_ACTIONS]),
        output=truncate(trace.final_answer if trace.final_answer is not None else "(no final answer)", MAX_OUTPUT_CHARS),
        score=round(score.score, 3),
        passed=score.passed,
        failed=failed,
    )


def task_input(trace: Trace) -> str:
    """What the agent was asked: the first user message (the environment's reset prompt)."""
    for message in trace.messages:
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def _action(name: str, arguments: dict[str, Any], outcome: str | None) -> str:
    call = f"{name}({json.dumps(arguments, ensure_ascii=False)})"
    text = f"{call} -> {outcome}" if outcome else call
    return truncate(" ".join(text.split()), MAX_ACTION_CHARS)


def truncate(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return f"{text[:limit].rstrip()} …[{len(text) - limit} more characters]"


def minibatch(ctx: ProposalContext, max_failures: int, max_passes: int) -> list[Episode]:
    """Up to `max_failures` failed episodes, then up to `max_passes` passed ones (sampled by ctx.rng)."""
    failures = ctx.failures()
    passes = [e for e in ctx.episodes if e.score.error is None and e.score.passed]
    return _sample(ctx, failures, max_failures) + _sample(ctx, passes, max_passes)


def _sample(ctx: ProposalContext, episodes: list[Episode], k: int) -> list[Episode]:
    return ctx.rng.sample(episodes, min(k, len(episodes)))


def failing_criteria(records: Sequence[EpisodeRecord], rubric: Rubric, limit: int = 3) -> list[str]:
    """The ids of the criteria failed most often, most frequent first, ties in rubric order."""
    counts = Counter(f.id for r in records for f in r.failed)
    order = {c.id: i for i, c in enumerate(rubric.criteria)}
    return sorted(counts, key=lambda cid: (-counts[cid], order.get(cid, len(order))))[:limit]


def answer_tokens(max_component_tokens: int) -> int:
    """Room for the JSON answer: the component's budget plus escaping and the wrapper."""
    return int(max_component_tokens * 1.25) + 64


async def ask_json(ctx: ProposalContext, prompt: str, schema: dict[str, Any], max_tokens: int) -> dict[str, Any] | None:
    """Ask the mutator for one JSON object matching `schema`; None when it gives anything else.

    Provider errors (after the client's retries) propagate: they are infrastructure errors.
    """
    if ctx.mutator is None:
        log.info("no mutator model: skipping an LLM proposal")
        return None
    request = ChatRequest(
        model=ctx.mutator_model,
        messages=[{"role": "user", "content": prompt}],
        temperature=MUTATOR_TEMPERATURE,
        max_tokens=max_tokens,
        seed=ctx.rng.randrange(2**31),
        json_schema=schema,
    )
    response = await ctx.mutator.chat(request)
    try:
        data = json.loads(response.content or "")
    except ValueError:
        log.info("the mutator's answer is not JSON (finish: %s): %.200r", response.finish_reason, response.content)
        return None
    if not isinstance(data, dict):
        log.info("the mutator's answer is not a JSON object: %.200r", response.content)
        return None
    return data
