"""The `support` environment: world operations, reward, policy checks, task data, real server."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections import Counter

import pytest

from agentopt.envs.builtin.support import generate_tasks
from agentopt.envs.builtin.support.server import build_app, load_tasks
from agentopt.envs.builtin.support.world import (
    DATA_DIR,
    World,
    line_total,
    load_database,
    missing_from_reply,
    needs_escalation,
    score_changes,
    within_window,
)

TOOL_NAMES = {"lookup_customer", "lookup_order", "issue_refund", "replace_item", "escalate", "reply_to_customer"}
DB = load_database()
TASKS = [t for split in load_tasks().values() for t in split]


def find_order(keep):
    """The first order (with its customer) matching `keep(order, customer)`."""
    for order in DB.orders.values():
        customer = DB.customers[order["customer_email"]]
        if keep(order, customer):
            return order
    raise LookupError("no such order in the data")


def world_for(order) -> World:
    return World.fresh(DB, order["customer_email"])


def refundable(order, customer):
    return within_window(order) and not needs_escalation(order, customer)


def replay(world: World, expected: dict) -> list[str]:
    """Run a task's expected actions; return the tool outputs."""
    outputs = [world.issue_refund(r["order_id"], r["amount"], "replay") for r in expected["refunds"]]
    outputs += [world.replace_item(r["order_id"], r["sku"], "replay") for r in expected["replacements"]]
    outputs += [world.escalate(order_id, "replay") for order_id in expected["escalations"]]
    return outputs


# --- world operations ---


def test_each_world_gets_its_own_copy_of_the_database():
    order = find_order(refundable)
    item = order["items"][0]
    first, second = world_for(order), world_for(order)
    first.issue_refund(order["order_id"], line_total(item), "damaged")
    first.replace_item(order["order_id"], item["sku"], "damaged")
    assert first.db.orders[order["order_id"]]["refunded"] == line_total(item)
    assert second.db.orders[order["order_id"]]["refunded"] == 0.0
    assert DB.orders[order["order_id"]]["refunded"] == 0.0
    assert second.db.stock[item["sku"]] == DB.stock[item["sku"]] == first.db.stock[item["sku"]] + 1
    assert second.changes == {"refunds": [], "replacements": [], "escalations": []}


def test_lookups_return_readable_json_and_errors_as_text():
    order = find_order(lambda o, c: o["status"] == "delivered")
    world = world_for(order)
    customer = json.loads(world.lookup_customer(order["customer_email"].upper()))
    assert order["order_id"] in [o["order_id"] for o in customer["orders"]]
    view = json.loads(world.lookup_order(order["order_id"].lower()))
    assert view["days_since_delivery"] >= 0
    assert all("in_stock" in item for item in view["items"])
    assert world.lookup_customer("nobody@example.com").startswith("Error")
    assert world.lookup_order("ORD-0000").startswith("Error")


def test_invalid_arguments_return_errors_and_record_nothing():
    order = find_order(refundable)
    world = world_for(order)
    assert world.issue_refund("ORD-0000", 10, "x").startswith("Error")
    assert world.issue_refund(order["order_id"], 0, "x").startswith("Error")
    assert world.replace_item(order["order_id"], "NOPE-1", "x").startswith("Error")
    assert world.escalate("ORD-0000", "x").startswith("Error")
    assert world.changes == {"refunds": [], "replacements": [], "escalations": []}
    assert world.violations == []


def test_escalating_twice_is_one_escalation():
    order = find_order(lambda o, c: o["total"] > 500)
    world = world_for(order)
    world.escalate(order["order_id"], "broken")
    assert "already" in world.escalate(order["order_id"], "broken again")
    assert [e["order_id"] for e in world.changes["escalations"]] == [order["order_id"]]


# --- reward ---

EXPECTED = {
    "refunds": [{"order_id": "ORD-1", "amount": 25.0}, {"order_id": "ORD-1", "amount": 10.0}],
    "replacements": [],
    "escalations": [],
}


def changes(refunds=(), replacements=(), escalations=()):
    return {"refunds": list(refunds), "replacements": list(replacements), "escalations": list(escalations)}


def test_reward_perfect_match_ignores_order_case_and_tiny_amount_differences():
    done = changes(refunds=[{"order_id": "ord-1", "amount": 10.004}, {"order_id": "ORD-1", "amount": 25.0}])
    assert score_changes(done, EXPECTED) == 1.0


def test_reward_partial_credit():
    assert score_changes(changes(refunds=[{"order_id": "ORD-1", "amount": 25.0}]), EXPECTED) == 0.5
    extra = changes(refunds=EXPECTED["refunds"], escalations=[{"order_id": "ORD-1", "reason": "x"}])
    assert score_changes(extra, EXPECTED) == pytest.approx(2 / 3)


