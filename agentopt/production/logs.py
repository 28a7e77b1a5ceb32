"""Reading captured conversations: what a user asked, and the human label when there is one.

Two formats, told apart by content, not by file name:

- **Chat-completions logs** (JSONL, one call per line), as API gateways and SDK wrappers write
  them: `{"request": {"model", "messages": [...]}, "response": {chat.completion}}`; a line that
  is just a request (`{"messages": [...]}`) works too.
- **OpenTelemetry GenAI spans** exported as JSON: an OTLP/JSON document
  (`{"resourceSpans": [{"scopeSpans": [{"spans": [...]}]}]}`, attributes as `{key, value:
  {stringValue|intValue|...}}`), a JSON list of spans, or spans one per line with plain
  `attributes` objects (the SDK's console exporter). The user's request is read from
  `gen_ai.input.messages` (the semantic conventions' `[{role, parts: [{type: text, content}]}]`),
  or the older indexed `gen_ai.prompt.N.role` / `gen_ai.prompt.N.content`.

The request is the conversation's last user message in that call (earlier ones were the
requests of earlier calls). A **human label** is a field named `expected`, `label` or
`correction` (or one ending in `.expected`, `.label`, `.correction`, e.g. `app.review.correction`):
at the top of a log line, in its `metadata` or its request's `metadata`, or among a span's
attributes. A JSON object in a string is parsed (`"{\\"category\\": \\"billing\\"}"`).
A conversation id (`metadata.conversation_id`, `gen_ai.conversation.id`) is kept for reports.

Bad input is one line naming the file and line: bytes that are not UTF-8, a line that is not
JSON, a record in neither format.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentopt.envs.builtin.jsonl import DataError, decode_line, read_jsonl

LABEL_KEY = re.compile(r"(^|\.)(expected|label|correction)$")


@dataclass(frozen=True)
class Conversation:
    """One captured call: where it came from, what the user asked, and its human label."""

    source: str  # file:line
    request: str  # the user's last message, as captured (not yet redacted)
    label: Any = None  # the human label or correction; None when the log has none
    conversation_id: str | None = None
    format: str = "chat"  # "chat" (chat-completions log) or "otel" (a GenAI span)


def read_conversations(path: Path) -> list[Conversation]:
    """Every conversation in one file, in file order; DataError (file:line) on bad input."""
    raw = path.read_bytes()
    first = next((i for i, line in enumerate(raw.splitlines(), start=1) if line.strip()), None)
    if first is None:
        return []
    document = _whole_document(path, raw)
    if document is not None:
        return [c for line, span in _spans(document) if (c := _from_span(path, line, span)) is not None]
    found = []
    for line, record in read_jsonl(path):
        if not isinstance(record, dict):
            raise DataError(path, line, "not a JSON object (a chat-completions log line or an OpenTelemetry span)")
        conversation = _from_span(path, line, record) if _is_span(record) else _from_chat(path, line, record)
        if conversation is not None:
            found.append(conversation)
    return found


def _whole_document(path: Path, raw: bytes) -> Any:
    """The file as one JSON document when it is one (OTLP/JSON, a list of spans), else None (JSONL).
    A document that starts like one but does not parse is reported at the line where it breaks."""
    lines = raw.splitlines()
    for number, line in enumerate(lines, start=1):
        decode_line(path, number, line)  # a byte that is not UTF-8: its line and column
    text = raw.decode("utf-8-sig")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        first = text.lstrip().splitlines()[0]
        try:
            json.loads(first)
        except json.JSONDecodeError:
            if len(text.strip().splitlines()) > 1 and first.strip() in ("{", "["):
                raise DataError(path, exc.lineno, f"not valid JSON: {exc.msg}") from None
        return None
    if isinstance(document, list) or (isinstance(document, dict) and ("resourceSpans" in document or "spans" in document)):
        return document
    return None  # one JSON object on one line: a JSONL file of one record


def _spans(document: Any) -> list[tuple[int, dict[str, Any]]]:
    """(ordinal, span) for every span of an OTLP/JSON document or a list of spans."""
    spans: list[dict[str, Any]] = []
    if isinstance(document, dict) and "resourceSpans" in document:
        for resource in document.get("resourceSpans") or []:
            for scope in resource.get("scopeSpans") or resource.get("instrumentationLibrarySpans") or []:
                spans.extend(scope.get("spans") or [])
    elif isinstance(document, dict):
        spans = list(document.get("spans") or [])
    else:
        spans = [s for s in document if isinstance(s, dict)]
    return list(enumerate(spans, start=1))


def _is_span(record: dict[str, Any]) -> bool:
    return "attributes" in record and ("spanId" in record or "span_id" in record or "context" in record or "name" in record)


def attributes(span: dict[str, Any]) -> dict[str, Any]:
    """A span's attributes as a plain dict, from OTLP/JSON's `[{key, value: {xValue}}]` or a dict
    (an entry without a text key names no attribute: it is left out)."""
    raw = span.get("attributes") or {}
    if isinstance(raw, dict):
        return dict(raw)
    return {a["key"]: _any_value(a.get("value") or {}) for a in raw if isinstance(a, dict) and isinstance(a.get("key"), str)}


def _any_value(value: dict[str, Any]) -> Any:
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_any_value(v) for v in (value["arrayValue"].get("values") or [])]
    if "kvlistValue" in value:
        return {kv.get("key"): _any_value(kv.get("value") or {}) for kv in (value["kvlistValue"].get("values") or [])}
    return None


def _from_span(path: Path, line: int, span: dict[str, Any]) -> Conversation | None:
    """A GenAI span's conversation, or None when the span is not a model call with user input."""
    attrs = attributes(span)
    messages = _parsed(attrs.get("gen_ai.input.messages"))
    if not isinstance(messages, list):
        messages = _indexed_prompt(attrs)
    request = _last_user_text(messages)
    if request is None:
        return None
    label = next((_parsed(v) for k, v in attrs.items() if isinstance(k, str) and LABEL_KEY.search(k)), None)
    conversation = attrs.get("gen_ai.conversation.id")
    return Conversation(f"{path}:{line}", request, label, None if conversation is None else str(conversation), "otel")


