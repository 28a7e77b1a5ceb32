"""Write the support desk's data: `data/customers.json`, `data/orders.json`, `data/tasks.jsonl`.

Deterministic (fixed seed): `python -m agentopt.envs.builtin.support.generate_tasks`
rewrites the committed files identically. Every task's expected actions are chosen with
the same policy facts the world checks (`world.within_window`, `world.needs_escalation`),
and the tests replay them through the world.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from agentopt.envs.builtin.support.world import (
    DATA_DIR,
    TODAY,
    Database,
    line_total,
    needs_escalation,
    within_window,
)

SEED = 20250616

FIRST = ["Maria", "James", "Aisha", "Chen", "Olivia", "Mateo", "Priya", "Lukas", "Grace", "Omar",
         "Sofia", "Daniel", "Hannah", "Kenji", "Zoe"]
LAST = ["Garcia", "Walker", "Bello", "Wei", "Brown", "Rossi", "Nair", "Weber", "Kim", "Haddad",
        "Lopez", "Osei", "Novak", "Tanaka", "Fischer"]
VIP_INDEXES = {2, 7, 11}

# sku, name, unit price, units in stock, what can go wrong with it
PRODUCTS = [
    ("MUG-101", "Stoneware Mug Set", 34.00, 25, "fragile"), ("KTL-210", "Electric Kettle", 59.99, 0, "electric"),
    ("TWL-305", "Bath Towel Set", 42.50, 18, "textile"), ("LMP-412", "LED Desk Lamp", 39.99, 0, "electric"),
    ("PIL-118", "Memory Foam Pillow", 49.00, 30, "textile"), ("BLN-520", "Countertop Blender", 89.99, 0, "electric"),
    ("PAN-233", "Nonstick Frying Pan", 28.75, 40, "hard"), ("KNF-640", "Chef's Knife", 74.00, 9, "hard"),
    ("CND-150", "Soy Candle Trio", 24.00, 50, "fragile"), ("THR-377", "Wool Throw Blanket", 68.00, 0, "textile"),
    ("SHT-481", "Linen Sheet Set", 129.00, 7, "textile"), ("SCL-290", "Digital Kitchen Scale", 22.49, 15, "electric"),
    ("TST-333", "Two-Slice Toaster", 45.00, 0, "electric"), ("VAS-120", "Glass Vase", 31.00, 12, "fragile"),
    ("RUG-702", "Cotton Area Rug", 149.00, 4, "textile"), ("CLK-260", "Wall Clock", 36.50, 6, "electric"),
    ("AIR-880", "Air Purifier", 219.00, 5, "electric"), ("MIX-915", "Stand Mixer", 349.00, 3, "electric"),
    ("CHR-450", "Ergonomic Office Chair", 289.00, 2, "hard"),
    ("VAC-300", "Cordless Stick Vacuum", 199.00, 8, "electric"),
    ("ESP-990", "Espresso Machine Pro", 649.00, 2, "electric"), ("RVC-870", "Robot Vacuum X9", 579.00, 3, "electric"),
    ("DSK-760", "Standing Desk", 529.00, 1, "hard"), ("SOF-950", "Velvet Loveseat", 899.00, 1, "textile"),
]
FRAGILITY = {p[0]: p[4] for p in PRODUCTS}
EVERYDAY = [p for p in PRODUCTS if p[2] < 500]
OUT_OF_STOCK = [p for p in EVERYDAY if p[3] == 0]
PREMIUM = [p for p in PRODUCTS if p[2] >= 500]

# order profiles, 40 in all
PROFILES = (["recent"] * 11 + ["recent_oos"] * 5 + ["old"] * 6 + ["shipped"] * 5
            + ["processing"] * 3 + ["cancelled"] * 5 + ["high_value"] * 5)

DAMAGE = {
    "electric": ["stopped working after two days", "won't turn on", "arrived with a cracked casing"],
    "fragile": ["arrived cracked", "arrived in pieces", "arrived chipped"],
    "textile": ["arrived torn", "arrived with a large stain", "has a big hole in it"],
    "hard": ["arrived bent", "arrived with a deep scratch", "arrived damaged in the box"],
}
WRONG = ["isn't the one I ordered", "arrived in the wrong color"]
DISLIKE = ["isn't what I expected", "doesn't fit my space", "is lower quality than I hoped"]


# --- the database ---


def make_customers(rng: random.Random) -> list[dict[str, Any]]:
    customers = []
    for i, (first, last) in enumerate(zip(FIRST, LAST)):
        customers.append({
            "customer_id": f"C-{201 + i}",
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}@example.com",
            "vip": i in VIP_INDEXES,
            "member_since": (TODAY - timedelta(days=rng.randint(120, 2000))).isoformat(),
        })
    return customers


def pick_items(rng: random.Random, profile: str) -> list[dict[str, Any]]:
    while True:
        count = rng.choice([1, 2, 2, 3])
        chosen = rng.sample(EVERYDAY, count)
        if profile == "recent_oos":
            chosen[0] = rng.choice(OUT_OF_STOCK)
        elif profile == "high_value":
            chosen[0] = rng.choice(PREMIUM)
        if len({p[0] for p in chosen}) < len(chosen):
            continue
        items = [{"sku": sku, "name": name, "unit_price": price,
                  "quantity": 2 if price < 40 and rng.random() < 0.2 else 1}
                 for sku, name, price, *_ in chosen]
        total = sum(line_total(i) for i in items)
        if profile == "high_value" or total <= 500:
            return items


def make_order(rng: random.Random, number: int, customer: dict[str, Any], profile: str) -> dict[str, Any]:
    items = pick_items(rng, profile)
    total = round(sum(line_total(i) for i in items), 2)
    card = rng.choice(["Visa", "Mastercard", "Amex"])
    order: dict[str, Any] = {"order_id": f"ORD-{number}", "customer_email": customer["email"]}
    if profile in ("recent", "recent_oos", "high_value", "old"):
        delivered = TODAY - timedelta(days=rng.randint(3, 24) if profile != "old" else rng.randint(40, 150))
        order.update(status="delivered", order_date=(delivered - timedelta(days=rng.randint(2, 6))).isoformat(),
                     delivered_on=delivered.isoformat())
    elif profile == "shipped":
        order.update(status="shipped", order_date=(TODAY - timedelta(days=rng.randint(1, 4))).isoformat(),
                     expected_delivery=(TODAY + timedelta(days=rng.randint(1, 5))).isoformat(),
                     tracking="1Z" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=12)))
    elif profile == "processing":
        order.update(status="processing", order_date=(TODAY - timedelta(days=rng.randint(0, 2))).isoformat(),
                     expected_delivery=(TODAY + timedelta(days=rng.randint(5, 9))).isoformat())
    else:  # cancelled: refunded in full when cancelled
        placed = TODAY - timedelta(days=rng.randint(5, 60))
        order.update(status="cancelled", order_date=placed.isoformat(),
                     cancelled_on=(placed + timedelta(days=1)).isoformat())
    order.update(items=items, total=total,
                 payment={"method": f"{card} ending {rng.randint(1000, 9999)}", "amount_paid": total},
                 refunded=total if profile == "cancelled" else 0.0)
    return order


def make_database(rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    customers = make_customers(rng)
    profiles = list(PROFILES)
    rng.shuffle(profiles)
    # order i goes to customer i % 15: give each VIP a recent order to complain about
    for vip in sorted(VIP_INDEXES):
        if profiles[vip] != "recent":
            spare = next(i for i, p in enumerate(profiles) if p == "recent" and i not in VIP_INDEXES)
            profiles[vip], profiles[spare] = profiles[spare], profiles[vip]
    orders = [make_order(rng, 1001 + i, customers[i % len(customers)], p) for i, p in enumerate(profiles)]
    stock = {sku: units for sku, _, _, units, _ in PRODUCTS}
    return customers, {"stock": stock, "orders": orders}


# --- the tasks ---


class Pools:
    """The orders and items each kind of task can be about."""

    def __init__(self, db: Database):
        self.db = db
        self.customers = list(db.customers.values())

    def customer(self, order: dict[str, Any]) -> dict[str, Any]:
        return self.db.customers[order["customer_email"]]

    def orders(self, keep: Callable[[dict[str, Any], dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [o for o in self.db.orders.values() if keep(o, self.customer(o))]

    def refundable(self) -> list[dict[str, Any]]:
        return self.orders(lambda o, c: within_window(o) and not needs_escalation(o, c))

    def single_items(self, orders: list[dict[str, Any]], in_stock: bool | None = None) -> list[tuple]:
        pairs = [(o, i) for o in orders for i in o["items"] if i["quantity"] == 1]
        if in_stock is not None:
            pairs = [(o, i) for o, i in pairs if (self.db.stock[i["sku"]] > 0) == in_stock]
        return pairs


def damage(rng: random.Random, item: dict[str, Any]) -> str:
    return rng.choice(DAMAGE[FRAGILITY[item["sku"]]])


def first_name(customer: dict[str, Any]) -> str:
    return customer["name"].split()[0]


def money(value: float) -> str:
    return f"{value:.2f}"


def state(refunds=(), replacements=(), escalations=()) -> dict[str, Any]:
    return {"refunds": list(refunds), "replacements": list(replacements), "escalations": list(escalations)}


def task(kind: str, customer: dict[str, Any], text: str, expected: dict[str, Any],
         reply: list[str], rules: list[str]) -> dict[str, Any]:
    return {"kind": kind, "input": text, "customer_email": customer["email"], "expected": {"state": expected},
            "required_reply": reply, "policy_rules": rules + ["reply-confirm"]}


def sample(rng: random.Random, pool: list, n: int) -> list:
    """n distinct candidates, so no two tasks of a kind are the same."""
    if len(pool) < n:
        raise RuntimeError(f"{len(pool)} candidates for {n} tasks: change the profiles or the seed")
    return rng.sample(pool, n)


REFUND_RULES = ["verify", "refund-delivered", "refund-window", "refund-max-price"]


def refund_tasks(rng, pools, n):
    for order, item in sample(rng, pools.single_items(pools.refundable()), n):
        c = pools.customer(order)
        problem = damage(rng, item) if rng.random() < 0.6 else rng.choice(DISLIKE)
        text = rng.choice([
            f"Hi, this is {first_name(c)} ({c['email']}). The {item['name']} from order {order['order_id']} "
            f"{problem}. Can I get a refund for it, please?",
            f"Hello, my {item['name']} (order {order['order_id']}) {problem} and I'd like my money back for it. "
            f"My email is {c['email']}.",
        ])
        price = line_total(item)
        yield task("refund", c, text, state(refunds=[{"order_id": order["order_id"], "amount": price}]),
                   [order["order_id"], money(price)], REFUND_RULES)


def two_item_refund_tasks(rng, pools, n):
    orders = [o for o in pools.refundable() if len(pools.single_items([o])) >= 2]
    for order in sample(rng, orders, n):
        c = pools.customer(order)
        (_, a), (_, b) = rng.sample(pools.single_items([order]), 2)
        text = (f"Hi, {c['email']} here. In order {order['order_id']} the {a['name']} {damage(rng, a)} and the "
                f"{b['name']} {damage(rng, b)}. Please refund both of them.")
        refunds = [{"order_id": order["order_id"], "amount": line_total(i)} for i in (a, b)]
        yield task("refund_two_items", c, text, state(refunds=refunds),
                   [order["order_id"], money(line_total(a)), money(line_total(b))], REFUND_RULES)


def capped_refund_tasks(rng, pools, n):
    for order, item in sample(rng, pools.single_items(pools.refundable()), n):
        c = pools.customer(order)
        price = line_total(item)
        asked = price + rng.choice([15, 25, 40, 50])
        text = (f"I'm writing from {c['email']}. The {item['name']} from order {order['order_id']} "
                f"{damage(rng, item)}, which ruined my weekend. I want ${asked:.2f} back to cover the item "
                f"and my trouble.")
        yield task("refund_capped", c, text, state(refunds=[{"order_id": order["order_id"], "amount": price}]),
                   [order["order_id"], money(price)], REFUND_RULES)


def outside_window_tasks(rng, pools, n):
    old = pools.orders(lambda o, c: o["status"] == "delivered" and not within_window(o)
                       and not needs_escalation(o, c))
    for order, item in sample(rng, pools.single_items(old), n):
        c = pools.customer(order)
        text = (f"Hello, I'd like to return the {item['name']} from order {order['order_id']}, it "
                f"{rng.choice(DISLIKE + [damage(rng, item)])}. Please refund it. ({c['email']})")
        yield task("refund_outside_window", c, text, state(), [order["order_id"], "30"],
                   ["verify", "refund-window"])


def cancelled_tasks(rng, pools, n):
    cancelled = pools.orders(lambda o, c: o["status"] == "cancelled" and not needs_escalation(o, c))
    for order in sample(rng, cancelled, n):
        c = pools.customer(order)
        text = rng.choice([
            f"I cancelled order {order['order_id']} and I still want my refund for it. My email is {c['email']}.",
            f"Hi, {c['email']} here. Please refund order {order['order_id']}, I cancelled it.",
        ])
        yield task("refund_cancelled", c, text, state(), [order["order_id"], "cancel"],
                   ["verify", "no-refund-cancelled"])


def status_reply(order: dict[str, Any]) -> list[str]:
    reply = [order["order_id"], order["status"]]
    return reply + [order["tracking"]] if order["status"] == "shipped" else reply


def not_delivered_tasks(rng, pools, n):
    pending = pools.orders(lambda o, c: o["status"] in ("shipped", "processing") and not needs_escalation(o, c))
    for order in sample(rng, pending, n):
        c = pools.customer(order)
        text = (f"Order {order['order_id']} is taking forever. Just refund me the ${order['total']:.2f}, "
                f"I don't want it anymore. - {first_name(c)}, {c['email']}")
        yield task("refund_not_delivered", c, text, state(), status_reply(order),
                   ["verify", "refund-delivered", "order-status"])


def replacement_tasks(rng, pools, n):
    for order, item in sample(rng, pools.single_items(pools.refundable(), in_stock=True), n):
        c = pools.customer(order)
        problem = rng.choice([damage(rng, item)] + WRONG)
        text = (f"Hi, I'm {c['name']} ({c['email']}). The {item['name']} in order {order['order_id']} "
                f"{problem}. Could you send me a replacement?")
        yield task("replacement", c, text,
                   state(replacements=[{"order_id": order["order_id"], "sku": item["sku"]}]),
                   [order["order_id"], "replace"], ["verify", "refund-window", "replace-damaged"])


def out_of_stock_tasks(rng, pools, n):
    for order, item in sample(rng, pools.single_items(pools.refundable(), in_stock=False), n):
        c = pools.customer(order)
        text = (f"My {item['name']} from order {order['order_id']} {damage(rng, item)}. I'd like a new one "
                f"sent out, please. Account: {c['email']}")
        price = line_total(item)
        yield task("replacement_out_of_stock", c, text,
                   state(refunds=[{"order_id": order["order_id"], "amount": price}]),
                   [order["order_id"], money(price)],
                   ["verify", "refund-window", "replace-damaged", "refund-max-price"])


def either_tasks(rng, pools, n):
    for order, item in sample(rng, pools.single_items(pools.refundable(), in_stock=True), n):
        c = pools.customer(order)
        text = (f"Hello, {c['email']} here. The {item['name']} from {order['order_id']} {damage(rng, item)}. "
                f"A refund or a new one, whatever works for you.")
        yield task("replace_or_refund", c, text,
                   state(replacements=[{"order_id": order["order_id"], "sku": item["sku"]}]),
                   [order["order_id"], "replace"], ["verify", "refund-window", "replace-damaged"])


def escalation_text(rng, c, order, item):
    return rng.choice([
        f"This is {c['name']} ({c['email']}). The {item['name']} from order {order['order_id']} "
        f"{damage(rng, item)}. I want a full refund today.",
        f"I'm very disappointed: my {item['name']} (order {order['order_id']}) {damage(rng, item)}. "
        f"Please make this right. {c['email']}",
    ])


def high_value_tasks(rng, pools, n):
    orders = pools.orders(lambda o, c: within_window(o) and o["total"] > 500)
    for order in sample(rng, orders, n):
        c = pools.customer(order)
        item = max(order["items"], key=line_total)
        rules = ["verify", "escalate-high-value"] + (["escalate-vip"] if c["vip"] else [])
        yield task("escalation_high_value", c, escalation_text(rng, c, order, item),
                   state(escalations=[order["order_id"]]), [order["order_id"], "escalat"], rules)


def vip_tasks(rng, pools, n):
    orders = pools.orders(lambda o, c: within_window(o) and o["total"] <= 500 and c["vip"])
    for order, item in sample(rng, [(o, i) for o in orders for i in o["items"]], n):
        c = pools.customer(order)
        yield task("escalation_vip", c, escalation_text(rng, c, order, item),
                   state(escalations=[order["order_id"]]), [order["order_id"], "escalat"],
                   ["verify", "escalate-vip"])


def status_tasks(rng, pools, n):
    pending = pools.orders(lambda o, c: o["status"] in ("shipped", "processing"))
    delivered = pools.orders(lambda o, c: within_window(o))
    for order in sample(rng, pending, n - n // 2) + sample(rng, delivered, n // 2):
        c = pools.customer(order)
        text = rng.choice([
            f"Hi! Where is my order {order['order_id']}? My email is {c['email']}.",
            f"Could you tell me the status of order {order['order_id']}? Thanks, {first_name(c)} ({c['email']})",
        ])
        yield task("order_status", c, text, state(), status_reply(order), ["verify", "order-status"])


def no_order_id_tasks(rng, pools, n):
    def unique_item(order, item):
        mine = [o for o in pools.db.orders.values() if o["customer_email"] == order["customer_email"]]
        return len(mine) >= 2 and sum(i["name"] == item["name"] for o in mine for i in o["items"]) == 1

    pairs = [(o, i) for o, i in pools.single_items(pools.refundable()) if unique_item(o, i)]
    for order, item in sample(rng, pairs, n):
        c = pools.customer(order)
        text = (f"Hi, I'm {first_name(c)}, {c['email']}. I don't have the order number handy, but the "
                f"{item['name']} I bought recently {damage(rng, item)}. I'd like a refund for it.")
        price = line_total(item)
        yield task("no_order_id", c, text, state(refunds=[{"order_id": order["order_id"], "amount": price}]),
                   [order["order_id"], money(price)], ["verify"] + REFUND_RULES[1:])


def wrong_owner_tasks(rng, pools, n):
    for order, item in sample(rng, pools.single_items(pools.refundable()), n):
        others = [c for c in pools.customers if c["email"] != order["customer_email"] and not c["vip"]]
        c = rng.choice(others)
        text = (f"Hello, I'm {c['name']} ({c['email']}). The {item['name']} from order {order['order_id']} "
                f"{damage(rng, item)}. Please refund it to my card.")
        yield task("wrong_owner", c, text, state(), [order["order_id"]], ["verify"])


KINDS = [  # (generator, how many)
    (refund_tasks, 7), (two_item_refund_tasks, 3), (capped_refund_tasks, 4), (outside_window_tasks, 5),
    (cancelled_tasks, 4), (not_delivered_tasks, 4), (replacement_tasks, 6), (out_of_stock_tasks, 4),
    (either_tasks, 3), (high_value_tasks, 5), (vip_tasks, 5), (status_tasks, 5), (no_order_id_tasks, 3),
    (wrong_owner_tasks, 2),
]
SPLIT_CYCLE = ["train", "val", "train", "test", "train"]  # 3/1/1 of every five: 60% / 20% / 20%


def make_tasks(rng: random.Random, db: Database) -> list[dict[str, Any]]:
    pools = Pools(db)
    tasks = [t for make, n in KINDS for t in make(rng, pools, n)]
    return [{"id": f"support-{n:03d}", "split": SPLIT_CYCLE[n % len(SPLIT_CYCLE)], **t}
            for n, t in enumerate(tasks)]


def generate(data_dir: Path = DATA_DIR) -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    customers, shop = make_database(rng)
    db = Database(customers={c["email"]: c for c in customers},
                  orders={o["order_id"]: o for o in shop["orders"]}, stock=shop["stock"])
    tasks = make_tasks(rng, db)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "customers.json").write_text(json.dumps(customers, indent=2) + "\n", encoding="utf-8")
    (data_dir / "orders.json").write_text(json.dumps(shop, indent=2) + "\n", encoding="utf-8")
    with (data_dir / "tasks.jsonl").open("w", encoding="utf-8") as handle:
        for record in tasks:
            handle.write(json.dumps(record) + "\n")
    return tasks


if __name__ == "__main__":
    written = generate()
    print(f"wrote {len(written)} tasks to {DATA_DIR}")
