"""A summary for a run folder that has none yet (a crash, a kill, a run still going): built from
what the folder holds, so `agentopt report` can render it as far as it got.

An evaluation: its rubric (inputs/rubric.yaml) and the episodes in traces.jsonl. An
optimization: candidates.jsonl (the baseline, the best accepted candidate so far) and the
val episodes of those two in episodes.jsonl. The summary says `unfinished`; summary.json is
never written from it (it could otherwise serve as someone's --baseline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentopt.records import POOL, Decision, Status
from agentopt.scoring.aggregate import summarize
from agentopt.scoring.result import EpisodeScore
from agentopt.spec.load import load_agent, load_rubric
from agentopt.store.decisions import summary_counts
from agentopt.store.run import TRACES, read_jsonl

EPISODES = "episodes.jsonl"


def _inputs(run: Path) -> tuple[Any, Any]:
    agent = load_agent(str(run / "inputs" / "agent.yaml")) if (run / "inputs" / "agent.yaml").exists() else None
    rubric = load_rubric(str(run / "inputs" / "rubric.yaml")) if (run / "inputs" / "rubric.yaml").exists() else None
    return agent, rubric


def _usage(records: list[dict[str, Any]]) -> dict[str, Any]:
    traces = [r.get("trace") or {} for r in records]
    return {
        "calls": sum(int(t.get("model_calls") or 0) for t in traces), "cached": sum(int(t.get("cached_calls") or 0) for t in traces),
        "retries": 0, "prompt_tokens": sum(int(t.get("prompt_tokens") or 0) for t in traces),
        "completion_tokens": sum(int(t.get("completion_tokens") or 0) for t in traces),
        "cost_usd": sum(float(t.get("cost_usd") or 0.0) for t in traces),
    }


def _split_summary(records: list[dict[str, Any]], rubric: Any) -> dict[str, Any] | None:
    if not records or rubric is None:
        return None
    return summarize([EpisodeScore.from_dict(r["score"]) for r in records if r.get("score")], rubric).to_dict()


def unfinished_note(run: Path, kind: str) -> str:
    if kind == "run":
        return f"unfinished: this run stopped before its end; the report shows it as far as it got (continue it with agentopt run --resume {run})"
    return "unfinished: this evaluation stopped before its end; the report shows the episodes it finished (an evaluation cannot be resumed: run it again)"


def eval_summary(run: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(summary, records) of an evaluation without summary.json."""
    records = list(read_jsonl(run / TRACES)) if (run / TRACES).exists() else []
    agent, rubric = _inputs(run)
    split = next((r.get("trace", {}).get("split") for r in records if r.get("trace", {}).get("split")), "")
    empty: dict[str, Any] = {"n": 0, "n_errors": 0, "mean": None, "ci_low": None, "ci_high": None, "pass_rate": None, "criteria": [], "n_not_applicable": 0}
    summary = {
        "agent": agent.name if agent else run.name, "agent_file": str(run / "inputs" / "agent.yaml"),
        "model": agent.model if agent else "", "rubric": rubric.name if rubric else "", "rubric_file": str(run / "inputs" / "rubric.yaml"),
        "env": "(not recorded: the evaluation did not finish)", "split": split, "summary": _split_summary(records, rubric) or empty, "usage": _usage(records), "wall_s": 0.0, "gate": None,
        "unfinished": unfinished_note(run, "eval"),
    }
    return summary, records


def run_summary(run: Path, decisions: list[Decision]) -> dict[str, Any]:
    """The summary of an optimization without summary.json, from its decisions (candidates.jsonl,
    `store.decisions.read_decisions`): the baseline and the best accepted candidate so far, on val."""
    options = json.loads((run / "run_options.json").read_text(encoding="utf-8")) if (run / "run_options.json").exists() else {}
    agent, rubric = _inputs(run)
    kept = [(d.id, mean) for d in decisions
            if d.status in POOL and (mean := (d.val or {}).get("mean")) is not None]
    baseline_id = next((d.id for d in decisions if d.status is Status.BASELINE), "c0")
    winner_id = max(kept, key=lambda kept_one: kept_one[1])[0] if kept else baseline_id
    val: dict[str, list[dict[str, Any]]] = {baseline_id: [], winner_id: []}
    all_records = 0
    cost = 0.0
    if (run / EPISODES).exists():
        for record in read_jsonl(run / EPISODES):
            all_records += 1
            cost += float((record.get("trace") or {}).get("cost_usd") or 0.0)
            if record.get("split") == "val" and record.get("candidate") in val:
                val[record["candidate"]].append(record)
    config = options.get("config") or {}
    return {
        "agent": agent.name if agent else run.name, "agent_file": options.get("agent_file", ""), "model": agent.model if agent else "",
        "rubric": rubric.name if rubric else "", "env": options.get("env", ""), "mutator_model": config.get("mutator_model", ""),
        "judge_model": getattr(rubric, "judge_model", ""), "stopped": "not yet: no summary.json (see above)", "unfinished": unfinished_note(run, "run"),
        "budget": config.get("budget") or {}, "usage": {"rollouts": all_records, "cost_usd": cost},
        "baseline": {"id": baseline_id, "val": _split_summary(val[baseline_id], rubric), "test": None},
        "winner": {"id": winner_id, "val": _split_summary(val[winner_id], rubric), "test": None},
        "candidates": summary_counts(decisions),
    }
