"""Tests of the core values: the field-level diff and the planner."""
