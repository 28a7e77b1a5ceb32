"""The `agentopt` command. Thin: parses options, calls one function per command, maps errors
to exit codes (0 ok, 1 gate failed, 2 usage or validation error, 3 infrastructure error).

Heavy modules (litellm, openenv, the model client) are imported inside the commands so
`agentopt --help` answers at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from agentopt import cli_help  # noqa: F401  (clean help: AGENT in usage lines, no <bool> beside flags)
from agentopt.errors import AgentoptError, ValidationError

app = typer.Typer(
    help="Make LLM agents measurably better: evaluate them in OpenEnv episodes against a YAML rubric, and gate CI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
env_app = typer.Typer(help="Run the built-in OpenEnv environments.", no_args_is_help=True)
app.add_typer(env_app, name="env")
tasks_app = typer.Typer(help="Build task files for environments.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")


def _print_version(value: bool) -> None:
    if value:
        from agentopt import __version__

        typer.echo(f"agentopt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
) -> None:
    pass


def _fail(error: AgentoptError) -> None:
    from rich.console import Console

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if isinstance(error, ValidationError):
        for problem in error.problems:
            err.print(str(problem), markup=False)
    else:
        err.print(f"error: {error}", markup=False)
    raise typer.Exit(error.exit_code)


def _usage(message: str) -> AgentoptError:
    from agentopt.errors import UsageError

    return UsageError(message)


@app.command()
def validate(
    files: list[Path] | None = typer.Argument(None, help="Agent specs, rubrics and project files (default: ./agentopt.yaml and the files it names)."),
    config: Path | None = typer.Option(None, "--config", help="The project file to check when no FILES are given."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document (docs/json.md) instead of lines."),
) -> None:
    """Check agent specs, rubrics and project files; print one `file:line:col: field: problem` line per mistake.

    Risks that are not mistakes (a regex with nested quantifiers) print as
    `file:line:col: warning: field: ...` lines and leave the exit code alone."""
    from agentopt.commands.validate import run_validate

    try:
        code = run_validate(files, config, json_output)
    except AgentoptError as error:
        _fail(error)
    raise typer.Exit(code)


def _verbosity(quiet: bool, verbose: bool) -> int:
    if quiet and verbose:
        raise _usage("--quiet and --verbose contradict each other: give one of them")
    return -1 if quiet else 1 if verbose else 0


def _sandbox_mode(sandbox: str | None, no_sandbox: bool) -> str:
    """--sandbox MODE, with --no-sandbox kept as a synonym of --sandbox none."""
    if no_sandbox:
        if sandbox not in (None, "none"):
            raise _usage(f"--no-sandbox contradicts --sandbox {sandbox}: give one of them")
        return "none"
    return sandbox or "local"


@app.command()
def schema(kind: str = typer.Argument(..., help="agent, rubric or project")) -> None:
    """Print the JSON Schema of agent specs, rubrics or the project file (for editor completion)."""
    import json

    from agentopt.project import SCHEMA as project_schema
    from agentopt.spec.schema import agent_json_schema, rubric_json_schema

    makers = {"agent": agent_json_schema, "rubric": rubric_json_schema, "project": lambda: project_schema}
    if kind not in makers:
        _fail(_usage(f"unknown schema {kind!r}: use agent, rubric or project"))
    typer.echo(json.dumps(makers[kind](), indent=2))


@app.command("eval")
def eval_command(
    ctx: typer.Context,
    agent: Path | None = typer.Argument(None, help="The agent spec (agents/NAME.yaml). Default: the project file's."),
    rubric: Path | None = typer.Option(None, "--rubric", "-r", help="The rubric (rubrics/NAME.yaml)."),
    env: str | None = typer.Option(None, "--env", "-e", help="support, dataset:FILE.jsonl, module:factory, a server URL, or several servers' URLs separated by commas (sessions spread over them)."),
    split: str = typer.Option("val", help="Which split's tasks to play."),
    episodes: int | None = typer.Option(None, min=1, help="Play only the first N tasks of the split."),
    concurrency: int = typer.Option(4, min=1, help="Episodes run at once."),
    min_score: float | None = typer.Option(None, min=0.0, max=1.0, help="Exit 1 when the mean score is below this."),
    baseline: Path | None = typer.Option(None, help="A summary.json to compare against."),
    max_drop: float = typer.Option(0.0, min=0.0, help="With --baseline: exit 1 when the score drops by more than this."),
    junit: Path | None = typer.Option(None, help="Write JUnit XML here (one testcase per episode)."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run folders are written."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Call the model even for requests answered before."),
    max_errors: int = typer.Option(0, min=0, help="Infrastructure errors tolerated before exiting 3."),
    repeat: int = typer.Option(1, min=1, help="Play each task this many times, each with its own seed."),
    tasks: Path | None = typer.Option(None, "--tasks", help="A JSONL or YAML file of reset arguments per split (docs/environments.md)."),
    seed: int = typer.Option(0, min=0, help="Base seed of the episodes (each episode: base + its index; seeded splits add their range)."),
    sandbox: str | None = typer.Option(None, "--sandbox", help="How launched environment servers are confined: local (default), docker or none (docs/sandbox.md)."),
    sandbox_image: str | None = typer.Option(None, "--sandbox-image", help="With --sandbox docker: the image (default $AGENTOPT_SANDBOX_IMAGE or agentopt-env:latest)."),
    no_sandbox: bool = typer.Option(False, "--no-sandbox", help="Same as --sandbox none: no isolation (docs/sandbox.md)."),
    env_replicas: int = typer.Option(1, "--env-replicas", min=1, help="Launch N servers of a launched environment and spread sessions over them, least-loaded (docs/environments.md)."),
    config: Path | None = typer.Option(None, "--config", help="The project file (default: ./agentopt.yaml when there is one)."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document on stdout (docs/json.md); the rest goes to stderr."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the result lines, warnings and errors (no progress bar, no tables)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also one line per episode as it finishes."),
) -> None:
    """Evaluate an agent: play a split's episodes, score each against the rubric, write runs/<time>-eval-<agent>/.

    With no arguments, the project file (agentopt.yaml) names the agent, rubric and environment; flags override it."""
    try:
        from agentopt.commands.eval import run_eval
        from agentopt.project import merged

        p = merged(ctx, "eval", config)
        agent, rubric, env, split, episodes, concurrency = p["agent"], p["rubric"], p["env"], p["split"], p["episodes"], p["concurrency"]
        min_score, baseline, max_drop, junit, runs_dir = p["min_score"], p["baseline"], p["max_drop"], p["junit"], p["runs_dir"]
        max_errors, repeat, tasks, seed, env_replicas = p["max_errors"], p["repeat"], p["tasks"], p["seed"], p["env_replicas"]
        if agent is None or rubric is None or env is None:
            raise _usage("agentopt eval needs AGENT, --rubric and --env, or a project file (agentopt.yaml; `agentopt init` writes one)")
        code = run_eval(
            agent=agent, rubric=rubric, env=env, split=split, episodes=episodes, concurrency=concurrency,
            min_score=min_score, baseline=baseline, max_drop=max_drop, junit=junit, runs_dir=runs_dir,
            use_cache=not no_cache, max_errors=max_errors, sandbox=_sandbox_mode(sandbox, no_sandbox),
            sandbox_image=sandbox_image, repeat=repeat, tasks=tasks, seed=seed, as_json=json_output, env_replicas=env_replicas,
            verbosity=_verbosity(quiet, verbose),
        )
    except AgentoptError as error:
        if json_output and not getattr(error, "reported_as_json", False):
            from agentopt.commands.json_output import emit, error_document

            emit(error_document("eval", error))
        _fail(error)
    raise typer.Exit(code)


@app.command("run")
def run_command(
    ctx: typer.Context,
    agent: Path | None = typer.Argument(None, help="The agent spec to optimize (agents/NAME.yaml)."),
    rubric: Path | None = typer.Option(None, "--rubric", "-r", help="The rubric (rubrics/NAME.yaml)."),
    env: str | None = typer.Option(None, "--env", "-e", help="support, dataset:FILE.jsonl, module:factory, a server URL, or several servers' URLs separated by commas (sessions spread over them)."),
    resume: Path | None = typer.Option(None, help="Continue the run in this folder after a crash, a kill or a STOP."),
    max_rollouts: int | None = typer.Option(None, min=1, help="Episodes to spend in all (baseline, screening, val, test). Default 300 when no budget is given."),
    max_cost: float | None = typer.Option(None, min=0.0, help="USD to spend at most (from litellm prices; 0 for local)."),
    max_time: float | None = typer.Option(None, min=1.0, help="Seconds to run at most."),
    max_candidates: int | None = typer.Option(None, min=1, help="Candidates to propose at most."),
    minibatch: int = typer.Option(8, min=1, help="Train tasks a child is screened on."),
    min_delta: float = typer.Option(0.0, min=0.0, help="A child must beat the best val score by more than 0 and at least this."),
    significance: float | None = typer.Option(None, min=0.0, max=1.0, help="Also require a paired-bootstrap p-value below this."),
    mutator: str = typer.Option("local", help="The model that rewrites prompts and skills (any litellm model string)."),
    operators: str | None = typer.Option(None, help="Comma-separated operators to use (default: all)."),
    val_episodes: int | None = typer.Option(None, min=1, help="Use only the first N val tasks."),
    test_episodes: int | None = typer.Option(None, min=1, help="Use only the first N test tasks."),
    concurrency: int = typer.Option(4, min=1, help="Episodes run at once."),
    seed: int = typer.Option(0, min=0, help="Seed for splits of the search, and the episodes' base seed."),
    repeat: int | None = typer.Option(None, min=1, help="Play each task this many times, each with its own seed (default 1)."),
    tasks: Path | None = typer.Option(None, "--tasks", help="A JSONL or YAML file of reset arguments per split (docs/environments.md)."),
    storage: str | None = typer.Option(None, help="Optuna storage URL shared by several workers (default: the run folder's study.db)."),
    curriculum: bool = typer.Option(False, "--curriculum", help="Draw minibatches weighted towards train tasks the accepted candidates solve sometimes; report per-task solve rates (docs/learning-loop.md)."),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="With --resume: play again the episodes that hit an infrastructure error (the rest is reused)."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run folders are written."),
    sandbox: str | None = typer.Option(None, "--sandbox", help="How launched environment servers are confined: local (default), docker or none (docs/sandbox.md)."),
    sandbox_image: str | None = typer.Option(None, "--sandbox-image", help="With --sandbox docker: the image (default $AGENTOPT_SANDBOX_IMAGE or agentopt-env:latest)."),
    no_sandbox: bool = typer.Option(False, "--no-sandbox", help="Same as --sandbox none: no isolation (docs/sandbox.md)."),
    env_replicas: int = typer.Option(1, "--env-replicas", min=1, help="Launch N servers of a launched environment and spread sessions over them, least-loaded (docs/environments.md)."),
    config: Path | None = typer.Option(None, "--config", help="The project file (default: ./agentopt.yaml when there is one; not used with --resume)."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document on stdout (docs/json.md); the rest goes to stderr."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live panel: only warnings, errors and the result lines."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also every step (screening, val, decisions) as a line."),
) -> None:
    """Optimize an agent: propose rewrites, keep only strict held-out improvements, ship the winner.

    With no arguments, the project file (agentopt.yaml) names the agent, rubric, environment and budget; flags override it."""
    try:
        if resume is None:  # a resumed run keeps its own settings
            from agentopt.project import merged

            p = merged(ctx, "run", config)
            agent, rubric, env, tasks, runs_dir, storage = p["agent"], p["rubric"], p["env"], p["tasks"], p["runs_dir"], p["storage"]
            max_rollouts, max_cost, max_time, max_candidates = p["max_rollouts"], p["max_cost"], p["max_time"], p["max_candidates"]
            minibatch, min_delta, significance, mutator, operators = p["minibatch"], p["min_delta"], p["significance"], p["mutator"], p["operators"]
            val_episodes, test_episodes, concurrency, seed, repeat = p["val_episodes"], p["test_episodes"], p["concurrency"], p["seed"], p["repeat"]
            env_replicas = p["env_replicas"]
        from agentopt.commands.run import run_optimize
        from agentopt.evaluation import EvalConfig
        from agentopt.optimizer.budget import Budget
        from agentopt.optimizer.loop import RunConfig

        run_config = RunConfig(
            budget=Budget(max_rollouts=max_rollouts, max_cost=max_cost, max_time_s=max_time, max_candidates=max_candidates),
            minibatch=minibatch, min_delta=min_delta, significance=significance, seed=seed, mutator_model=mutator,
            operators=tuple(o.strip() for o in operators.split(",") if o.strip()) if operators else (),
            val_episodes=val_episodes, test_episodes=test_episodes, storage=storage, curriculum=curriculum,
            eval=EvalConfig(concurrency=concurrency, seed=seed, repeat=repeat or 1, tasks_file=str(tasks.resolve()) if tasks else None),
        )
        code = run_optimize(
            agent, rubric, env, resume, runs_dir, run_config, retry_errors=retry_errors,
            sandbox=_sandbox_mode(sandbox, no_sandbox), sandbox_image=sandbox_image, env_replicas=env_replicas,
            as_json=json_output, verbosity=_verbosity(quiet, verbose),
        )
    except AgentoptError as error:
        if json_output:
            from agentopt.commands.json_output import emit, error_document

            emit(error_document("run", error))
        _fail(error)
    raise typer.Exit(code)


@app.command("init")
def init_command(
    directory: Path = typer.Argument(Path("."), help="Where to create the project (default: here)."),
    template: str = typer.Option("dataset", "--template", "-t", help="dataset (questions in a JSONL file) or tools-url (a multi-turn tool environment at a URL)."),
    url: str | None = typer.Option(None, "--url", help="With --template tools-url: the environment server's URL (default http://127.0.0.1:8000)."),
) -> None:
    """Create a project: agent, rubric (an example of every check type), tasks, agentopt.yaml, README."""
    from agentopt.commands.init import init_project

    try:
        typer.echo(init_project(directory, template, url))
    except AgentoptError as error:
        _fail(error)


@app.command("runs")
def runs_command(
    ctx: typer.Context,
    runs_dir: Path = typer.Option(Path("runs"), help="Where run folders are (default: the project file's runs_dir, else runs)."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document (docs/json.md)."),
    config: Path | None = typer.Option(None, "--config", help="The project file (default: ./agentopt.yaml when there is one)."),
) -> None:
    """List runs: their full ids, kind (eval or run), scores, and what to do next."""
    from agentopt.commands.runs import list_runs
    from agentopt.project import merged

    try:
        runs_dir = merged(ctx, "runs", config)["runs_dir"]
    except AgentoptError as error:
        _fail(error)
    list_runs(runs_dir, json_output)


@app.command("report")
def report_command(
    run: str = typer.Argument(..., help="A run folder; with --storage, a run id (or the folder of one of its runs)."),
    storage: str | None = typer.Option(None, "--storage", help="The database of a shared run: write RUNS_DIR/RUN from it (docs/scaling.md)."),
    runs_dir: Path = typer.Option(Path("runs"), help="With --storage: where the run folder is written."),
) -> None:
    """Re-render a run's report.md and report.html and print where they are.

    With --storage URL: write the run folder (journal, candidates, best/, summary.json, reports) from the database first."""
    try:
        if storage:
            from agentopt.commands.worker import export_from_storage

            typer.echo(export_from_storage(run, storage, runs_dir))
            return
        from agentopt.commands.runs import rerender

        typer.echo(rerender(Path(run)))
    except AgentoptError as error:
        _fail(error)


@app.command("worker")
def worker_command(
    run: str = typer.Argument(..., help="The run id (the run folder's name, printed by agentopt run --storage)."),
    storage: str = typer.Option(..., "--storage", help="The run's database: postgresql://USER:PASSWORD@HOST:PORT/DB or sqlite:///PATH.db."),
    env: str | None = typer.Option(None, "--env", "-e", help="The run's --env again, when it had credentials (they are never stored)."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where this worker's folder (RUN-worker-<host>-<pid>) is written."),
    sandbox: str | None = typer.Option(None, "--sandbox", help="How launched environment servers are confined: local (default), docker or none (docs/sandbox.md)."),
    sandbox_image: str | None = typer.Option(None, "--sandbox-image", help="With --sandbox docker: the image."),
    no_sandbox: bool = typer.Option(False, "--no-sandbox", help="Same as --sandbox none."),
) -> None:
    """Join a shared optimization from any machine: claim iterations until its budget is spent (docs/scaling.md)."""
    try:
        from agentopt.commands.worker import run_worker

        code = run_worker(run, storage, runs_dir, env, _sandbox_mode(sandbox, no_sandbox), sandbox_image)
    except AgentoptError as error:
        _fail(error)
    raise typer.Exit(code)


@app.command("export")
def export_command(
    run: Path = typer.Argument(..., help="A run folder (runs/<time>-eval-... or runs/<time>-run-...)."),
    fmt: str = typer.Option(..., "--format", help="sft (chat messages) or rl (messages with sides, scores, token masks)."),
    out: Path = typer.Option(..., "--out", help="The JSONL file to write."),
    min_score: float | None = typer.Option(None, "--min-score", help="Only episodes scoring at least this."),
    candidates: str = typer.Option("accepted", "--candidates", help="accepted (the winner and accepted candidates of a run) or all."),
    tokenize: bool | None = typer.Option(None, "--tokenize/--no-tokenize", help="rl: add token ids and masks (default: when the run's model is local)."),
) -> None:
    """Export a run's episodes as training data (docs/learning-loop.md)."""
    from agentopt.commands.export import run_export

    try:
        code = run_export(run, fmt, out, min_score, candidates, tokenize)
    except AgentoptError as error:
        _fail(error)
    raise typer.Exit(code)