def test_reward_wrong_actions_score_zero():
    assert score_changes(changes(refunds=[{"order_id": "ORD-1", "amount": 35.0}]), EXPECTED) == 0.0
    assert score_changes(changes(escalations=[{"order_id": "ORD-1"}]), EXPECTED) == 0.0
    assert score_changes(changes(), EXPECTED) == 0.0


def test_reward_info_only():
    assert score_changes(changes(), changes()) == 1.0
    assert score_changes(changes(replacements=[{"order_id": "ORD-2", "sku": "A-1"}]), changes()) == 0.0


def test_reward_matches_escalations_and_replacements():
    expected = changes(replacements=[{"order_id": "ORD-2", "sku": "A-1"}], escalations=["ORD-3"])
    done = changes(replacements=[{"order_id": "ORD-2", "sku": "a-1"}], escalations=[{"order_id": "ORD-3"}] * 2)
    assert score_changes(done, expected) == 1.0
    assert score_changes(changes(replacements=[{"order_id": "ORD-2", "sku": "B-1"}]), expected) == 0.0


def test_missing_from_reply():
    assert missing_from_reply("Refunded $25.00 on ord-1.", ["ORD-1", "25.00"]) == []
    assert missing_from_reply("Done.", ["ORD-1", "escalat"]) == ["ORD-1", "escalat"]


# --- policy violations ---


def refund_violations_for(keep, amount=None, requester=None):
    order = find_order(keep)
    world = World.fresh(DB, requester or order["customer_email"])
    item = max(order["items"], key=line_total)
    world.issue_refund(order["order_id"], amount if amount is not None else line_total(item), "test")
    return world.violations


def test_a_refund_within_policy_breaks_nothing():
    assert refund_violations_for(refundable) == []


def test_refund_violations():
    assert "refund_cancelled" in refund_violations_for(lambda o, c: o["status"] == "cancelled")
    assert refund_violations_for(lambda o, c: o["status"] == "shipped" and not c["vip"]) == ["refund_not_delivered"]
    old = lambda o, c: o["status"] == "delivered" and not within_window(o) and not needs_escalation(o, c)
    assert refund_violations_for(old) == ["refund_outside_window"]
    assert refund_violations_for(refundable, amount=10_000) == ["refund_over_price"]
    high = lambda o, c: within_window(o) and o["total"] > 500 and not c["vip"]
    assert refund_violations_for(high) == ["refund_instead_of_escalation"]
    vip = lambda o, c: within_window(o) and o["total"] <= 500 and c["vip"]
    assert refund_violations_for(vip) == ["refund_instead_of_escalation"]
    owner = find_order(refundable)["customer_email"]
    someone_else = next(c["email"] for c in DB.customers.values() if c["email"] != owner)
    assert refund_violations_for(refundable, requester=someone_else) == ["order_not_owned"]


def test_refunds_add_up_to_at_most_the_order_total():
    order = find_order(refundable)
    world = world_for(order)
    item = max(order["items"], key=line_total)
    for _ in range(len(order["items"]) + 1):
        world.issue_refund(order["order_id"], line_total(item), "again")
    assert "refund_over_price" in world.violations


def test_replacement_violations():
    out_of_stock = lambda o, c: refundable(o, c) and any(DB.stock[i["sku"]] == 0 for i in o["items"])
    order = find_order(out_of_stock)
    world = world_for(order)
    sku = next(i["sku"] for i in order["items"] if DB.stock[i["sku"]] == 0)
    world.replace_item(order["order_id"], sku, "broken")
    assert world.violations == ["replacement_out_of_stock"]

    order = find_order(lambda o, c: o["status"] == "processing")
    world = world_for(order)
    world.replace_item(order["order_id"], order["items"][0]["sku"], "broken")
    assert "replacement_not_delivered" in world.violations

    order = find_order(lambda o, c: within_window(o) and c["vip"])
    world = world_for(order)
    world.replace_item(order["order_id"], order["items"][0]["sku"], "broken")
    assert "replacement_instead_of_escalation" in world.violations


# --- task data ---


