"""The `llm_judge` check: a model grades the episode on an integer scale.

The rubric's `prompt` is a Jinja2 template (task, expected, answer, transcript, trace).
The judge must reply with JSON `{"reasoning": str, "score": int}`; anything else is a
provider failure (an infrastructure error), never a silent 0.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field
from pydantic.dataclasses import dataclass

from agentopt.errors import ProviderError
from agentopt.models.types import ChatRequest
from agentopt.scoring.base import Check, CheckContext, CheckResult, register
from agentopt.scoring.checks import shorten
from agentopt.scoring.targets import message_text
from agentopt.scoring.templating import render, template_problem
from agentopt.spec.fields import CONFIG, Int, Name, Text
from agentopt.trace import Trace

SYSTEM_PROMPT = (
    "You are a strict, fair grader of an AI agent's work. Follow the grading instructions, "
    "then reply with JSON only: a brief reasoning whose first sentence states the main "
    "reason for your score, and an integer score on the requested scale."
)
TRANSCRIPT_MESSAGE_CHARS = 2000  # longest message text kept in the transcript
FEEDBACK_SENTENCE_CHARS = 200


def transcript(trace: Trace) -> str:
    """The conversation as readable text (system prompt left out), one block per message."""
    blocks = []
    tool_names: dict[str, str] = {}
    for message in trace.messages:
        role = message.get("role", "?")
        if role == "system":
            continue
        text = message_text(message)
        if role == "tool":
            name = message.get("name") or tool_names.get(message.get("tool_call_id", ""), "tool")
            blocks.append(f"[tool result: {name}] {_clip(text)}")
            continue
        if text.strip():
            blocks.append(f"[{role}] {_clip(text)}")
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            tool_names[call.get("id", "")] = function.get("name", "tool")
            blocks.append(f"[{role} calls {function.get('name', '?')}] {_clip(str(function.get('arguments', '')))}")
    return "\n\n".join(blocks)


def _clip(text: str) -> str:
    return text if len(text) <= TRANSCRIPT_MESSAGE_CHARS else text[:TRANSCRIPT_MESSAGE_CHARS] + " …[truncated]"


def verdict_schema(low: int, high: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string"},
            "score": {"type": "integer", "minimum": low, "maximum": high},
        },
        "required": ["reasoning", "score"],
    }


def parse_verdict(content: str | None, low: int, high: int) -> tuple[int, str]:
    """(score, reasoning) from the judge's reply; ProviderError when it is not a valid verdict."""
    data = _json_object(content or "")
    if data is None:
        raise ProviderError(f"judge returned no JSON object: {shorten(content or '', 200)!r}")
    score, reasoning = data.get("score"), data.get("reasoning", "")
    if isinstance(score, float) and score.is_integer():
        score = int(score)
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise ProviderError(f"judge returned score {score!r}, not an integer from {low} to {high}")
    return score, reasoning if isinstance(reasoning, str) else str(reasoning)


def _json_object(text: str) -> dict[str, Any] | None:
    # Some models wrap JSON in prose or code fences despite the schema: take the outer braces.
    for candidate in (text, text[text.find("{") : text.rfind("}") + 1]):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None


def first_sentence(text: str) -> str:
    sentence = re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]
    sentence = shorten(sentence, FEEDBACK_SENTENCE_CHARS)
    return sentence if sentence.endswith((".", "!", "?", "…")) else sentence + "."


@dataclass(frozen=True, config=CONFIG)
class JudgeScale:  # no docstring: pydantic would then drop the field's description for the class's
    min: Int = Field(default=1, description="The worst score.")
    max: Int = Field(default=5, description="The best score.")


@dataclass(frozen=True, config=CONFIG)
class LlmJudgeParams:
    prompt: Name = Field(description="Grading instructions, a Jinja2 template (task, expected, answer, transcript, "
                                     "trace).")
    model: Text | None = Field(default=None, description="The judge model (default: the rubric's judge_model).")
    scale: JudgeScale | None = Field(default=None, description="The integer scale the judge scores on.")


@register
class LlmJudge(Check):
    name = "llm_judge"
    summary = "A model grades the episode with your prompt on an integer scale, normalized to [0, 1]."
    params = LlmJudgeParams
    default_pass_at = 0.5

    def validate(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        problems = []
        if isinstance(params.get("prompt"), str) and (problem := template_problem(params["prompt"])):
            problems.append(("prompt", problem))
        low, high = _scale(params)
        if isinstance(low, int) and isinstance(high, int) and high <= low:
            problems.append(("scale.max", "must be greater than scale.min"))
        return problems

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        if ctx.judge is None:
            raise RuntimeError("llm_judge needs a judge model client, but CheckContext.judge is None")
        low, high = _scale(params)
        model = params.get("model") or ctx.judge_model
        prompt = render(params["prompt"], trace, answer=trace.final_answer, transcript=transcript(trace))
        request = ChatRequest(
            model=model,
            messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
            temperature=0,
            max_tokens=300,
            json_schema=verdict_schema(low, high),
        )
        response = await ctx.judge.chat(request)
        raw, reasoning = parse_verdict(response.content, low, high)
        feedback = first_sentence(reasoning) if reasoning.strip() else f"The judge scored {raw} of {high}."
        details = {"reasoning": reasoning, "raw_score": raw, "scale": [low, high], "model": model}
        return CheckResult((raw - low) / (high - low), feedback, details)


def _scale(params: dict[str, Any]) -> tuple[Any, Any]:
    scale = params.get("scale") or {}
    return scale.get("min", 1), scale.get("max", 5)
