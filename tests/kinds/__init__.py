"""Tests of `reconciler.kinds`: the spec of each resource kind."""
