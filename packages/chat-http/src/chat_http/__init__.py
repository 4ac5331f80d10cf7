"""The HTTP edge both chat services share: settings base, error body, middleware, bearer tokens, logging.

The one library of the workspace that may import FastAPI and Starlette. A service keeps only what is
its own (routes, schemas, services, lifespan, extra settings) and builds everything else from here.
"""

from importlib.metadata import version

__version__ = version("chat-http")
__all__ = ["__version__"]
