"""Domain of the chat platform: entities, pure rules, the error model and the storage ports.

Depends on pydantic only. (`chat_core.auth`, behind the `auth` extra, is deprecated: see `chat_http.auth`.)
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("chat-core")
except PackageNotFoundError:  # JUSTIFICATION: running from a source tree without an installed distribution.
    __version__ = "0.0.0"

__all__ = ["__version__"]
