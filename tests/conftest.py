"""Shared test helpers: write specs and data into tmp_path, run the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "AGENTOPT_HOME": str(cwd / ".cache"), "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "agentopt", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def qa_dataset(tmp_path: Path) -> Path:
    """Four val questions with a one-field answer schema."""
    return write_qa_dataset(tmp_path)


def write_qa_dataset(tmp_path: Path) -> Path:
    """qa_dataset's file, for a fixture of a wider scope."""
    rows = [
        {"id": "q1", "split": "val", "input": "What is the capital of France?", "expected": "Paris"},
        {"id": "q2", "split": "val", "input": "What is 2 + 2?", "expected": "4"},
        {"id": "q3", "split": "val", "input": "What color is the sky?", "expected": "blue"},
        {"id": "q4", "split": "val", "input": "Opposite of hot?", "expected": "cold"},
        {"id": "q5", "split": "train", "input": "Largest planet?", "expected": "Jupiter"},
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def qa_rubric(tmp_path: Path) -> Path:
    return write_qa_rubric(tmp_path)


def write_qa_rubric(tmp_path: Path) -> Path:
    """qa_rubric's file, for a fixture of a wider scope."""
    return write(
        tmp_path / "rubrics" / "qa.yaml",
        """
        name: qa
        pass_threshold: 0.5
        criteria:
          - id: correct
            description: The answer is right.
            weight: 3
            check: {type: env_reward}
          - id: short
            description: The answer is at most five words.
            weight: 1
            check: {type: max_length, target: answer.answer, max_words: 5}
        """,
    )


def scripted_agent(tmp_path: Path, url: str, extra: str = "", name: str = "qa") -> Path:
    base = textwrap.dedent(
        f"""
        name: {name}
        model: openai/scripted
        model_params:
          api_base: {url}
          max_tokens: 64
        system_prompt: Answer the question with a word.
        loop:
          max_turns: 3
        """
    )
    return write(tmp_path / "agents" / f"{name}.yaml", base + textwrap.dedent(extra))
