"""From captured conversations to a `dataset:` environment file and a draft rubric.

1. Every conversation's request is redacted (`agentopt.redact.redact_personal`: e-mail addresses,
   phone numbers, API keys) before anything else sees it.
2. Requests are normalised (case, spacing, punctuation) and near-duplicates dropped: a request
   whose normalised text is the same as, or at least `SIMILAR` alike (difflib's ratio) to, one
   already kept is left out; when the one left out carries a label and the kept one has none,
   the label moves over.
3. Each task's id is `p-` + the first 10 hex digits of the SHA-256 of its normalised text: the
   same request always gets the same id, whatever file or order it came from, so a re-harvest
   keeps the dataset's splits (assigned by id) and a run journal's task ids.
4. `expected` is the human label where there is one; a task without one has no `expected`
   (the dataset environment gives it no reward, so `env_reward` does not apply to it).

The draft rubric scores what the labels say: `env_reward` (the share of labelled fields the
answer gets right) on every labelled task, plus one `equals` criterion per label field when
every task has that field. When labels are objects, `DATASET.schema.json` beside the dataset
gives the agent's `submit` tool those fields (with their values as an enum when there are at
most ENUM_MAX of them).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentopt.production.logs import Conversation
from agentopt.redact import redact_personal

SIMILAR = 0.9  # difflib ratio at or above which two normalised requests are the same request
ENUM_MAX = 12


@dataclass(frozen=True)
class Task:
    id: str
    input: str
    expected: Any = None
    sources: tuple[str, ...] = ()  # file:line of every conversation merged into it

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "input": self.input}
        if self.expected is not None:
            data["expected"] = self.expected
        return data


@dataclass
class Harvest:
    tasks: list[Task] = field(default_factory=list)
    read: int = 0  # conversations read
    duplicates: int = 0  # the same normalised text as a kept task
    near_duplicates: int = 0  # alike enough to a kept task (SIMILAR)
    conflicts: list[str] = field(default_factory=list)  # sources whose label disagreed with the kept task's
    redacted: dict[str, int] = field(default_factory=lambda: {"emails": 0, "phones": 0, "keys": 0})

    @property
    def labelled(self) -> int:
        return sum(t.expected is not None for t in self.tasks)


def normalise(text: str) -> str:
    """Case, accents' forms, punctuation and spacing removed: what two copies of a request share."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w\[\]]+", " ", text)
    return " ".join(text.split())


def task_id(normalised: str) -> str:
    return "p-" + hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:10]


def harvest(conversations: list[Conversation]) -> Harvest:
    result = Harvest(read=len(conversations))
    kept: list[tuple[str, Task]] = []  # (normalised text, task)
    by_norm: dict[str, int] = {}
    for conversation in conversations:
        text, counts = redact_personal(conversation.request.strip())
        for kind, n in counts.items():
            result.redacted[kind] += n
        norm = normalise(text)
        if not norm:
            continue
        index = by_norm.get(norm)
        if index is not None:
            result.duplicates += 1
        else:
            index = _similar(norm, kept)
            if index is not None:
                result.near_duplicates += 1
        if index is None:
            by_norm[norm] = len(kept)
            kept.append((norm, Task(task_id(norm), text, _label(conversation.label), (conversation.source,))))
            continue
        norm_kept, task = kept[index]
        label = _label(conversation.label)
        expected = task.expected
        if expected is None:
            expected = label
        elif label is not None and label != expected:
            result.conflicts.append(conversation.source)
        kept[index] = (norm_kept, Task(task.id, task.input, expected, (*task.sources, conversation.source)))
    result.tasks = [task for _, task in kept]
    return result


def _similar(norm: str, kept: list[tuple[str, Task]]) -> int | None:
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(norm)
    for index, (other, _) in enumerate(kept):
        matcher.set_seq1(other)
        if matcher.real_quick_ratio() >= SIMILAR and matcher.quick_ratio() >= SIMILAR and matcher.ratio() >= SIMILAR:
            return index
    return None


def _label(label: Any) -> Any:
    """A label as `expected`: strings redacted too (a correction can quote an address)."""
    if isinstance(label, str):
        return redact_personal(label)[0].strip() or None
    if isinstance(label, dict):
        return {k: redact_personal(v)[0] if isinstance(v, str) else v for k, v in label.items()} or None
    return label


def schema(tasks: list[Task]) -> dict[str, Any] | None:
    """The answer schema for object labels: every label field, an enum when its values are few."""
    labels = [t.expected for t in tasks if isinstance(t.expected, dict)]
    if not labels:
        return None
    fields: dict[str, list[Any]] = {}
    for label in labels:
        for key, value in label.items():
            fields.setdefault(key, [])
            if value not in fields[key]:
                fields[key].append(value)
    properties: dict[str, Any] = {}
    for key, values in fields.items():
        kinds = {type(v).__name__ for v in values}
        if kinds <= {"str"}:
            prop: dict[str, Any] = {"type": "string"}
            if len(values) <= ENUM_MAX and len(values) < len(labels):
                prop["enum"] = sorted(values)
        elif kinds <= {"int", "float"}:
            prop = {"type": "number"}
        elif kinds <= {"bool"}:
            prop = {"type": "boolean"}
        else:
            prop = {}
        properties[key] = {**prop, "description": f"The {key.replace('_', ' ')}, as the human reviewers labelled it."}
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": True}


def draft_rubric(name: str, result: Harvest) -> dict[str, Any]:
    labelled = [t for t in result.tasks if t.expected is not None]
    criteria: list[dict[str, Any]] = [{
        "id": "matches_label",
        "description": "The answer agrees with the human label (the share of labelled fields right; tasks without a label are left out).",
        "weight": 2,
        "check": {"type": "env_reward"},
    }]
    dict_labels = [t.expected for t in labelled if isinstance(t.expected, dict)]
    if dict_labels and len(dict_labels) == len(result.tasks):
        keys = [k for k in dict_labels[0] if all(k in label for label in dict_labels)]
        for key in keys:
            criteria.append({
                "id": f"{key}_correct",
                "description": f"The {key.replace('_', ' ')} is the one the human reviewers gave.",
                "weight": 1,
                "check": {"type": "equals", "target": f"answer.{key}", "value": f"{{{{ expected.{key} }}}}"},
            })
    return {
        "name": name,
        "description": (f"Drafted by `agentopt tasks from-traces` from {len(labelled)} labelled of {len(result.tasks)} tasks. "
                        "Review it: add the criteria your team cares about beyond the labels."),
        "pass_threshold": 0.7,
        "criteria": criteria,
    }


def write_dataset(result: Harvest, out: Path, rubric_out: Path) -> list[Path]:
    """The dataset, its answer schema (object labels only) and the draft rubric; each file
    written to a temporary name and renamed, so a failure never leaves half a file."""
    written = [_write(out, "".join(json.dumps(t.record(), ensure_ascii=False) + "\n" for t in result.tasks))]
    answer_schema = schema(result.tasks)
    if answer_schema is not None:
        written.append(_write(out.with_suffix(".schema.json"), json.dumps(answer_schema, indent=2) + "\n"))
    header = "# A draft: agentopt tasks from-traces wrote it from the labels it found. `agentopt validate` checks it.\n"
    rubric = yaml.safe_dump(draft_rubric(out.stem, result), sort_keys=False, allow_unicode=True, width=100)
    written.append(_write(rubric_out, header + rubric))
    return written


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