def test_task_file_integrity():
    assert len(TASKS) >= 60
    splits = Counter(t["split"] for t in TASKS)
    assert set(splits) == {"train", "val", "test"} and min(splits.values()) > 0
    assert len({t["id"] for t in TASKS}) == len(TASKS)
    assert len({t["input"] for t in TASKS}) == len(TASKS)
    for t in TASKS:
        assert t["customer_email"] in DB.customers, t["id"]
        assert t["customer_email"] in t["input"], t["id"]
        state = t["expected"]["state"]
        assert set(state) == {"refunds", "replacements", "escalations"}, t["id"]
        mentioned = set(re.findall(r"ORD-\d+", t["input"] + " ".join(t["required_reply"])))
        acted_on = {r["order_id"] for r in state["refunds"] + state["replacements"]} | set(state["escalations"])
        assert mentioned | acted_on <= set(DB.orders), t["id"]
        assert t["required_reply"] and t["policy_rules"], t["id"]


@pytest.mark.parametrize("task", TASKS, ids=[t["id"] for t in TASKS])
def test_expected_actions_follow_the_policy_and_earn_full_reward(task):
    world = World.fresh(DB, task["customer_email"])
    outputs = replay(world, task["expected"]["state"])
    assert not [o for o in outputs if o.startswith("Error")]
    assert world.violations == []
    assert score_changes(world.changes, task["expected"]["state"]) == 1.0


DECLINED = {"refund_outside_window", "refund_cancelled", "refund_not_delivered", "wrong_owner",
            "escalation_high_value", "escalation_vip"}


@pytest.mark.parametrize("task", [t for t in TASKS if t["kind"] in DECLINED], ids=lambda t: t["id"])
def test_refunding_what_the_task_declines_breaks_the_policy(task):
    order = DB.orders[task["required_reply"][0]]
    world = World.fresh(DB, task["customer_email"])
    world.issue_refund(order["order_id"], max(line_total(i) for i in order["items"]), "asked")
    assert world.violations, task["id"]


def test_generator_reproduces_the_committed_files(tmp_path):
    generate_tasks.generate(tmp_path)
    for name in ("customers.json", "orders.json", "tasks.jsonl"):
        assert (tmp_path / name).read_bytes() == (DATA_DIR / name).read_bytes(), name


# --- the real server ---


@pytest.fixture(scope="module")
def server_url():
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(build_app(), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the support server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def tool_text(result) -> str:
    payload = result.observation.result
    return payload["content"][0]["text"] if isinstance(payload, dict) else payload.content[0].text


def expected_calls(task):
    state = task["expected"]["state"]
    calls = [("issue_refund", {"order_id": r["order_id"], "amount": r["amount"], "reason": "damaged"})
             for r in state["refunds"]]
    calls += [("replace_item", {"order_id": r["order_id"], "sku": r["sku"], "reason": "damaged"})
              for r in state["replacements"]]
    calls += [("escalate", {"order_id": order_id, "reason": "complaint"}) for order_id in state["escalations"]]
    return calls


async def test_real_server_episode_with_isolated_sessions(server_url):
    from openenv.core.env_server.mcp_types import CallToolAction
    from openenv.core.mcp_client import MCPToolClient

    task = load_tasks()["val"][0]
    calls = expected_calls(task)
    assert calls, "val[0] should need at least one action"
    order_id = calls[0][1]["order_id"]
    reply = CallToolAction(tool_name="reply_to_customer", arguments={"message": " ".join(task["required_reply"])})

    async with MCPToolClient(base_url=server_url) as first, MCPToolClient(base_url=server_url) as second:
        started, _ = await asyncio.gather(first.reset(split="val", index=0), second.reset(split="val", index=0))
        assert started.observation.prompt == task["input"]
        assert started.observation.context["task_id"] == task["id"]
        assert "[refund-window]" in started.observation.context["policy"]
        assert {tool.name for tool in await first.list_tools()} == TOOL_NAMES

        for name, arguments in calls:
            result = await first.step(CallToolAction(tool_name=name, arguments=arguments))
            assert not result.done and not tool_text(result).startswith("Error"), tool_text(result)

        # the second session's database has none of the first session's changes
        theirs = json.loads(tool_text(await second.step(
            CallToolAction(tool_name="lookup_order", arguments={"order_id": order_id}))))
        ours = json.loads(tool_text(await first.step(
            CallToolAction(tool_name="lookup_order", arguments={"order_id": order_id}))))
        assert theirs == json.loads(World.fresh(DB, task["customer_email"]).lookup_order(order_id))
        assert ours != theirs

        done = await first.step(reply)
        assert done.done and done.reward == 1.0
        assert done.observation.metadata["policy_violations"] == []
        assert done.observation.metadata["reply_missing"] == []

        idle = await second.step(reply)  # replied without acting
        assert idle.done and idle.reward == 0.0
        assert idle.observation.metadata["changes"] == {"refunds": [], "replacements": [], "escalations": []}
