"""Streaming chat turns on the AgentCore Runtime contract (port 8080)."""

from importlib.metadata import version

__version__ = version("inference-api")
__all__ = ["__version__"]
