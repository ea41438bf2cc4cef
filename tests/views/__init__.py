"""Tests of `reconciler.views`: the human, JSON and Markdown renderings, with goldens."""
