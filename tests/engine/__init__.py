"""Tests of `reconciler.engine`: the session and the plan file."""
