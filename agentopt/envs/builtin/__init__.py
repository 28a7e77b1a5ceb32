"""Environment servers agentopt ships. Each is an importable OpenEnv server app.

They run as separate processes (`agentopt env serve NAME`); the harness never imports them.
"""

# name -> "module:factory" returning a FastAPI app; the factory takes the env's options.
BUILTIN_ENVS = {
    "support": "agentopt.envs.builtin.support.server:build_app",
    "dataset": "agentopt.envs.builtin.dataset.server:build_app",
}
