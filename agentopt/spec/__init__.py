"""What the user writes: agent specs (agents/*.yaml) and rubrics (rubrics/*.yaml)."""
