"""Chat turns on strands-agents, for both services: model providers, tools, the event protocol, turns.

inference-api runs the stored turns of `/invocations`; app-api runs an assistant's test chat on the same
machinery without storing it. Importing this package is cheap; strands loads with the modules that use it.
"""

from importlib.metadata import version

__version__ = version("chat-agent")
__all__ = ["__version__"]
