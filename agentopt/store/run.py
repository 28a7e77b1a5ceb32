"""A run folder: runs/<timestamp>-<kind>-<agent>/, written as the run goes.

Episodes are appended to `traces.jsonl` (one JSON line per episode: trace + score) the
moment they finish and flushed, so a crash or a kill loses nothing already finished and
memory does not grow with the number of episodes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentopt.errors import InfraError, UsageError
from agentopt.names import safe_name

TRACES = "traces.jsonl"
SUMMARY = "summary.json"
REPORT = "report.md"
LOCK = ".lock"


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The file's records, skipping a line a kill cut short (that record was not finished;
    `append_jsonl` starts the next record on a line of its own)."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


class RunFolder:
    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def create(cls, root: Path, kind: str, name: str) -> RunFolder:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        base = Path(root) / f"{stamp}-{kind}-{safe_name(name, 'run')}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        (path / "logs").mkdir(parents=True)
        return cls(path)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's exclusive lock for the block: one writer per run folder.

        `flock` on `RUN/.lock`, never waiting: a second `run --resume` on a folder in use gets
        a UsageError naming the holder's pid. The kernel drops the lock when the holder exits,
        however it exits (kill -9 included), so a stale `.lock` file never blocks anyone."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            yield
            return
        try:
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InfraError(f"cannot lock the run folder {self.path}: {exc.strerror or exc}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                pid = holder if holder.isdigit() else "unknown"
                raise UsageError(f"{self.path} is in use by another agentopt process (pid {pid})") from None
            except OSError as exc:
                raise InfraError(f"cannot lock the run folder {self.path}: {exc.strerror or exc}") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)  # still ours: a reader never sees an old pid as the holder
        finally:
            os.close(fd)  # releases the lock

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    def snapshot(self, source: str | Path, name: str) -> None:
        """Copy an input file (spec, rubric, skill) so the run can be re-read as it was."""
        target = self.path / "inputs" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    def append_episode(self, record: dict[str, Any]) -> None:
        self.append_jsonl(TRACES, record)

    def append_jsonl(self, name: str, record: dict[str, Any]) -> None:
        """Append one JSON line, durably. A line cut short by an earlier kill is closed first."""
        path = self.path / name
        prefix = ""
        if path.exists() and path.stat().st_size:
            with path.open("rb") as handle:
                handle.seek(-1, os.SEEK_END)
                prefix = "" if handle.read(1) == b"\n" else "\n"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(prefix + json.dumps(record, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def episodes(self) -> Iterator[dict[str, Any]]:
        return read_jsonl(self.path / TRACES)

    def write_json(self, name: str, data: Any) -> Path:
        target = self.path / name
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
        tmp.replace(target)  # atomic: a reader never sees half a file
        return target

    def write_text(self, name: str, text: str) -> Path:
        target = self.path / name
        target.write_text(text, encoding="utf-8")
        return target
