"""agentopt: make LLM agents measurably better at a team's own work.

The data flows one way: a spec and a rubric are loaded (`agentopt.spec`), an OpenEnv
environment plays episodes with the agent (`agentopt.envs`, `agentopt.episode`), each
trace is scored (`agentopt.scoring`), and the run folder keeps everything
(`agentopt.store`). `agentopt.evaluate.evaluate()` is the facade a notebook can call.
"""

__version__ = "0.1.0"
