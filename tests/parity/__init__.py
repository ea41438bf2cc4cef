"""Parity of the sandbox with the real Kubiya router: see test_kubiya_parity.py and run.sh."""
