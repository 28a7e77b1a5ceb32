"""`agentopt tasks from-traces FILE... --out DATASET.jsonl`: a dataset environment from production logs."""

from __future__ import annotations

from pathlib import Path

from agentopt.envs.builtin.jsonl import DataError
from agentopt.errors import Problem, UsageError, ValidationError
from agentopt.production.logs import read_conversations
from agentopt.production.tasks import harvest, write_dataset


def run_from_traces(files: list[Path], out: Path, rubric_out: Path | None) -> int:
    conversations = []
    for path in files:
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        try:
            conversations.extend(read_conversations(path))
        except DataError as error:
            raise ValidationError(Problem(error.path, error.line, 0, "", error.message)) from None
    result = harvest(conversations)
    if not result.tasks:
        raise UsageError(f"no user request found in {', '.join(str(f) for f in files)}: nothing to write")
    rubric_out = rubric_out or out.with_name(out.stem + ".rubric.yaml")
    try:
        written = write_dataset(result, out, rubric_out)
    except OSError as error:
        raise UsageError(f"cannot write {error.filename or out}: {error.strerror or error}") from None
    formats = {c.format for c in conversations}
    print(f"read {result.read} conversations from {len(files)} file(s) ({', '.join(sorted(formats))})")
    dropped = result.duplicates + result.near_duplicates
    print(f"wrote {len(result.tasks)} tasks ({result.labelled} labelled) to {out}; dropped {dropped} duplicates "
          f"({result.duplicates} identical, {result.near_duplicates} near)")
    r = result.redacted
    print(f"redacted {r['emails']} e-mail addresses, {r['phones']} phone numbers, {r['keys']} API keys")
    if result.conflicts:
        print(f"warning: {len(result.conflicts)} duplicate(s) carried a different label than the task kept (first: {result.conflicts[0]})")
    print("also wrote: " + ", ".join(str(p) for p in written[1:]))
    return 0
