"""The reconciler test suite: one package per package of `reconciler`, and end-to-end, contract
and reliability tests."""
