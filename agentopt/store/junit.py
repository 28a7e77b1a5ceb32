"""JUnit XML for CI: one testcase per episode; a failure carries the failed criteria's feedback.
An episode no criterion applied to (e.g. the environment gave no reward) is a skipped testcase,
neither a failure nor an error; a criterion that did not apply is never listed as failed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_junit(path: Path, suite_name: str, episodes: Iterable[dict[str, Any]]) -> Path:
    suite = ET.Element("testsuite", name=suite_name)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for record in episodes:
        trace, score = record["trace"], record["score"]
        counts["tests"] += 1
        total_time += trace.get("latency_s", 0.0)
        case = ET.SubElement(
            suite, "testcase", classname=suite_name, name=str(trace["task_id"]), time=f"{trace.get('latency_s', 0.0):.3f}"
        )
        if score.get("not_applicable"):
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message="not applicable").text = score.get("error") or "not applicable"
        elif score.get("error"):
            counts["errors"] += 1
            ET.SubElement(case, "error", message="infrastructure error").text = score["error"]
        elif not score["passed"]:
            counts["failures"] += 1
            failed = [c for c in score["criteria"] if not c["passed"]]
            message = f"score {score['score']:.2f}" + (f"; gate failed: {', '.join(score['gate_failed'])}" if score["gate_failed"] else "")
            ET.SubElement(case, "failure", message=message).text = "\n".join(f"{c['id']}: {c['feedback']}" for c in failed)
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{total_time:.3f}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path
