"""Tests of agentopt.scoring. `make_trace` builds the Trace every test scores."""

import json

from agentopt.trace import ToolCall, Trace


def make_trace(**overrides) -> Trace:
    """A small support-desk episode; override any Trace field."""
    fields = dict(
        episode_id="ep1",
        task_id="t1",
        split="val",
        task={"input": "My card was charged twice", "expected": {"category": "billing"}},
        messages=[
            {"role": "system", "content": "You are a support agent."},
            {"role": "user", "content": "My card was charged twice"},
            {"role": "assistant", "content": "Let me look that up."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "search", "arguments": '{"query": "refund"}'}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "refund policy"},
            {"role": "assistant", "content": [{"type": "text", "text": "Here is the answer."}]},
            {"role": "assistant", "content": "  "},
        ],
        tool_calls=[
            ToolCall("search", {"query": "double charge", "limit": 5}),
            ToolCall("search", {"query": "refund"}),
            ToolCall("submit", {"category": "billing"}),
        ],
        final_answer=json.dumps({"category": "billing", "meta": {"priority": 2, "tags": ["a", "b"]}, "none": None}),
        reward=0.5,
        turns=4,
        prompt_tokens=900,
        completion_tokens=100,
    )
    fields.update(overrides)
    return Trace(**fields)
