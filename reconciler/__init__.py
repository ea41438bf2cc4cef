"""reconciler: a declarative reconciler for the integrations of AI-agent and workflow control planes."""

__version__ = "0.1.0"
