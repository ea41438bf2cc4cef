"""Contract tests: what the adapters send and the sandbox answers, checked against the vendors' own specs and SDKs."""
