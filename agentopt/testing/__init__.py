"""Test kits for agentopt's users and plug-in authors (Optuna's `testing/` pattern).

- `ScriptedModel` (agentopt.testing.model): a chat model answering from a list or a function,
  injected (`agentopt.evaluate(..., model=...)`) or served as a local OpenAI-compatible server.
- Conformance suites, one per extension point, to subclass in a test module:
  `agentopt.testing.operators.OperatorConformance`, `agentopt.testing.checks.CheckConformance`,
  `agentopt.testing.sandboxes.SandboxConformance`, `agentopt.testing.env_kinds.EnvironmentKindConformance`.
  agentopt runs each over its whole registry.

The suites import pytest: import them from tests only.
"""

from agentopt.testing.model import ScriptedModel, call

__all__ = ["ScriptedModel", "call"]
