"""The tools turns can use: the built-in tools and the registry that names and describes them."""

from chat_agent.tools.registry import BUILTIN_TOOLS, RegisteredTool, ToolRegistry

__all__ = ["BUILTIN_TOOLS", "RegisteredTool", "ToolRegistry"]
