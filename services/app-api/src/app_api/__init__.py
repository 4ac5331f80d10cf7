"""HTTP API for the chat frontend (port 8000)."""

from importlib.metadata import version

__version__ = version("app-api")
__all__ = ["__version__"]
