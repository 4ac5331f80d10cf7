"""strands agent events -> the SSE events of the frontend's protocol (see STREAMING.md).

The translator also collects what the turn produced (messages, usage, time to first token) so the
turn can be stored exactly as it was streamed. Raw strands pass-through events are never forwarded.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring
from typing import Any, Final

from chat_core.costs import TokenUsage
from chat_core.errors import ChatError, RateLimitError, UnavailableError
from chat_core.logs import request_id_var
from chat_core.messages import ContentBlock, ToolResult, ToolUse

__all__ = ["SseEvent", "StreamTranslator", "encode_event", "json_safe", "stream_error_event"]

SseEvent = tuple[str, dict[str, Any]]
"""An event name and its JSON payload."""

_USAGE_KEYS: Final = (
    ("inputTokens", "input_tokens"),
    ("outputTokens", "output_tokens"),
    ("totalTokens", "total_tokens"),
    ("cacheReadInputTokens", "cache_read_input_tokens"),
    ("cacheWriteInputTokens", "cache_write_input_tokens"),
)


_JSON: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_TEXT_DELTA: Final = 'event: content_block_delta\ndata: {"contentBlockIndex":%d,"type":"text","text":%s}\n\n'
_TEXT_DELTA_KEYS: Final = ("contentBlockIndex", "type", "text")


def encode_event(name: str, data: Mapping[str, Any]) -> bytes:
    """One SSE frame: an `event:` line, a `data:` line with compact JSON, a blank line.

    JSON never contains a raw newline, so one `data:` line always suffices. Text deltas, nearly every
    event of a turn, are filled into a template (only their text is JSON-encoded): the same bytes,
    about ten times faster than encoding the whole object.
    """
    if name == "content_block_delta" and tuple(data) == _TEXT_DELTA_KEYS and data["type"] == "text":
        return (_TEXT_DELTA % (data["contentBlockIndex"], encode_basestring(data["text"]))).encode()
    return f"event: {name}\ndata: {_JSON.encode(data)}\n\n".encode()


def json_safe(value: Any) -> Any:
    """`value` with bytes as base64 text, so tool results and reasoning can be sent and stored."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _tool_result_content(content: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Text and JSON parts of a tool result; binary parts (images, documents) are only named."""
    parts: list[dict[str, Any]] = []
    for part in content:
        if "text" in part:
            parts.append({"text": str(part["text"])})
        elif "json" in part:
            parts.append({"json": json_safe(part["json"])})
        else:
            parts.append({"text": f"[{next(iter(part), 'binary')} content omitted]"})
    return parts


