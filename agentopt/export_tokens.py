"""Token ids and agent/observation masks for `agentopt export --format rl`, from the embedded
model's llama.cpp server (its own chat template, `POST /apply-template`, and tokenizer,
`POST /tokenize`).

The sequence is the episode rendered by the model's chat template, as one string. Message
i's segment ends where rendering the first i+1 messages followed by a user turn and followed
by a system turn stop agreeing (after its end-of-turn token and the start of the next
header). The header the template puts before the model's answer (its generation prompt, e.g.
`<|im_start|>assistant\\n`) is given to the segment before, so an agent segment holds what
the model wrote plus its end-of-turn token. The final generation prompt is
not part of the sequence. The whole string is tokenized once, and each token is given to the
segment its first byte falls in, so the masks line up with the tokenization by construction.

Native tool calls are rendered the way llama.cpp's generic tool format has the model write
them (`{"tool_call": {"name": ..., "arguments": ...}}` as the assistant's text): templates
without tool support otherwise drop them from the history.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from agentopt.errors import InfraError

SENTINEL = "\u2063"  # an invisible separator: a user turn that is never in an episode


def template_form(message: dict[str, Any]) -> dict[str, Any]:
    """The message as the chat template renders it: role + text content."""
    role = message.get("role") or "user"
    content = message.get("content")
    if isinstance(content, list):  # content parts: keep the text ones
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    content = content or ""
    calls = message.get("tool_calls") or []
    if calls:
        rendered = []
        for call in calls:
            fn = call.get("function") or {}
            args = fn.get("arguments")
            try:
                args = json.loads(args) if isinstance(args, str) else args
            except ValueError:
                pass
            rendered.append(json.dumps({"tool_call": {"name": fn.get("name"), "arguments": args}}))
        content = (content + "\n" if content else "") + "\n".join(rendered)
    return {"role": role, "content": content}


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class Tokenizer:
    """`with Tokenizer.local() as tok: tok.tokenize_episode(messages)`; or Tokenizer(url)."""

    def __init__(self, url: str, server: Any = None):
        self.url = url.rstrip("/")
        self._server = server
        self._http = httpx.Client(timeout=60.0)

    @classmethod
    def local(cls, log_path: Path | None = None) -> Tokenizer:
        """Start the embedded model server (InfraError when it is not installed or fails)."""
        from agentopt.models.local import LocalModelServer

        server = LocalModelServer(log_path=log_path, parallel=1)
        server.start()
        return cls(server.url, server)

    def close(self) -> None:
        self._http.close()
        if self._server is not None and self._server.running:
            self._server.stop()

    def __enter__(self) -> Tokenizer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.post(self.url + path, json=body)
        except httpx.HTTPError as exc:
            raise InfraError(f"the tokenizer server at {self.url} did not answer {path}: {exc}") from None
        if response.status_code != 200:
            raise InfraError(f"the tokenizer server answered {path} with HTTP {response.status_code}: {response.text[:200]}")
        return response.json()

    def render(self, messages: list[dict[str, Any]]) -> str:
        return self._post("/apply-template", {"messages": messages})["prompt"]

    def tokenize(self, text: str) -> list[dict[str, Any]]:
        """[{"id", "piece"}] of `text`, special tokens parsed, none added."""
        return self._post("/tokenize", {"content": text, "add_special": False, "parse_special": True, "with_pieces": True})["tokens"]

    def detokenize(self, ids: list[int]) -> str:
        return self._post("/detokenize", {"tokens": ids})["content"]

    def segments(self, messages: list[dict[str, Any]]) -> tuple[str, list[int]]:
        """The templated text and each message's end offset (characters) in it.

        A message ends where the template's text for "this message, then any other turn"
        stops being shared (after its end-of-turn token and the next header's start); an
        agent message starts after the generation prompt, which goes to the message before."""
        conv = [template_form(m) for m in messages]
        if not conv:
            return "", []
        ends = []
        for i in range(len(conv)):
            after_user = self.render([*conv[: i + 1], {"role": "user", "content": SENTINEL}])
            after_system = self.render([*conv[: i + 1], {"role": "system", "content": SENTINEL}])
            ends.append(_common_prefix(after_user, after_system))
        text = after_user[: ends[-1]]
        for i in range(1, len(conv)):
            if messages[i].get("role") == "assistant":  # the generation prompt belongs before
                start = _common_prefix(self.render(conv[:i]), self.render(conv[: i + 1]))
                ends[i - 1] = max(ends[i - 1], min(start, ends[i]))
        for i in range(1, len(ends)):
            ends[i] = max(ends[i], ends[i - 1])
        return text, ends

    def tokenize_episode(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """ids, agent_mask, observation_mask (per token, same length) and message_tokens (per message)."""
        text, ends = self.segments(messages)
        byte_ends = [len(text[:end].encode("utf-8")) for end in ends]
        tokens = self.tokenize(text)
        sides = [m.get("side") or "environment" for m in messages]
        ids, agent, observation, counts = [], [], [], [0] * len(messages)
        offset, segment = 0, 0
        for token in tokens:
            while segment < len(byte_ends) - 1 and offset >= byte_ends[segment]:
                segment += 1
            piece = token.get("piece", "")
            offset += len(bytes(piece)) if isinstance(piece, list) else len(piece.encode("utf-8"))
            ids.append(token["id"])
            side = sides[segment] if sides else "environment"
            agent.append(1 if side == "agent" else 0)
            observation.append(1 if side == "environment" else 0)
            if counts:
                counts[segment] += 1
        return {"ids": ids, "agent_mask": agent, "observation_mask": observation, "message_tokens": counts}
