"""Training data from run folders: `agentopt export RUN --format sft|rl` (docs/learning-loop.md).

- `sft`: one `{"messages": [...]}` line per episode, the OpenAI chat format SFT trainers take.
- `rl`: one line per episode with its messages (each tagged with the side that wrote it:
  `prompt` for the system prompt, `agent` for the model's turns, `environment` for the task
  and every observation), the reward, the rubric score and per-criterion scores, and the
  candidate it came from. With a tokenizer (the embedded llama.cpp server), also the token
  ids of the chat-templated episode and two per-token masks, `agent_mask` and
  `observation_mask`, over that sequence.

Messages are exported as the model saw them (a text tool protocol stays text; native tool
calls stay `tool_calls` + `role: tool`), with every string passed through `redact`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentopt.errors import UsageError
from agentopt.records import Status
from agentopt.redact import redact
from agentopt.store.decisions import CANDIDATES, read_decisions
from agentopt.store.run import SUMMARY, TRACES, read_jsonl

EPISODES = "episodes.jsonl"  # agentopt.optimizer.journal.EPISODES (not imported: it pulls the optimizer in)
FORMATS = ("sft", "rl")
CANDIDATE_FILTERS = ("accepted", "all")


@dataclass
class Picked:
    """One episode of a run folder, with the candidate that played it (None in an eval)."""

    record: dict[str, Any]  # {"trace": ..., "score": ...}
    candidate: str | None


@dataclass
class ExportStats:
    episodes: int = 0  # episodes in the run folder
    written: int = 0
    skipped_errors: int = 0  # infrastructure errors and not-applicable episodes
    skipped_score: int = 0  # below --min-score
    skipped_candidate: int = 0  # not the winner or an accepted candidate
    agent_tokens: int = 0
    observation_tokens: int = 0
    prompt_tokens: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def observation_share(self) -> float | None:
        total = self.agent_tokens + self.observation_tokens + self.prompt_tokens
        return self.observation_tokens / total if total else None


def run_kind(run: Path) -> str:
    """`eval` (traces.jsonl) or `run` (episodes.jsonl); UsageError for anything else."""
    if not run.exists():
        raise UsageError(f"{run}: no such run folder")
    if not run.is_dir():
        raise UsageError(f"{run}: not a run folder (a directory written by agentopt eval or agentopt run)")
    if (run / EPISODES).exists():
        return "run"
    if (run / TRACES).exists():
        return "eval"
    raise UsageError(f"{run}: not a run folder (it has neither {TRACES} nor {EPISODES})")


def kept_candidates(run: Path) -> set[str]:
    """The winner (from summary.json) and every accepted candidate of an optimization run."""
    kept = {d.id for d in read_decisions(run / CANDIDATES) if d.status is Status.ACCEPTED}
    try:
        summary = json.loads((run / SUMMARY).read_text(encoding="utf-8"))
        winner = (summary.get("winner") or {}).get("id")
        if winner:
            kept.add(winner)
    except (OSError, ValueError):
        pass
    return kept


def episodes(run: Path) -> Iterator[Picked]:
    """Every episode of the folder; in a run, the latest line per (candidate, spec, split, task)."""
    if run_kind(run) == "eval":
        for record in read_jsonl(run / TRACES):
            if "trace" in record and "score" in record:
                yield Picked(record, None)
        return
    latest: dict[tuple, dict[str, Any]] = {}
    for record in read_jsonl(run / EPISODES):
        if "trace" not in record or "score" not in record:
            continue
        key = (record.get("candidate"), record.get("spec"), record.get("split"), record["trace"].get("task_id"))
        latest.pop(key, None)  # a retried episode: the later line wins, in its own place
        latest[key] = record
    for record in latest.values():
        yield Picked(record, record.get("candidate"))


def scrub(value: Any) -> Any:
    """`value` with every string redacted (message texts, tool-call arguments)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    return value