def _tool_input(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    return {"value": json_safe(value)}


class StreamTranslator:
    """Turns the events of `Agent.stream_async` into protocol events, one agent run at a time.

    `contentBlockIndex` counts the text and tool-use blocks of each model message from 0; reasoning is
    sent as `reasoning` events and gets no index (the original frontend renders it apart).
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.usage = TokenUsage()
        self.messages: list[Mapping[str, Any]] = []
        """Messages the agent added this turn: assistant replies and tool-result messages."""
        self.first_token_at: float | None = None
        self.stop_reason: str | None = None
        self._index = -1
        self._open: int | None = None
        self._in_message = False

    def feed(self, event: Mapping[str, Any]) -> list[SseEvent]:
        """Protocol events for one strands event (often none)."""
        if "event" in event:
            return self._raw(event["event"])
        if "message" in event:
            return self._message(event["message"])
        return []

    def close(self) -> list[SseEvent]:
        """Events that end an interrupted message cleanly (before a `stream_error`)."""
        closing: list[SseEvent] = []
        if self._open is not None:
            closing.append(("content_block_stop", {"contentBlockIndex": self._open}))
            self._open = None
        if self._in_message:
            closing.append(("message_stop", {"stopReason": "error"}))
            self._in_message = False
        return closing

    def _first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = self._clock()

    def _open_block(self, kind: str, extra: dict[str, Any] | None = None) -> SseEvent:
        self._first_token()
        self._index += 1
        self._open = self._index
        return ("content_block_start", {"contentBlockIndex": self._index, "type": kind} | (extra or {}))

    def _raw(self, raw: Mapping[str, Any]) -> list[SseEvent]:
        if "messageStart" in raw:
            self._in_message = True
            self._index = -1
            return [("message_start", {"role": raw["messageStart"].get("role", "assistant")})]
        if "contentBlockStart" in raw:
            tool_use = raw["contentBlockStart"].get("start", {}).get("toolUse")
            if tool_use is None:
                return []  # a text or reasoning block: opened by its first delta, whose kind tells which
            spec = {
                "toolUseId": tool_use.get("toolUseId", ""),
                "name": tool_use.get("name", ""),
                "type": "tool_use",
            }
            return [*self._close_block(), self._open_block("tool_use", {"toolUse": spec})]
        if "contentBlockDelta" in raw:
            return self._delta(raw["contentBlockDelta"].get("delta", {}))
        if "contentBlockStop" in raw:
            return self._close_block()
        if "messageStop" in raw:
            self.stop_reason = raw["messageStop"].get("stopReason")
            events = self._close_block()
            self._in_message = False
            return [*events, ("message_stop", {"stopReason": self.stop_reason})]
        if "metadata" in raw:
            return [self._metadata(raw["metadata"])]
        return []

    def _close_block(self) -> list[SseEvent]:
        if self._open is None:
            return []
        index, self._open = self._open, None
        return [("content_block_stop", {"contentBlockIndex": index})]

    def _delta(self, delta: Mapping[str, Any]) -> list[SseEvent]:
        if "text" in delta:
            events = [] if self._open is not None else [self._open_block("text")]
            return [
                *events,
                (
                    "content_block_delta",
                    {"contentBlockIndex": self._open, "type": "text", "text": delta["text"]},
                ),
            ]
        if "toolUse" in delta and self._open is not None:
            payload = {
                "contentBlockIndex": self._open,
                "type": "tool_use",
                "input": delta["toolUse"].get("input", ""),
            }
            return [("content_block_delta", payload)]
        reasoning = delta.get("reasoningContent")
        if reasoning:
            self._first_token()
            if "text" in reasoning:
                return [("reasoning", {"reasoningText": reasoning["text"]})]
            if "signature" in reasoning:
                return [("reasoning", {"reasoning_signature": reasoning["signature"]})]
            if "redactedContent" in reasoning:
                return [("reasoning", {"redactedContent": json_safe(reasoning["redactedContent"])})]
        return []

    def _metadata(self, metadata: Mapping[str, Any]) -> SseEvent:
        raw_usage = metadata.get("usage", {})
        usage = {wire: int(raw_usage[wire]) for wire, _ in _USAGE_KEYS if raw_usage.get(wire) is not None}
        self.usage = self.usage + TokenUsage(
            **{name: usage[wire] for wire, name in _USAGE_KEYS if wire in usage}
        )
        metrics = {
            key: int(value)
            for key, value in metadata.get("metrics", {}).items()
            if key in ("latencyMs", "timeToFirstByteMs") and isinstance(value, int | float)
        }
        return ("metadata", {"usage": usage, "metrics": metrics})

    def _message(self, message: Mapping[str, Any]) -> list[SseEvent]:
        self.messages.append(message)
        events: list[SseEvent] = []
        for block in message.get("content", []):
            if "toolUse" in block:
                tool_use = block["toolUse"]
                payload = {"name": tool_use.get("name", ""), "tool_use_id": tool_use.get("toolUseId", "")}
                events.append(
                    ("tool_use", {"tool_use": payload | {"input": _tool_input(tool_use.get("input"))}})
                )
            elif "toolResult" in block:
                result = block["toolResult"]
                events.append(
                    (
                        "tool_result",
                        {
                            "tool_result": {
                                "toolUseId": result.get("toolUseId", ""),
                                "status": result.get("status", "success"),
                                "content": _tool_result_content(result.get("content", [])),
                            }
                        },
                    )
                )
        return events

    def reply_blocks(self) -> list[ContentBlock]:
        """The turn's reply as stored content: text, tool use, tool results and reasoning, in order."""
        blocks: list[ContentBlock] = []
        for message in self.messages:
            for block in message.get("content", []):
                if "text" in block:
                    blocks.append(ContentBlock.of_text(str(block["text"])))
                elif "toolUse" in block:
                    tool_use = block["toolUse"]
                    blocks.append(
                        ContentBlock(
                            type="toolUse",
                            tool_use=ToolUse(
                                tool_use_id=tool_use.get("toolUseId", ""),
                                name=tool_use.get("name", ""),
                                input=_tool_input(tool_use.get("input")),
                            ),
                        )
                    )
                elif "toolResult" in block:
                    result = block["toolResult"]
                    blocks.append(
                        ContentBlock(
                            type="toolResult",
                            tool_result=ToolResult(
                                tool_use_id=result.get("toolUseId", ""),
                                status="error" if result.get("status") == "error" else "success",
                                content=_tool_result_content(result.get("content", [])),
                            ),
                        )
                    )
                elif "reasoningContent" in block:
                    blocks.append(
                        ContentBlock(
                            type="reasoningContent", reasoning_content=json_safe(block["reasoningContent"])
                        )
                    )
        return blocks


def stream_error_event(exc: ChatError, *, session_id: str) -> dict[str, Any]:
    """The `stream_error` event for a failure after the stream started (its status is already sent).

    The same code and safe message the error body would carry, plus whether retrying may help.
    """
    event: dict[str, Any] = {
        "type": "stream_error",
        "code": exc.code.value,
        "message": exc.message,
        "recoverable": exc.recoverable,
        "metadata": {"session_id": session_id, "requestId": request_id_var.get()},
    }
    if isinstance(exc, UnavailableError | RateLimitError) and exc.retry_after is not None:
        event["retry_after"] = exc.retry_after
    return event
