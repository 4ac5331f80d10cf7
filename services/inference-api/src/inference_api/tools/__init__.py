"""Tools the model may call, filtered by the caller's roles."""

from inference_api.tools.registry import ToolRegistry

__all__ = ["ToolRegistry"]
