"""Tests of `reconciler.platforms`: the adapters and the shared HTTP layer against the sandbox."""