def _indexed_prompt(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """The older `gen_ai.prompt.N.role` / `gen_ai.prompt.N.content` attributes, in N order."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        match = re.fullmatch(r"gen_ai\.prompt\.(\d+)\.(role|content)", str(key))
        if match:
            found.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [found[i] for i in sorted(found)]


def _from_chat(path: Path, line: int, record: dict[str, Any]) -> Conversation | None:
    inner = record.get("request")
    request: dict[str, Any] = inner if isinstance(inner, dict) else record
    messages = request.get("messages")
    if not isinstance(messages, list):
        raise DataError(path, line, "no request messages: expected {\"request\": {\"messages\": [...]}, \"response\": {...}} or {\"messages\": [...]}")
    text = _last_user_text(messages)
    if text is None:
        return None
    places = [record, record.get("metadata"), request.get("metadata")]
    label = next((_parsed(p[k]) for p in places if isinstance(p, dict) for k in p if LABEL_KEY.search(str(k)) and p[k] is not None), None)
    meta = {k: v for p in (request.get("metadata"), record.get("metadata")) if isinstance(p, dict) for k, v in p.items()}
    conversation = meta.get("conversation_id") or record.get("conversation_id")
    return Conversation(f"{path}:{line}", text, label, None if conversation is None else str(conversation), "chat")


def _last_user_text(messages: Any) -> str | None:
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            text = _text(message)
            if text.strip():
                return text
    return None


def _text(message: dict[str, Any]) -> str:
    """A message's text: OpenAI `content` (a string or parts) or OTel `parts` ({type: text, content})."""
    content = message.get("content", message.get("parts"))
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type", "text") == "text":
                texts.append(str(part.get("text", part.get("content", ""))))
        return "\n".join(t for t in texts if t)
    return ""


def _parsed(value: Any) -> Any:
    """A JSON object or list held in a string, parsed; anything else as it is."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
