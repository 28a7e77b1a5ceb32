"""The support desk's world: a small shop database, the actions an agent takes on it,
and the policy rules those actions break.

The world enforces nothing: a refund that breaks policy still happens, and is recorded
in `violations` so the reward and the rubric can judge it. Each episode works on its own
deep copy of the initial database, so concurrent sessions never share state.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"

TODAY = date(2025, 6, 16)  # the desk's fixed "today": dates in the data are relative to it
REFUND_WINDOW_DAYS = 30
ESCALATION_THRESHOLD = 500.00
AMOUNT_TOLERANCE = 0.01


@dataclass
class Database:
    customers: dict[str, dict[str, Any]]  # by email (lower case)
    orders: dict[str, dict[str, Any]]  # by order id
    stock: dict[str, int]  # units in stock by sku


def load_database(data_dir: Path = DATA_DIR) -> Database:
    customers = json.loads((Path(data_dir) / "customers.json").read_text(encoding="utf-8"))
    shop = json.loads((Path(data_dir) / "orders.json").read_text(encoding="utf-8"))
    return Database(
        customers={c["email"].lower(): c for c in customers},
        orders={o["order_id"]: o for o in shop["orders"]},
        stock=dict(shop["stock"]),
    )


# --- facts the policy depends on (shared with the task generator) ---


def days_since_delivery(order: dict[str, Any]) -> int | None:
    if order["status"] != "delivered":
        return None
    return (TODAY - date.fromisoformat(order["delivered_on"])).days


def within_window(order: dict[str, Any]) -> bool:
    days = days_since_delivery(order)
    return days is not None and days <= REFUND_WINDOW_DAYS


def line_total(item: dict[str, Any]) -> float:
    return round(item["unit_price"] * item["quantity"], 2)


def needs_escalation(order: dict[str, Any], customer: dict[str, Any] | None) -> bool:
    """Complaints about orders over the threshold, or from VIP customers, go to a senior agent."""
    return order["total"] > ESCALATION_THRESHOLD or bool(customer and customer.get("vip"))


def normalize_order_id(order_id: str) -> str:
    return str(order_id).strip().lstrip("#").upper()


# --- the episode's world ---


@dataclass
class World:
    db: Database
    customer_email: str  # who is writing in
    refunds: list[dict[str, Any]] = field(default_factory=list)
    replacements: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    reply: str | None = None

    @classmethod
    def fresh(cls, initial: Database, customer_email: str) -> World:
        return cls(db=copy.deepcopy(initial), customer_email=customer_email.strip().lower())

    @property
    def changes(self) -> dict[str, list[dict[str, Any]]]:
        return copy.deepcopy(
            {"refunds": self.refunds, "replacements": self.replacements, "escalations": self.escalations}
        )

    # --- lookups ---
    def lookup_customer(self, email: str) -> str:
        customer = self.db.customers.get(email.strip().lower())
        if customer is None:
            return f"Error: no customer with email {email!r}."
        orders = [
            {"order_id": o["order_id"], "order_date": o["order_date"], "status": o["status"], "total": o["total"]}
            for o in self.db.orders.values()
            if o["customer_email"] == customer["email"]
        ]
        return _dump({**customer, "orders": orders})

    def lookup_order(self, order_id: str) -> str:
        order = self._order(order_id)
        if order is None:
            return f"Error: no order {order_id!r}."
        view = {k: v for k, v in order.items() if k != "items"}
        view["items"] = [{**item, "in_stock": self.db.stock.get(item["sku"], 0)} for item in order["items"]]
        days = days_since_delivery(order)
        if days is not None:
            view["days_since_delivery"] = days
        return _dump({"today": TODAY.isoformat(), **view})

    # --- actions: they always execute when the arguments are valid, and record broken rules ---
    def issue_refund(self, order_id: str, amount: float, reason: str) -> str:
        order = self._order(order_id)
        if order is None:
            return f"Error: no order {order_id!r}. Nothing was refunded."
        amount = round(float(amount), 2)
        if amount <= 0:
            return "Error: the refund amount must be positive. Nothing was refunded."
        self.violations += refund_violations(order, self._owner(order), amount, self.customer_email)
        order["refunded"] = round(order.get("refunded", 0.0) + amount, 2)
        self.refunds.append({"order_id": order["order_id"], "amount": amount, "reason": reason})
        return f"Refunded ${amount:.2f} on order {order['order_id']} to {order['payment']['method']}."

    def replace_item(self, order_id: str, sku: str, reason: str) -> str:
        order = self._order(order_id)
        if order is None:
            return f"Error: no order {order_id!r}. Nothing was replaced."
        sku = sku.strip().upper()
        item = next((i for i in order["items"] if i["sku"] == sku), None)
        if item is None:
            return f"Error: order {order['order_id']} has no item {sku!r}. Nothing was replaced."
        self.violations += replacement_violations(order, self._owner(order), self.db.stock, sku, self.customer_email)
        self.db.stock[sku] = self.db.stock.get(sku, 0) - 1
        order.setdefault("replacements", []).append(sku)
        self.replacements.append({"order_id": order["order_id"], "sku": sku, "reason": reason})
        return f"A replacement {item['name']} ({sku}) for order {order['order_id']} ships within 2 business days."

    def escalate(self, order_id: str, reason: str) -> str:
        order = self._order(order_id)
        if order is None:
            return f"Error: no order {order_id!r}. Nothing was escalated."
        if order.get("escalated"):
            return f"Order {order['order_id']} is already escalated to a senior agent."
        if order["customer_email"] != self.customer_email:
            self.violations.append("order_not_owned")
        order["escalated"] = True
        self.escalations.append({"order_id": order["order_id"], "reason": reason})
        return f"Order {order['order_id']} escalated to a senior agent, who will contact the customer within 24 hours."

    # --- helpers ---
    def _order(self, order_id: str) -> dict[str, Any] | None:
        return self.db.orders.get(normalize_order_id(order_id))

    def _owner(self, order: dict[str, Any]) -> dict[str, Any] | None:
        return self.db.customers.get(order["customer_email"])


def refund_violations(
    order: dict[str, Any], customer: dict[str, Any] | None, amount: float, requester: str
) -> list[str]:
    """The policy rules a refund of `amount` on `order` breaks (before it is applied)."""
    broken = []
    if order["customer_email"] != requester:
        broken.append("order_not_owned")
    if order["status"] == "cancelled":
        broken.append("refund_cancelled")
    elif order["status"] != "delivered":
        broken.append("refund_not_delivered")
    elif not within_window(order):
        broken.append("refund_outside_window")
    largest_item = max(line_total(item) for item in order["items"])
    already = order.get("refunded", 0.0)
    if amount > largest_item + AMOUNT_TOLERANCE or already + amount > order["total"] + AMOUNT_TOLERANCE:
        broken.append("refund_over_price")
    if needs_escalation(order, customer):
        broken.append("refund_instead_of_escalation")
    return broken


def replacement_violations(
    order: dict[str, Any], customer: dict[str, Any] | None, stock: dict[str, int], sku: str, requester: str
) -> list[str]:
    """The policy rules replacing `sku` from `order` breaks (before it is applied)."""
    broken = []
    if order["customer_email"] != requester:
        broken.append("order_not_owned")
    if order["status"] != "delivered":
        broken.append("replacement_not_delivered")
    elif not within_window(order):
        broken.append("replacement_outside_window")
    if stock.get(sku, 0) <= 0:
        broken.append("replacement_out_of_stock")
    if needs_escalation(order, customer):
        broken.append("replacement_instead_of_escalation")
    return broken


# --- scoring (pure) ---


def _action_keys(changes: dict[str, Any]) -> list[tuple]:
    """Each action as a comparable key; escalations are a set (escalating twice is one escalation)."""
    keys: list[tuple] = [
        ("refund", normalize_order_id(r["order_id"]), float(r["amount"])) for r in changes.get("refunds", [])
    ]
    keys += [
        ("replace", normalize_order_id(r["order_id"]), str(r["sku"]).upper()) for r in changes.get("replacements", [])
    ]
    escalated = {
        normalize_order_id(e if isinstance(e, str) else e["order_id"]) for e in changes.get("escalations", [])
    }
    keys += [("escalate", order_id) for order_id in sorted(escalated)]
    return keys


def _same(actual: tuple, expected: tuple) -> bool:
    if actual[0] != expected[0] or actual[1] != expected[1]:
        return False
    if actual[0] == "refund":
        return abs(actual[2] - expected[2]) <= AMOUNT_TOLERANCE
    return actual[2:] == expected[2:]


def score_changes(actual: dict[str, Any], expected: dict[str, Any]) -> float:
    """matched actions / (expected actions + unexpected actions); 1.0 when both are empty."""
    remaining = _action_keys(expected)
    done = _action_keys(actual)
    matched = 0
    for action in done:
        hit = next((i for i, want in enumerate(remaining) if _same(action, want)), None)
        if hit is not None:
            remaining.pop(hit)
            matched += 1
    expected_count = matched + len(remaining)
    unexpected = len(done) - matched
    if expected_count + unexpected == 0:
        return 1.0
    return matched / (expected_count + unexpected)


def missing_from_reply(reply: str, required: list[str]) -> list[str]:
    """The required phrases the reply does not mention (case-insensitive)."""
    text = reply.lower()
    return [phrase for phrase in required if phrase.lower() not in text]


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2)
