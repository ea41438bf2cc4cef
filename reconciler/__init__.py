"""reconciler: a declarative reconciler for the integrations of AI-agent and workflow control planes.

The distribution is published as ``integration-reconciler`` (the PyPI name ``reconciler`` belongs
to an unrelated project); the import package and the command stay ``reconciler``.
"""

DISTRIBUTION = "integration-reconciler"


def __getattr__(name: str) -> str:
    # Read from the package metadata on first use only: importlib.metadata costs a cold start
    # (every command) tens of milliseconds that only `--version` needs.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version(DISTRIBUTION)
        except PackageNotFoundError:  # a bare checkout on sys.path, never installed
            found = "0+unknown"
        globals()["__version__"] = found
        return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
