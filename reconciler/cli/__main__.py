"""`python -m reconciler.cli`: the `reconciler` executable."""

from reconciler.cli import run

run()