def chat_message(message: dict[str, Any]) -> dict[str, Any]:
    """One message in the SFT `messages` format: role, content, tool_calls / tool_call_id / name."""
    out: dict[str, Any] = {"role": message.get("role"), "content": message.get("content")}
    if message.get("tool_calls"):
        out["tool_calls"] = [
            {
                "id": call.get("id"),
                "type": call.get("type", "function"),
                "function": {
                    "name": (call.get("function") or {}).get("name"),
                    "arguments": _arguments_text((call.get("function") or {}).get("arguments")),
                },
            }
            for call in message["tool_calls"]
        ]
    for key in ("tool_call_id", "name"):
        if message.get(key) is not None:
            out[key] = message[key]
    return scrub(out)


def _arguments_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments if arguments is not None else {})


def side_of(message: dict[str, Any]) -> str:
    role = message.get("role")
    if role == "system":
        return "prompt"
    if role == "assistant":
        return "agent"
    return "environment"  # the task, tool results, observations sent back as user turns


def sft_record(picked: Picked) -> dict[str, Any]:
    return {"messages": [chat_message(m) for m in picked.record["trace"].get("messages", [])]}


def rl_record(picked: Picked) -> dict[str, Any]:
    trace, score = picked.record["trace"], picked.record["score"]
    messages = [{**chat_message(m), "side": side_of(m)} for m in trace.get("messages", [])]
    return {
        "episode_id": trace.get("episode_id"),
        "task_id": trace.get("task_id"),
        "split": trace.get("split"),
        "candidate": picked.candidate,
        "reward": trace.get("reward"),
        "score": score.get("score"),
        "passed": score.get("passed"),
        "criteria": {c["id"]: c.get("score") for c in score.get("criteria", [])},
        "messages": messages,
    }


def keep(picked: Picked, min_score: float | None, accepted: set[str] | None, stats: ExportStats) -> bool:
    score = picked.record["score"]
    if score.get("error") is not None or score.get("not_applicable") or picked.record["trace"].get("stop_reason") == "error":
        stats.skipped_errors += 1
        return False
    if accepted is not None and picked.candidate is not None and picked.candidate not in accepted:
        stats.skipped_candidate += 1
        return False
    if min_score is not None and (score.get("score") is None or score["score"] < min_score):
        stats.skipped_score += 1
        return False
    return True


def run_model(run: Path) -> str | None:
    """The `model:` of the run's agent spec (inputs/agent.yaml), or None."""
    import yaml

    for path in (run / "inputs" / "agent.yaml", run / "best" / "agent.yaml"):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("model"):
            return str(data["model"])
    return None


def check_writable(out: Path) -> None:
    if out.is_dir():
        raise UsageError(f"--out {out}: is a directory")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write ({exc.strerror or exc})") from None


def export(
    run: Path, fmt: str, out: Path, min_score: float | None = None, candidates: str = "accepted", tokenizer: Any = None,
) -> ExportStats:
    """Write the export; `tokenizer` (agentopt.export_tokens.Tokenizer) adds token fields to `rl`."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: use sft or rl")
    if candidates not in CANDIDATE_FILTERS:
        raise UsageError(f"unknown --candidates {candidates!r}: use accepted or all")
    kind = run_kind(run)
    check_writable(out)
    accepted = kept_candidates(run) if kind == "run" and candidates == "accepted" else None
    stats = ExportStats()
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for picked in episodes(run):
            stats.episodes += 1
            if not keep(picked, min_score, accepted, stats):
                continue
            if fmt == "sft":
                record = sft_record(picked)
            else:
                record = rl_record(picked)
                if tokenizer is not None:
                    tokens = tokenizer.tokenize_episode(record["messages"])
                    for message, count in zip(record["messages"], tokens["message_tokens"]):
                        message["n_tokens"] = count
                    record["tokens"] = {k: v for k, v in tokens.items() if k != "message_tokens"}
                    stats.agent_tokens += sum(tokens["agent_mask"])
                    stats.observation_tokens += sum(tokens["observation_mask"])
                    stats.prompt_tokens += len(tokens["ids"]) - sum(tokens["agent_mask"]) - sum(tokens["observation_mask"])
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            stats.written += 1
    tmp.replace(out)
    return stats
