"""reconciler: a declarative reconciler for the integrations of AI-agent and workflow control planes.

The distribution is published as ``integration-reconciler`` (the PyPI name ``reconciler`` belongs
to an unrelated project); the import package and the command stay ``reconciler``.
"""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "integration-reconciler"

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # a bare checkout on sys.path, never installed
    __version__ = "0+unknown"
