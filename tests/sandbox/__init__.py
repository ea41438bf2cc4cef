"""Tests of the sandbox: the three emulators against their API contracts, in process and served."""
