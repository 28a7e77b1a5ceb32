"""From a trace to a score with feedback: checks, the LLM judge, aggregation.

Importing any scoring module first runs this file, which imports the modules of the built-in
checks: their @register fill the check registry (`base.CHECKS`) before anything can read it.
base.py imports none of them, so the built-ins import base and no cycle closes.
"""

from agentopt.scoring import checks as _checks  # noqa: F401 - registers the built-in checks
from agentopt.scoring import judge as _judge  # noqa: F401 - registers llm_judge
