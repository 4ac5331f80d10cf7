"""Domain of the chat platform: entities, pure rules, the error model and the storage ports.

Depends on pydantic only; identity verification lives in `chat_core.auth` behind the `auth` extra.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("chat-core")
except PackageNotFoundError:  # JUSTIFICATION: running from a source tree without an installed distribution.
    __version__ = "0.0.0"

__all__ = ["__version__"]
