"""Write tickets.jsonl: the demo's support tickets (deterministic; run to regenerate).

Each ticket: the customer's message, the team it belongs to (category) and how urgent it
is (priority). Priority rules: high = money taken wrongly, a security problem or a
complete outage; low = a question or a request with no harm yet; medium = the rest.

Each template gives two tickets (other order numbers, amounts, greetings), and both go to
the same split: a val or test ticket never repeats a train ticket, so what a demonstration
shows cannot carry a held-out answer across (`agentopt run` checks this: overlap.json).
"""

import json
import random
from pathlib import Path

TEMPLATES = {
    ("billing", "high"): [
        "I was charged twice for order {order}. Please fix this today, the money is gone from my account.",
        "Your system billed my card {amount} three times this morning. I need this reversed now.",
        "Someone used my card on your site for {amount}. I never placed order {order}!",
        "You charged me {amount} after I cancelled my subscription. This is the second month in a row.",
    ],
    ("billing", "medium"): [
        "My invoice for order {order} shows the wrong VAT number. Can you send a corrected one?",
        "The discount code SAVE10 was not applied to order {order}; I paid {amount}.",
        "I was charged {amount} but the price on the page was lower. Please refund the difference.",
    ],
    ("billing", "low"): [
        "Can I pay by bank transfer next time instead of card?",
        "Do you offer annual billing for the Pro plan? Just curious about the price.",
        "Where can I download my old invoices from last year?",
    ],
    ("technical", "high"): [
        "The app crashes on start for everyone in our team since the update. We cannot work at all.",
        "Your API returns 500 errors for every request since 9am. Our whole shop is down.",
        "I think my account was hacked: I see logins from another country and my settings changed.",
        "Data export deletes records instead of exporting them! We lost customer data.",
    ],
    ("technical", "medium"): [
        "The sync button takes about a minute to finish, it used to be instant.",
        "Notifications stopped arriving on my phone, the website still works.",
        "The PDF export cuts off the last column of my report.",
    ],
    ("technical", "low"): [
        "Is there a dark mode in the desktop app? Would love that.",
        "How do I change the language of the interface to German?",
        "Feature request: please add keyboard shortcuts for the editor.",
    ],
    ("shipping", "high"): [
        "Order {order} was marked delivered but never arrived and it was medicine I need today.",
        "The courier left my package {order} open in the rain, everything inside is destroyed.",
        "I received someone else's order with their name and address on it instead of {order}.",
    ],
    ("shipping", "medium"): [
        "Order {order} is three days late. Any update on when it will arrive?",
        "I got the wrong size in order {order}, can I exchange it?",
        "Tracking for {order} has not updated for a week.",
    ],
    ("shipping", "low"): [
        "Do you ship to Norway? And how long does it usually take?",
        "Can I change the delivery address for my next order?",
        "What carrier do you use for express delivery?",
    ],
    ("account", "high"): [
        "I am locked out of my account and the reset email never comes. I have a client demo in an hour.",
        "My account was deleted by mistake and all my projects are gone.",
        "Someone changed the email on my account and I can no longer log in.",
    ],
    ("account", "medium"): [
        "I want to merge my two accounts into one, how can I do that?",
        "Two-factor codes from my authenticator are rejected sometimes.",
        "Please update the company name on my account to {company}.",
    ],
    ("account", "low"): [
        "How do I change my profile picture?",
        "Can I have two users on the basic plan?",
        "Where do I set my time zone in the account settings?",
    ],
}
COMPANIES = ["Acme Ltd", "Nordwind GmbH", "Blue Harbor Inc", "Kite & Co"]
OPENERS = ["", "Hi, ", "Hello support, ", "Good morning. "]
CLOSERS = ["", " Thanks.", " Thank you!", " Regards, Sam"]


def main() -> None:
    rng = random.Random(7)
    templates = [(label, text) for label, texts in TEMPLATES.items() for text in texts]
    rng.shuffle(templates)
    tickets = []
    for number, ((category, priority), text) in enumerate(templates, start=1):
        split = "train" if number % 5 in (1, 2, 3) else ("val" if number % 5 == 4 else "test")
        for copy in range(2):
            message = text.format(
                order=f"A{rng.randint(10000, 99999)}",
                amount=f"${rng.randint(12, 480)}.{rng.randint(0, 99):02d}",
                company=rng.choice(COMPANIES),
            )
            if copy:
                opener = rng.choice(OPENERS[1:])
                keep_capital = opener.endswith(". ") or message.split()[0] in ("I", "I'm")
                message = f"{opener}{message if keep_capital else message[0].lower() + message[1:]}{rng.choice(CLOSERS)}"
            tickets.append({"split": split, "input": message, "expected": {"category": category, "priority": priority}})
    rng.shuffle(tickets)
    out = [{"id": f"t{number:03d}", **ticket} for number, ticket in enumerate(tickets, start=1)]
    path = Path(__file__).with_name("tickets.jsonl")
    path.write_text("".join(json.dumps(t) + "\n" for t in out), encoding="utf-8")
    print(f"wrote {len(out)} tickets to {path}")


if __name__ == "__main__":
    main()