@tasks_app.command("from-traces")
def tasks_from_traces(
    files: list[Path] = typer.Argument(..., help="Chat-completions logs (JSONL) and/or OpenTelemetry GenAI spans (JSON)."),
    out: Path = typer.Option(..., "--out", help="The dataset environment file to write (use it as --env dataset:FILE)."),
    rubric_out: Path | None = typer.Option(None, "--rubric-out", help="Where the draft rubric goes (default: beside --out, NAME.rubric.yaml)."),
) -> None:
    """One task per captured user request: redacted, deduplicated, labelled where a human said (docs/learning-loop.md)."""
    from agentopt.commands.tasks import run_from_traces

    try:
        code = run_from_traces(files, out, rubric_out)
    except AgentoptError as error:
        _fail(error)
    raise typer.Exit(code)


@env_app.command("serve")
def env_serve(
    name: str = typer.Argument(..., help="support, dataset, or module:factory"),
    options: list[str] = typer.Argument(None, help="key=value options, e.g. path=data.jsonl"),
    port: int = typer.Option(8000, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default)."),
) -> None:
    """Serve an environment as a standalone OpenEnv server (WebSocket /ws, Task API, /health)."""
    from agentopt.envs.serve import parse_options, serve

    try:
        serve(name, port, host, parse_options(options or []))
    except ValueError as exc:
        _fail(_usage(str(exc)))
    except AgentoptError as error:  # e.g. a rubric= file the environment cannot score with
        _fail(error)


def main() -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
