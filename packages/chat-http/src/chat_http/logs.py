"""One log format for every logger of a service process, uvicorn's included.

The format itself (JSON lines carrying the request id) is `chat_core.logs.JsonFormatter`, so library
log lines look the same wherever they are configured.
"""

from __future__ import annotations

import logging
import sys

from chat_core.logs import JsonFormatter

__all__ = ["configure_logging"]


def configure_logging(level: str, *, json_lines: bool, service: str) -> None:
    """Route every logger (uvicorn's included) to stderr in one format; uvicorn's access log is off.

    The request-context middleware writes the access log instead, with the request id and duration.
    """
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
