"""Which held-out tasks repeat a train task (agentopt.envs.overlap)."""

from agentopt.envs.overlap import held_out_overlap, overlap_warning, task_fingerprint
from agentopt.envs.tasks import TaskRef


def task(split: str, task_id: str, **content) -> TaskRef:
    return TaskRef(split, 0, {"id": task_id, "split": split, "expected": {"answer": task_id}, **content})


def test_same_text_up_to_numbers_case_and_blanks_is_a_repeat():
    splits = {
        "train": [task("train", "a", input="Charged twice for order A12345"), task("train", "b", input="Where is my parcel?")],
        "val": [task("val", "v1", input="charged twice for  order A99"), task("val", "v2", input="Can I pay by transfer?")],
        "test": [task("test", "t1", input="Where is my parcel?")],
    }
    assert held_out_overlap(splits) == {"val": {"v1": "a"}, "test": {"t1": "b"}}


def test_different_text_other_fields_and_seeded_episodes_are_not_repeats():
    splits = {
        "train": [task("train", "a", input="Where is my parcel?", locale="en"), TaskRef("train", 1)],
        "val": [task("val", "v1", input="Where is my parcel?", locale="de"), TaskRef("val", 0)],
    }
    assert held_out_overlap(splits) == {}
    assert task_fingerprint({"id": "x", "expected": 1}) is None  # nothing but bookkeeping: nothing to compare


def test_the_warning_names_counts_and_the_first_pairs():
    overlap = {"val": {f"v{n}": f"a{n}" for n in range(5)}}
    line = overlap_warning(overlap, {"val": 15})
    assert line.startswith("5 of 15 val task(s) (val v0 = train a0, val v1 = train a1, val v2 = train a2, ...) repeat a train task")
    assert "\n" not in line and overlap_warning({}, {}) is None
