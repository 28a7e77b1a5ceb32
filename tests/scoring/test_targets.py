import pytest

from agentopt.scoring.targets import select, select_value, validate_target

from . import make_trace


@pytest.mark.parametrize(
    "target", ["answer", "answer.a", "answer.a.b", "last_message", "messages", "tool:search.query", "tool:mcp.search.q", "info.policy_violations"]
)
def test_valid_targets(target):
    assert validate_target(target) is None


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("answers", "unknown target 'answers': use answer, answer.KEY, last_message, messages, tool:NAME.ARG or info.KEY"),
        ("answer.", "target 'answer.' has an empty key"),
        ("answer.a..b", "target 'answer.a..b' has an empty key"),
        ("tool:search", "target 'tool:search' must look like tool:NAME.ARG"),
        ("tool:.query", "target 'tool:.query' must look like tool:NAME.ARG"),
        (3, "target must be a string (answer, answer.KEY, last_message, messages, tool:NAME.ARG or info.KEY)"),
    ],
)
def test_invalid_targets(target, message):
    assert validate_target(target) == message


def test_answer():
    trace = make_trace(final_answer="hello")
    assert select(trace, "answer") == ["hello"]
    assert select_value(trace, "answer") == "hello"
    assert select(make_trace(final_answer=None), "answer") == []
    assert select_value(make_trace(final_answer=None), "answer") is None


def test_answer_keys():
    trace = make_trace()
    assert select(trace, "answer.category") == ["billing"]
    assert select(trace, "answer.meta.priority") == ["2"]
    assert select_value(trace, "answer.meta.priority") == 2
    assert select(trace, "answer.meta") == ['{"priority": 2, "tags": ["a", "b"]}']
    assert select(trace, "answer.meta.tags.1") == ["b"]
    assert select(trace, "answer.none") == ["null"]
    assert select_value(trace, "answer.none") is None
    for missing in ("answer.nope", "answer.category.deeper", "answer.meta.tags.5"):
        assert select(trace, missing) == []
        assert select_value(trace, missing) is None
    assert select(make_trace(final_answer="not json"), "answer.category") == []


def test_last_message_skips_empty_and_reads_content_parts():
    trace = make_trace()
    assert select(trace, "last_message") == ["Here is the answer."]
    assert select(make_trace(messages=[{"role": "user", "content": "hi"}]), "last_message") == []


def test_messages_are_assistant_texts_then_tool_arguments():
    assert select(make_trace(), "messages") == [
        "Let me look that up.",
        "Here is the answer.",
        '{"query": "double charge", "limit": 5}',
        '{"query": "refund"}',
        '{"category": "billing"}',
    ]


def test_tool_argument():
    trace = make_trace()
    assert select(trace, "tool:search.query") == ["double charge", "refund"]
    assert select(trace, "tool:search.limit") == ["5"]
    assert select_value(trace, "tool:search.query") == "refund"  # the last call
    assert select(trace, "tool:missing.query") == []
    assert select_value(trace, "tool:search.nope") is None


def test_invalid_target_raises():
    with pytest.raises(ValueError, match="unknown target"):
        select(make_trace(), "everything")


def test_info_keys_read_the_environments_last_metadata():
    trace = make_trace(info={"policy_violations": ["refund_over_price"], "changes": {"refunds": []}})
    assert select_value(trace, "info.policy_violations") == ["refund_over_price"]
    assert select(trace, "info.changes.refunds") == ["[]"]
    assert select_value(trace, "info.missing") is None
