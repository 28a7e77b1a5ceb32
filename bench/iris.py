"""The second benchmark: Fisher's iris, as a `dataset:` file built at run time from scikit-learn.

The data ships inside the scikit-learn package (`sklearn.datasets.load_iris`, no network): 150
flowers, 4 measurements each, 3 species (50 each). Scikit-learn is BSD-3-Clause; the data set is
R. A. Fisher's (1936), from the UCI Machine Learning Repository (CC BY 4.0). Nothing here is
committed: `build(folder)` writes `iris.jsonl` and its answer schema `iris.schema.json`.

Each task is one flower: its measurements as a sentence, and the species expected. The split is
stratified and fixed: per species, 5 val and 10 test flowers, the other 35 train (105 / 15 / 30).
The demo's agent, prompt and rubric were never tried on it: a classification from numbers, where
the embedded model has no prior and the optimizer has to find what helps.

    .venv/bin/pip install -e '.[bench]'              # scikit-learn, once
    .venv/bin/python bench/iris.py /tmp/iris        # writes /tmp/iris/iris.jsonl
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

PER_SPECIES = {"val": 5, "test": 10}  # the rest of each species is train
SCHEMA = {
    "type": "object",
    "properties": {"species": {"type": "string", "enum": ["setosa", "versicolor", "virginica"],
                               "description": "The iris species."}},
    "required": ["species"],
    "additionalProperties": False,
}


def records(seed: int = 0) -> list[dict]:
    from sklearn.datasets import load_iris

    data = load_iris()
    rows = list(zip(data.data.tolist(), data.target.tolist()))
    by_species: dict[int, list[int]] = {}
    for index, (_, target) in enumerate(rows):
        by_species.setdefault(target, []).append(index)
    split = {}
    rng = random.Random(seed)
    for indices in by_species.values():
        indices = indices[:]
        rng.shuffle(indices)
        cut = PER_SPECIES["val"] + PER_SPECIES["test"]
        split.update({i: "val" for i in indices[: PER_SPECIES["val"]]})
        split.update({i: "test" for i in indices[PER_SPECIES["val"]:cut]})
        split.update({i: "train" for i in indices[cut:]})
    out = []
    for index, ((sl, sw, pl, pw), target) in enumerate(rows):
        text = f"Sepal {sl:.1f} cm long and {sw:.1f} cm wide; petal {pl:.1f} cm long and {pw:.1f} cm wide."
        out.append({"id": f"iris-{index + 1:03d}", "split": split[index], "input": text,
                    "expected": {"species": str(data.target_names[target])}})
    return out


def build(folder: Path, seed: int = 0) -> Path:
    """Writes iris.jsonl (and iris.schema.json beside it) into `folder`; returns the JSONL path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "iris.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records(seed)))
    path.with_suffix(".schema.json").write_text(json.dumps(SCHEMA, indent=2) + "\n")
    return path


if __name__ == "__main__":
    print(build(Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
