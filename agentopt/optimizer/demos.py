"""Demonstrations that show behaviour, not noise: an example keeps only what the rubric scored well.

An episode can pass the rubric (its score reaches `pass_threshold`) while some criteria fail:
the right category with a junk `reply`, say. Shown as an example, that junk is taught as right.
So before an episode becomes an example:
- a failed criterion whose target is a field of the answer (`answer.KEY...`) leaves KEY out of
  the shown answer;
- any other failed criterion (the environment's reward, a tool-call check, a field the answer
  lacks, a judge of the whole answer) drops the example, as does an answer left with no field.

What was left out or dropped is said in the proposal's note, after `MARK`, and the run's
diff.md repeats it for the winner's lineage (`lineage_section`). The few-shot and sample
operators share the rest here: an episode as an example (`to_example`), the range of k, the picks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from agentopt.episode_record import Episode
from agentopt.optimizer.types import Candidate
from agentopt.records import Decision
from agentopt.spec.agent import Example
from agentopt.spec.rubric import Rubric

MARK = "examples keep only what the rubric scored well: "
DEFAULT_K = (1, 4)  # examples shown, when the spec's search_space.max_examples does not say
PICKS = ("first", "similar")  # how the shown examples are chosen (loop.example_pick)
POOL_MAX = 48  # examples kept for `similar`: only k of them reach a prompt


def failed_criteria(episode: Episode) -> list[str]:
    return [c.id for c in episode.score.criteria if c.applicable and not c.passed]


def scored_well(example: Example, episode: Episode, rubric: Rubric) -> tuple[Example | None, list[str], list[str]]:
    """(the example as shown or None when dropped, the answer fields left out, the failed
    criteria that dropped it)."""
    failed = failed_criteria(episode)
    if not failed:
        return example, [], []
    answer = example.output
    if not isinstance(answer, dict):  # a plain-text answer has no field to leave out
        return None, [], failed
    targets = {c.id: str(c.params.get("target", "")) for c in rubric.criteria}
    fields: list[str] = []
    for cid in failed:
        parts = targets.get(cid, "").split(".")
        key = parts[1] if len(parts) >= 2 and parts[0] == "answer" else None
        if key is None or key not in answer:
            return None, [], failed
        if key not in fields:
            fields.append(key)
    output = {k: v for k, v in answer.items() if k not in fields}
    if not output:
        return None, [], failed
    return Example(input=example.input, output=output), fields, []


class Cleaning:
    """What `scored_well` changed, per task, for a note a person can read."""

    def __init__(self) -> None:
        self.left_out: dict[str, list[str]] = {}  # task -> answer fields left out
        self.dropped: dict[str, list[str]] = {}  # task -> failed criteria

    def clean(self, example: Example, episode: Episode, rubric: Rubric) -> Example | None:
        shown, fields, failed = scored_well(example, episode, rubric)
        task = episode.trace.task_id
        if fields:
            self.left_out[task] = fields
        if failed:
            self.dropped[task] = failed
        else:
            self.dropped.pop(task, None)  # another episode of the task gave a clean example
        return shown

    def note(self, tasks: Iterable[str] | None = None) -> str:
        """"; MARK ..." for the given tasks (all when None), or "" when nothing was changed."""
        keep = None if tasks is None else set(tasks)
        parts = [f"left out {', '.join(f'answer.{f}' for f in fields)} in {task}"
                 for task, fields in sorted(self.left_out.items()) if keep is None or task in keep]
        parts += [f"dropped {task} ({', '.join(failed)} failed)" for task, failed in sorted(self.dropped.items())]
        return f"; {MARK}{'; '.join(parts)}" if parts else ""


def lineage_section(decisions: Sequence[Decision], winner: str) -> str:
    """A diff.md section: what the examples of the winner and its ancestors left out ("" if none)."""
    by_id = {d.id: d for d in decisions}
    lines: list[str] = []
    seen: set[str] = set()
    cid: str | None = winner
    while cid is not None and cid in by_id and cid not in seen:
        seen.add(cid)
        record = by_id[cid]
        note = record.note or ""
        if MARK in note:
            lines.append(f"- {cid} ({record.operator}): {note.split(MARK, 1)[1]}")
        cid = record.parent
    if not lines:
        return ""
    return ("\n## Examples: what the rubric failed is not shown\n\n"
            "Where a criterion failed in an example's episode, its field is left out of the example "
            "or the example is dropped:\n\n" + "\n".join(reversed(lines)) + "\n")


def to_example(episode: Episode) -> Example | None:
    """The episode as an Example, or None when it has no task input or no answer."""
    trace = episode.trace
    task_input = next((m.get("content") for m in trace.messages if m.get("role") == "user"), None)
    if not isinstance(task_input, str) or not task_input.strip() or trace.final_answer is None:
        return None
    answer = trace.answer_json()
    return Example(input=task_input, output=answer if isinstance(answer, dict) else trace.final_answer)


def k_bounds(parent: Candidate) -> tuple[int, int]:
    """The range of k (examples shown) to search: the spec's search_space.max_examples, else DEFAULT_K."""
    low, high = parent.spec.optimize.search_space.max_examples or DEFAULT_K
    low = max(1, int(low))
    return low, max(low, int(high))
