"""The search (`agentopt run`): propose candidate specs, screen them on train, accept only
strict held-out improvements on val, report test once at the end."""
