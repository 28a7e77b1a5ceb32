"""`support`: a multi-turn customer-support desk (OpenEnv MCP environment).

Each episode is one customer message. The agent looks things up, acts, and ends the
episode with `reply_to_customer`; the reward is how closely its actions match the task's
expected final state (`world.score_changes`). Broken policy rules, the actions taken and
the reply's missing phrases are reported in the final step's metadata and in `state`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastmcp import FastMCP

from agentopt.envs.builtin.common import SPLITS, TaskEnvironment, TaskState, make_app
from agentopt.envs.builtin.jsonl import read_jsonl
from agentopt.envs.builtin.support.world import (
    DATA_DIR,
    TODAY,
    Database,
    World,
    load_database,
    missing_from_reply,
    score_changes,
)

POLICY_PATH = Path(__file__).parent / "policy.md"
NO_EPISODE = "Error: no conversation is open (reset first)."


class SupportState(TaskState):
    changes: dict[str, list[dict[str, Any]]] = {}
    policy_violations: list[str] = []


def load_tasks(path: Path = DATA_DIR / "tasks.jsonl") -> dict[str, list[dict[str, Any]]]:
    tasks: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for _, record in read_jsonl(path):
        if record.get("split") not in tasks:
            raise ValueError(f"{path}: task {record.get('id')!r} has split {record.get('split')!r}")
        tasks[record["split"]].append(record)
    return tasks


class SupportEnvironment(TaskEnvironment):
    def __init__(self, tasks: dict[str, list[dict[str, Any]]], database: Database, policy: str):
        self._database = database  # shared and never modified: each episode works on a copy
        self._policy = policy
        self._world: World | None = None
        mcp = FastMCP("support")

        @mcp.tool
        def lookup_customer(email: str) -> str:
            """Look up a customer by email: their profile (including the vip flag) and their orders."""
            return self._world.lookup_customer(email) if self._world else NO_EPISODE

        @mcp.tool
        def lookup_order(order_id: str) -> str:
            """Look up an order: status, dates, items with prices and stock, payment and refunds so far."""
            return self._world.lookup_order(order_id) if self._world else NO_EPISODE

        @mcp.tool
        def issue_refund(order_id: str, amount: float, reason: str) -> str:
            """Refund `amount` dollars on an order to the original payment method. One item per call."""
            return self._world.issue_refund(order_id, amount, reason) if self._world else NO_EPISODE

        @mcp.tool
        def replace_item(order_id: str, sku: str, reason: str) -> str:
            """Ship the customer a free replacement of one item (by sku) from an order."""
            return self._world.replace_item(order_id, sku, reason) if self._world else NO_EPISODE

        @mcp.tool
        def escalate(order_id: str, reason: str) -> str:
            """Hand the order's complaint to a senior agent, who contacts the customer."""
            return self._world.escalate(order_id, reason) if self._world else NO_EPISODE

        @mcp.tool
        def reply_to_customer(message: str) -> str:
            """Send your final reply to the customer. This ends the conversation: act first, then reply."""
            if self._world is None:
                return NO_EPISODE
            self._world.reply = message
            self.finish(score_changes(self._world.changes, self.task["expected"]["state"]))
            return "Reply sent. The conversation is closed."

        super().__init__(mcp, tasks)

    def start_task(self, task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self._world = World.fresh(self._database, task["customer_email"])
        context = {
            "policy": self._policy,
            "customer_email": task["customer_email"],
            "task_id": task["id"],
            "today": TODAY.isoformat(),
        }
        return str(task["input"]), context

    def report(self) -> dict[str, Any]:
        """What the rubric can judge beyond the reward: actions, broken rules, the reply."""
        if self._world is None:
            return {"changes": {}, "policy_violations": []}
        world = self._world
        report: dict[str, Any] = {"changes": world.changes, "policy_violations": list(world.violations)}
        if world.reply is not None:
            report["reply_missing"] = missing_from_reply(world.reply, self.task.get("required_reply", []))
        return report

    @property
    def state(self) -> SupportState:
        report = self.report()
        return SupportState(
            **self._state.model_dump(),
            changes=report["changes"],
            policy_violations=report["policy_violations"],
        )

    def _finish_step(self, action: Any, observation: Any) -> Any:
        # Every step carries the world's report, so a rubric can judge an episode that
        # ended without a reply (turn limit) by what it did.
        observation = super()._finish_step(action, observation)
        observation.metadata = {**observation.metadata, **self.report()}
        return observation


def build_app(**_: Any) -> Any:
    tasks = load_tasks()
    database = load_database()
    policy = POLICY_PATH.read_text(encoding="utf-8")
    return make_app(lambda: SupportEnvironment(tasks, database, policy), "support")
