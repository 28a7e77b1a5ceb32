"""`support`: a customer-support desk over a small shop database.

The agent reads one customer message, looks up the customer and their orders, acts
(refund, replace, escalate) under a written policy (`policy.md`), and ends the episode
with `reply_to_customer`. The reward compares the actions taken with the task's expected
final state; broken policy rules are recorded for the rubric.
"""
