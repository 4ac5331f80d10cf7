"""The offline model: an extractive answerer that needs no network, for development and demos.

It quotes the sentences of the knowledge-base passages and attached files that share the most words
with the question, citing them, or says that no model is configured. It streams like a real provider
(message start, several text deltas, stop, usage), and calls the built-in tools for questions that are
plainly arithmetic or about the current time, so every stream event can be seen without a cloud account.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from pydantic import BaseModel
from strands.models import Model

from chat_agent.models.base import Grounding
from chat_core.errors import ModelError

__all__ = ["OfflineExtractiveModel", "compose_answer", "estimate_tokens"]

T = TypeVar("T", bound=BaseModel)

_WORD: Final = re.compile(r"[a-z0-9]+")
_SENTENCE_END: Final = re.compile(r"(?<=[.!?])\s+|\n+")
_ARITHMETIC: Final = re.compile(r"[-+(]*\s*\d[\d.\s]*(?:\s*(?:\*\*|//|[-+*/^%])\s*[-+(]*\s*\d[\d.\s)]*)+")
_ASKS_TIME: Final = re.compile(
    r"\b(what time|current time|time is it|today's date|what date|what day)\b", re.I
)
_STOPWORDS: Final = frozenset(
    """a about after all also am an and any are as at be been but by can could did do does for from had has
    have how i if in into is it its me my no not of on or our please should so some tell than that the
    their them then there these they this to was we were what when where which who why will with would
    you your""".split()  # noqa: SIM905  (a word list reads better as text)
)
_MAX_PASSAGE_QUOTES: Final = 3
_MAX_ATTACHMENT_QUOTES: Final = 2
_MAX_QUOTE_CHARS: Final = 400
_WORDS_PER_DELTA: Final = 3
_NOTE: Final = "_Offline extractive model: these are quotations, not a generated answer._"


def estimate_tokens(text: str) -> int:
    """Roughly four characters per token, the usual rule of thumb for English text."""
    return math.ceil(len(text) / 4)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _terms(text: str) -> set[str]:
    return {_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS and len(word) > 1}


@dataclass(frozen=True, slots=True)
class _Quote:
    score: int
    order: int
    text: str
    source: str


def _quotes(question: set[str], text: str, source: str, start: int) -> Iterable[_Quote]:
    for offset, sentence in enumerate(_SENTENCE_END.split(text)):
        sentence = " ".join(sentence.split())
        score = len(question & _terms(sentence))
        if score:
            cut = sentence if len(sentence) <= _MAX_QUOTE_CHARS else sentence[:_MAX_QUOTE_CHARS] + "\u2026"
            yield _Quote(score, start + offset, cut, source)


def _best(quotes: list[_Quote], limit: int) -> list[_Quote]:
    chosen = sorted(quotes, key=lambda quote: (-quote.score, quote.order))[:limit]
    return sorted(chosen, key=lambda quote: quote.order)


def compose_answer(grounding: Grounding) -> str:
    """The extractive answer to the grounding's question (pure, for tests and the model alike)."""
    question = _terms(grounding.question)
    passage_quotes = _best(
        [
            quote
            for passage in grounding.passages
            for quote in _quotes(question, passage.text, f"[{passage.number}]", passage.number * 10_000)
        ],
        _MAX_PASSAGE_QUOTES,
    )
    readable = [item for item in grounding.attachments if item.text is not None]
    attachment_quotes = _best(
        [
            quote
            for position, item in enumerate(readable)
            for quote in _quotes(question, item.text or "", f"({item.name})", position * 10_000)
        ],
        _MAX_ATTACHMENT_QUOTES,
    )
    unreadable = [item.name for item in grounding.attachments if item.text is None]
    parts: list[str] = []
    if passage_quotes:
        parts.append(
            "From the knowledge base:\n\n" + "\n".join(f"- {q.text} {q.source}" for q in passage_quotes)
        )
    if attachment_quotes:
        parts.append(
            "From the attached files:\n\n" + "\n".join(f"- {q.text} {q.source}" for q in attachment_quotes)
        )
    if unreadable:
        parts.append("I cannot read " + ", ".join(unreadable) + " without a language model.")
    if not passage_quotes and not attachment_quotes:
        if grounding.passages or readable:
            parts.insert(0, "Nothing in the knowledge base or the attached files matches your question.")
        else:
            parts.insert(
                0,
                "No language model is configured here, so I can only quote an assistant's knowledge base "
                "or attached files, and this question has neither. Ask an administrator to enable a Bedrock "
                "or OpenAI-compatible model.",
            )
    return "\n\n".join([*parts, _NOTE])


