import json

import pytest

from agentopt.errors import ProviderError
from agentopt.models.types import ChatRequest, ChatResponse
from agentopt.scoring.base import CheckContext, get_check
from agentopt.scoring.judge import SYSTEM_PROMPT, first_sentence, transcript

from . import make_trace

PROMPT = "Task: {{ task.input }}\nExpected: {{ expected.category }}\nAnswer: {{ answer }}\n{{ transcript }}"


class CannedJudge:
    """A ChatModel that answers every request with the same content and records the requests."""

    def __init__(self, content: str | None):
        self.content = content
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        return ChatResponse(content=self.content)


async def judge(content, params=None, **ctx_fields):
    model = CannedJudge(content)
    ctx = CheckContext(judge=model, **ctx_fields)
    result = await get_check("llm_judge").score(make_trace(), {"prompt": PROMPT, **(params or {})}, ctx)
    return result, model.requests


def verdict(score, reasoning="The answer names the right category. It is polite."):
    return json.dumps({"reasoning": reasoning, "score": score})


async def test_request_carries_rendered_prompt_and_schema():
    result, [request] = await judge(verdict(4), {"scale": {"min": 0, "max": 10}}, judge_model="gpt-judge")
    assert request.model == "gpt-judge"
    assert request.temperature == 0 and request.max_tokens == 300
    assert request.json_schema == {
        "type": "object",
        "properties": {"reasoning": {"type": "string"}, "score": {"type": "integer", "minimum": 0, "maximum": 10}},
        "required": ["reasoning", "score"],
    }
    system, user = request.messages
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert user["role"] == "user"
    assert user["content"] == (
        "Task: My card was charged twice\nExpected: billing\nAnswer: " + make_trace().final_answer + "\n" + transcript(make_trace())
    )
    assert result.score == pytest.approx(0.4)


async def test_score_is_normalized_and_reasoning_kept():
    result, _ = await judge(verdict(4))
    assert result.score == pytest.approx(0.75)
    assert result.feedback == "The answer names the right category."
    assert result.details == {
        "reasoning": "The answer names the right category. It is polite.",
        "raw_score": 4,
        "scale": [1, 5],
        "model": "local",
    }


async def test_params_model_overrides_the_rubric_default():
    _, [request] = await judge(verdict(1), {"model": "openai/gpt-4o-mini"}, judge_model="local")
    assert request.model == "openai/gpt-4o-mini"


async def test_json_wrapped_in_a_code_fence_is_accepted():
    result, _ = await judge("```json\n" + verdict(5) + "\n```")
    assert result.score == 1.0


async def test_empty_reasoning_gives_a_score_sentence():
    result, _ = await judge(verdict(2, reasoning=""))
    assert result.feedback == "The judge scored 2 of 5."


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("I think it deserves a 4", "judge returned no JSON object: 'I think it deserves a 4'"),
        (None, "judge returned no JSON object: ''"),
        (json.dumps([1, 2]), "judge returned no JSON object: '[1, 2]'"),
        (json.dumps({"reasoning": "ok"}), "judge returned score None, not an integer from 1 to 5"),
        (verdict(7), "judge returned score 7, not an integer from 1 to 5"),
        (verdict("4"), "judge returned score '4', not an integer from 1 to 5"),
        (verdict(3.5), "judge returned score 3.5, not an integer from 1 to 5"),
    ],
)
async def test_unparseable_output_is_a_provider_error(content, message):
    with pytest.raises(ProviderError) as caught:
        await judge(content)
    assert str(caught.value) == message


async def test_missing_judge_client_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CheckContext.judge is None"):
        await get_check("llm_judge").score(make_trace(), {"prompt": "x"}, CheckContext())


def test_transcript_is_readable():
    assert transcript(make_trace()) == "\n\n".join(
        [
            "[user] My card was charged twice",
            "[assistant] Let me look that up.",
            '[assistant calls search] {"query": "refund"}',
            "[tool result: search] refund policy",
            "[assistant] Here is the answer.",
        ]
    )


def test_first_sentence():
    assert first_sentence("Correct category. Also polite!") == "Correct category."
    assert first_sentence("No period here") == "No period here."


def test_validate():
    check = get_check("llm_judge")
    assert check.default_pass_at == 0.5
    assert check.validate({"prompt": "{{ answer }}"}) == []
    assert check.validate({"prompt": "{{ answer", "scale": {"min": 5, "max": 5}}) == [
        ("prompt", "template does not parse (line 1): unexpected end of template, expected 'end of print statement'."),
        ("scale.max", "must be greater than scale.min"),
    ]
