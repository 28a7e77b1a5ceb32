"""The usual run folder, written from a shared run's database rows (`agentopt report RUN --storage URL`).

run_options.json (credentials already redacted when stored), splits.json, plan.json, overlap.json,
inputs/, candidates/<id>/ spec folders, episodes.jsonl and candidates.jsonl (in the order the
database recorded them), and, once a worker finished the run, summary.json, best/ and the reports:
the same files `agentopt run` writes for a run played by one process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from agentopt.optimizer.journal import EPISODES
from agentopt.optimizer.shared import INPUTS, SqlRunStore
from agentopt.store.decisions import CANDIDATES
from agentopt.store.run import SUMMARY, RunFolder

RUN_OPTIONS = "run_options.json"
WriteOutputs = Callable[[RunFolder, dict[str, Any], Any], None]


def _write_lines(path: Path, records: Any) -> int:
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, default=str) + "\n")
            n += 1
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    return n


def export_run(store: SqlRunStore, run: RunFolder, write_outputs: WriteOutputs) -> dict[str, Any]:
    """Write the run folder from the database; returns what was written (counts, finished or not).
    `write_outputs`: agentopt.api.write_outputs (best/, summary.json, the reports), passed in by
    the caller so this module does not import the API back."""
    from agentopt.optimizer.artifacts import load_candidate_spec
    from agentopt.optimizer.types import Candidate

    run.path.mkdir(parents=True, exist_ok=True)
    run.logs.mkdir(exist_ok=True)
    options = store.options()
    if options is not None:
        run.write_json(RUN_OPTIONS, options)
    for name in store.doc_names():
        run.write_json(name, store.doc(name))
    for owner in store.owners():
        store.materialize(owner, run.path / "inputs" if owner == INPUTS else run.path / "candidates" / owner)
    n_episodes = _write_lines(run.path / EPISODES, store.all_episodes())
    store.refresh()
    n_decisions = _write_lines(run.path / CANDIDATES, (d.to_dict() for d in store.decisions))
    row = store.run_row() or {}
    summary = json.loads(row["summary"]) if row.get("summary") else None
    if summary is not None:
        winner_id = summary["winner"]["id"]
        baseline = Candidate("c0", load_candidate_spec(run.path / "candidates" / "c0"))
        winner = baseline if winner_id == "c0" else Candidate(winner_id, load_candidate_spec(run.path / "candidates" / winner_id))
        write_outputs(run, summary, SimpleNamespace(winner=winner, baseline=baseline))
    elif (run.path / SUMMARY).exists():
        (run.path / SUMMARY).unlink()  # not finished in the database: no stale summary beside the new rows
    return {"episodes": n_episodes, "decisions": n_decisions, "finished": summary is not None, "finished_by": row.get("finished_by")}
