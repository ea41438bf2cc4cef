"""Tests of `reconciler.apply`: the scheduler."""
