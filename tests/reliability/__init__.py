"""Apply under injected faults: re-running converges with no duplicates and nothing lost."""
