"""End-to-end tests of the `reconciler` command line against the sandbox."""
