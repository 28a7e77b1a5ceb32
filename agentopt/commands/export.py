"""`agentopt export RUN --format sft|rl`: training data from a run folder (docs/learning-loop.md)."""

from __future__ import annotations

import sys
from pathlib import Path

from agentopt.errors import InfraError
from agentopt.export import FORMATS, export, run_kind, run_model


def run_export(run: Path, fmt: str, out: Path, min_score: float | None, candidates: str, tokenize: bool | None) -> int:
    if fmt not in FORMATS:
        from agentopt.errors import UsageError

        raise UsageError(f"unknown format {fmt!r}: use sft or rl")
    run_kind(run)  # a missing or foreign folder is a usage error before any server starts
    if tokenize is None:
        tokenize = fmt == "rl" and run_model(run) == "local"
    tokenizer = None
    if tokenize and fmt == "rl":
        from agentopt.export_tokens import Tokenizer

        try:
            tokenizer = Tokenizer.local()
        except InfraError as error:
            print(f"tokenizer not available ({error}): exporting without token fields", file=sys.stderr)
    try:
        stats = export(run, fmt, out, min_score=min_score, candidates=candidates, tokenizer=tokenizer)
    except InfraError as error:
        raise InfraError(f"tokenizing failed: {error}") from None
    finally:
        if tokenizer is not None:
            tokenizer.close()
    skipped = []
    if stats.skipped_errors:
        skipped.append(f"{stats.skipped_errors} errors or not applicable")
    if stats.skipped_candidate:
        skipped.append(f"{stats.skipped_candidate} from rejected candidates")
    if stats.skipped_score:
        skipped.append(f"{stats.skipped_score} below --min-score")
    print(f"exported {stats.written} of {stats.episodes} episodes ({fmt}) to {out}" + (f"; skipped {', '.join(skipped)}" if skipped else ""))
    share = stats.observation_share
    if tokenizer is not None and share is not None:
        total = stats.agent_tokens + stats.observation_tokens + stats.prompt_tokens
        print(f"tokens: {total} ({stats.agent_tokens} agent, {stats.observation_tokens} observation, {stats.prompt_tokens} system prompt); observation share {share:.1%}")
    return 0