def _message_text(messages: Iterable[dict[str, Any]]) -> str:
    return " ".join(
        str(block.get("text", "")) for message in messages for block in message.get("content", [])
    )


class OfflineExtractiveModel(Model):
    """A strands `Model` that answers from the turn's grounding without any network access."""

    def __init__(self, *, model_id: str, grounding: Grounding) -> None:
        self.config: dict[str, Any] = {"model_id": model_id}
        self._grounding = grounding

    def update_config(self, **model_config: Any) -> None:
        """Store options (temperature and the like do not change an extractive answer)."""
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        """The options given."""
        return self.config

    async def structured_output(
        self, output_model: type[T], prompt: Any, system_prompt: str | None = None, **kwargs: Any
    ) -> AsyncGenerator[dict[str, T | Any], None]:
        """Not supported: the service never asks for structured output."""
        if output_model is not None:  # always: raising before the first item keeps this a generator
            raise ModelError("The offline model cannot produce structured output.")
        yield {}

    def _tool_call(self, tool_specs: list[Any] | None) -> tuple[str, dict[str, str]] | None:
        names = {spec["name"] for spec in tool_specs or []}
        question = self._grounding.question
        if "calculator" in names:
            found = max(_ARITHMETIC.findall(question), key=len, default="").strip()
            if found:
                return "calculator", {"expression": found}
        if "current_time" in names and _ASKS_TIME.search(question):
            return "current_time", {"timezone": "UTC"}
        return None

    async def stream(
        self,
        messages: Any,
        tool_specs: list[Any] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[Any]:
        """Stream the answer as Bedrock-shaped events, with token counts estimated from the text."""
        started = time.perf_counter()
        input_tokens = estimate_tokens((system_prompt or "") + _message_text(messages))
        last = messages[-1]["content"] if messages else []
        results = [block["toolResult"] for block in last if "toolResult" in block]
        yield {"messageStart": {"role": "assistant"}}
        call = None if results else self._tool_call(tool_specs)
        if call is not None:
            name, arguments = call
            arguments_json = json.dumps(arguments)
            yield {
                "contentBlockStart": {"start": {"toolUse": {"toolUseId": f"offline-{name}", "name": name}}}
            }
            yield {"contentBlockDelta": {"delta": {"toolUse": {"input": arguments_json}}}}
            yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "tool_use"}}
            output_tokens = estimate_tokens(arguments_json)
        else:
            text = self._explain(results) if results else compose_answer(self._grounding)
            words = re.findall(r"\S+\s*", text)
            yield {"contentBlockStart": {"start": {}}}
            for index in range(0, len(words), _WORDS_PER_DELTA):
                yield {
                    "contentBlockDelta": {"delta": {"text": "".join(words[index : index + _WORDS_PER_DELTA])}}
                }
                await asyncio.sleep(0)
            yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "end_turn"}}
            output_tokens = estimate_tokens(text)
        yield {
            "metadata": {
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "totalTokens": input_tokens + output_tokens,
                },
                "metrics": {"latencyMs": round((time.perf_counter() - started) * 1000)},
            }
        }

    @staticmethod
    def _explain(results: list[dict[str, Any]]) -> str:
        lines = []
        for result in results:
            text = " ".join(str(part.get("text", "")) for part in result.get("content", []))
            lines.append(
                f"The tool answered: {text}"
                if result.get("status") != "error"
                else f"The tool failed: {text}"
            )
        return "\n\n".join([*lines, _NOTE])
