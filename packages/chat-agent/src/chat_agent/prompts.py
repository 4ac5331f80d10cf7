"""The system prompt of a turn: the deployment's (or the caller's), the date, the assistant's instructions."""

from __future__ import annotations

from datetime import date

__all__ = ["DEFAULT_SYSTEM_PROMPT", "system_prompt"]

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer clearly and accurately; say so when you do not know. "
    "Use the tools you are given when they help, and format answers in Markdown."
)
_INSTRUCTIONS_HEADING = "## Assistant-Specific Instructions"


def system_prompt(base: str, *, today: date, instructions: str | None = None) -> str:
    """`base`, the current date, then the assistant's instructions under their heading (as the original)."""
    prompt = f"{base}\n\nCurrent date: {today.isoformat()}"
    if instructions is not None and instructions.strip():
        prompt += f"\n\n{_INSTRUCTIONS_HEADING}\n\n{instructions.strip()}"
    return prompt
