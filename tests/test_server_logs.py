"""Reporting why a launched server died reads only the end of its log: a server may have
written gigabytes, and the harness must not load them to quote one line."""

from __future__ import annotations

import sys
import tracemalloc

import pytest

from agentopt.errors import InfraError
from agentopt.servers import LOG_TAIL_BYTES, ServerProcess, last_line

MiB = 1024 * 1024


def _peak_during(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_last_line_of_a_huge_log_reads_only_its_tail(tmp_path):
    log = tmp_path / "server.log"
    with open(log, "wb") as handle:
        handle.write(b"first line\n")
        handle.truncate(400 * MiB)  # 400 MiB (sparse: cheap on disk, not in a read)
        handle.seek(0, 2)
        handle.write(b"\nTraceback: the real reason\n\n   \n")
    peak = _peak_during(lambda: last_line(log))
    assert last_line(log) == "Traceback: the real reason"
    assert peak < 4 * LOG_TAIL_BYTES + MiB  # a bounded read, not the 400 MiB


def test_last_line_edge_cases(tmp_path):
    assert last_line(tmp_path / "missing.log") == ""
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert last_line(empty) == ""
    short = tmp_path / "short.log"
    short.write_bytes(b"one\ntwo \xff\n\n")
    assert last_line(short) == "two \ufffd"
    assert last_line(short, limit=2) == "tw"
    long_line = tmp_path / "long.log"
    long_line.write_bytes(b"x" * (3 * LOG_TAIL_BYTES) + b"\n")
    assert last_line(long_line) == "x" * 300


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a POSIX child process")
def test_a_server_that_dies_after_300_mib_of_output_is_reported_from_its_tail(tmp_path):
    """A real child writes 300 MiB and exits: the start-up failure quotes its last line,
    and the harness allocates a bounded amount to find it."""
    script = (
        "import sys\n"
        "block = b'y' * (1024 * 1024 - 1) + b'\\n'\n"
        "for _ in range(300): sys.stdout.buffer.write(block)\n"
        "sys.stdout.buffer.write(b'fatal: out of cheese\\n'); sys.stdout.flush(); sys.exit(5)\n"
    )
    server = ServerProcess("noisy server", [sys.executable, "-c", script], tmp_path / "noisy.log", startup_timeout_s=60)
    failure: list[InfraError] = []

    def start() -> None:
        try:
            server.start()
        except InfraError as exc:
            failure.append(exc)

    peak = _peak_during(start)
    assert (tmp_path / "noisy.log").stat().st_size > 300 * MiB
    assert len(failure) == 1
    assert "exit code 5" in str(failure[0]) and "'fatal: out of cheese'" in str(failure[0])
    assert peak < 8 * MiB
