"""Tests of the desired state: loading, templating, validation, building and export."""
