"""`agentopt worker RUN --storage URL`: join a shared run from any machine, and
`agentopt report RUN --storage URL`: write its run folder from the database.

A worker reads everything it needs from the database: the run's options, the baseline spec,
the rubric and the tasks file; it plays in its own folder, `RUNS_DIR/RUN-worker-<host>-<pid>`
(environment logs, spec folders), and writes the run folder there when the run is finished.
The environment is the run's `--env` (a dataset path must exist on this machine too; a URL must
be reachable from it); a URL saved without its credentials needs `--env` again, with them.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from agentopt.errors import UsageError
from agentopt.redact import redact_url, redacted_errors
from agentopt.store.run import RunFolder

if TYPE_CHECKING:
    from agentopt.optimizer.shared import SqlRunStore


def _open(run_id: str, storage: str) -> SqlRunStore:
    from agentopt.optimizer.shared import SqlRunStore, run_ids
    from agentopt.storage_url import check_storage

    check_storage(storage)
    known = run_ids(storage)
    if run_id not in known:
        listed = ", ".join(known[-5:]) if known else "none"
        raise UsageError(f"run {run_id} is not in {redact_url(storage)} (runs there: {listed}); start one with agentopt run ... --storage URL")
    return SqlRunStore(storage, run_id)


def _unreadable(run_id: str, why: str) -> UsageError:
    return UsageError(f"run {run_id}: its options in the database are not ones this agentopt can read ({why})")


def run_worker(run_id: str, storage: str, runs_dir: Path, env: str | None, sandbox: str, sandbox_image: str | None) -> int:
    from agentopt.api import RunSetup, _with_credentials
    from agentopt.commands.run import play_run
    from agentopt.envs.session import parse_env
    from agentopt.optimizer.artifacts import load_candidate_spec
    from agentopt.optimizer.loop import RunConfig
    from agentopt.optimizer.shared import INPUTS
    from agentopt.spec.load import load_rubric

    with redacted_errors(), ExitStack() as held:
        store = _open(run_id, storage)
        options = store.options() or {}
        try:
            config = RunConfig.from_dict(options["config"])
            saved_env = options["env"]
        except (KeyError, TypeError, ValueError) as exc:
            raise _unreadable(run_id, f"{type(exc).__name__}: {exc}") from None
        if not isinstance(saved_env, str):
            raise _unreadable(run_id, f"its env is {saved_env!r}, not text")
        _with_credentials("--env", saved_env, env)  # a given --env must be the run's; one with credentials must be given
        env = saved_env if env is None else env
        config = replace(config, storage=storage)
        folder = Path(runs_dir) / f"{run_id}-worker-{store.worker}"
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        run = RunFolder(folder)
        held.enter_context(run.locked())
        store.materialize(INPUTS, run.path / "inputs")
        if not store.materialize("c0", run.path / "candidates" / "c0"):
            raise UsageError(f"run {run_id}: the database holds no baseline spec (c0)")
        if config.eval.tasks_file:
            local = next((p for p in (run.path / "inputs").glob("tasks.*")), None)
            if local is not None:
                config = replace(config, eval=replace(config.eval, tasks_file=str(local)))
        run.write_json("run_options.json", {**options, "worker": store.worker})
        spec = load_candidate_spec(run.path / "candidates" / "c0")
        rubric = load_rubric(str(run.path / "inputs" / "rubric.yaml"))
        target = parse_env(env, sandbox=sandbox, sandbox_image=sandbox_image)
        store.close()
        setup = RunSetup(spec, rubric, target, run, config, options.get("agent_file") or str(run.path / "candidates" / "c0" / "agent.yaml"),
                         env, resumed=True, run_id=run_id)
        return play_run(setup)


def export_from_storage(run: str, storage: str, runs_dir: Path) -> str:
    """Write RUNS_DIR/RUN from the database (RUN: a run id, or a run folder whose run_options.json names it)."""
    import json

    from agentopt.api import write_outputs
    from agentopt.export_run import export_run

    run_id = run
    candidate = Path(run)
    if (candidate / "run_options.json").is_file():
        run_id = json.loads((candidate / "run_options.json").read_text(encoding="utf-8")).get("run_id") or candidate.name
        target = candidate
    else:
        target = Path(runs_dir) / run_id
    with redacted_errors():
        store = _open(run_id, storage)
        try:
            written = export_run(store, RunFolder(target), write_outputs)
        finally:
            store.close()
    state = "finished" if written["finished"] else "not finished yet (no summary.json: the workers are still at it)"
    report = f"; report: {target / 'report.html'}" if written["finished"] else ""
    return f"{target}: {written['decisions']} decisions, {written['episodes']} episodes, {state}{report}"
