"""Tools the model may call, filtered by the caller's roles."""

from chat_agent.tools.registry import ToolRegistry

__all__ = ["ToolRegistry"]
