"""Split parsed blocks into overlapping, heading-aware chunks that fit the embedder's input.

Chunks never cross a heading: each section (blocks under the same heading path) is packed sentence by
sentence up to the token budget, and each new chunk of a section starts with the last
`overlap_tokens` worth of the previous one. The heading path is kept on the chunk and put in front of
its text when it is embedded and indexed, so a passage keeps its context.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Final

from chat_rag.parsing import Block

__all__ = [
    "CHUNKER_VERSION",
    "Chunk",
    "TokenCounter",
    "chunk_blocks",
    "estimate_tokens",
    "heading_context",
]

CHUNKER_VERSION: Final = "1"
"""Bump when chunk boundaries change: documents ingested before are then chunked again on re-ingest."""

TokenCounter = Callable[[Sequence[str]], list[int]]
"""Counts the tokens of each text, without special tokens such as `[CLS]`."""

_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD_PIECE = re.compile(r"\w+|[^\w\s]")
_MAX_HEADING_SHARE: Final = 3
"""The heading line may take at most a third of a chunk's budget."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of a document, as stored and returned by search."""

    position: int
    """0-based order within the document."""
    text: str
    heading_path: tuple[str, ...]
    context: str = ""
    """The heading line embedded and indexed with the text (may be shortened to fit the budget)."""

    @property
    def embedding_text(self) -> str:
        """What the embedder and the lexical index see: the heading line, then the text."""
        return f"{self.context}\n\n{self.text}" if self.context else self.text


def estimate_tokens(texts: Sequence[str]) -> list[int]:
    """A conservative token count for providers whose tokenizer is not available offline.

    Every word is at least one token and long words count one per four characters, which is above
    what BPE tokenizers produce for ordinary prose, so chunks sized with it fit the real limit.
    """
    return [sum(max(1, math.ceil(len(piece) / 4)) for piece in _WORD_PIECE.findall(text)) for text in texts]


def heading_context(heading_path: Sequence[str], count_tokens: TokenCounter, max_tokens: int) -> str:
    """The heading line for a section, shortened (outer headings first) to a third of `max_tokens`."""
    parts = [part for part in heading_path if part]
    limit = max_tokens // _MAX_HEADING_SHARE
    while parts:
        line = " > ".join(parts)
        if count_tokens([line])[0] <= limit:
            return line
        if len(parts) == 1:
            words = parts[0].split()
            return " ".join(words[: _fit_prefix(words, count_tokens, limit)])
        parts = parts[1:]
    return ""


def chunk_blocks(
    blocks: Iterable[Block], *, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int
) -> list[Chunk]:
    """Split blocks into chunks of at most `max_tokens` tokens, heading line included.

    Args:
        blocks: Parsed blocks in reading order.
        count_tokens: The active embedder's token counter.
        max_tokens: Budget per chunk, heading line included.
        overlap_tokens: Tokens of a chunk repeated at the start of the next chunk of the same section.

    Returns:
        Chunks numbered from 0 in reading order.
    """
    assert 0 <= overlap_tokens < max_tokens, "overlap must be smaller than the chunk size"
    chunks: list[Chunk] = []
    for heading_path, section in groupby(blocks, key=lambda block: block.heading_path):
        context = heading_context(heading_path, count_tokens, max_tokens)
        budget = max_tokens - (count_tokens([context])[0] if context else 0)
        packer = _SectionPacker(count_tokens, budget, min(overlap_tokens, budget // 2))
        for text in packer.pack(list(section)):
            chunks.append(Chunk(len(chunks), text, heading_path, context))
    return chunks


@dataclass(slots=True)
class _Unit:
    text: str
    tokens: int
    separator: str
    """What joins this unit to the previous one: a paragraph break, a line break or a space."""


class _SectionPacker:
    def __init__(self, count_tokens: TokenCounter, budget: int, overlap: int) -> None:
        self._count = count_tokens
        self._budget = budget
        self._overlap = overlap

    def pack(self, blocks: list[Block]) -> list[str]:
        texts: list[str] = []
        current: list[_Unit] = []
        used = 0
        for unit in self._units(blocks):
            if current and used + unit.tokens > self._budget:
                texts.append(_join(current))
                current = self._tail(current)
                while current and sum(u.tokens for u in current) + unit.tokens > self._budget:
                    current.pop(0)
                used = sum(u.tokens for u in current)
            current.append(unit)
            used += unit.tokens
        if current:
            texts.append(_join(current))
        return texts

    def _units(self, blocks: list[Block]) -> list[_Unit]:
        pieces: list[tuple[str, str]] = []
        for block in blocks:
            separator = "\n\n"
            for line in block.text.split("\n"):
                for sentence in _SENTENCE_END.split(line.strip()):
                    if sentence.strip():
                        pieces.append((sentence.strip(), separator))
                        separator = " "
                separator = "\n" if separator == " " else separator
        counts = self._count([text for text, _ in pieces]) if pieces else []
        units: list[_Unit] = []
        for (text, separator), tokens in zip(pieces, counts, strict=True):
            if tokens <= self._budget:
                units.append(_Unit(text, tokens, separator))
            else:
                units.extend(self._split_long(text, separator))
        return units

    def _split_long(self, text: str, separator: str) -> list[_Unit]:
        """Cut a sentence longer than the budget at word boundaries.

        Pieces leave room for the overlap, so consecutive pieces still share `overlap` tokens.
        """
        words = text.split()
        counts = self._count(words)
        piece_budget = self._budget - self._overlap
        units: list[_Unit] = []
        start, used = 0, 0
        for index, tokens in enumerate(counts):
            if index > start and used + tokens > piece_budget:
                units.append(_Unit(" ".join(words[start:index]), used, separator if not units else " "))
                start, used = index, 0
            used += tokens
        units.append(_Unit(" ".join(words[start:]), used, separator if not units else " "))
        return [unit if unit.tokens <= self._budget else self._hard_cut(unit) for unit in units]

    def _hard_cut(self, unit: _Unit) -> _Unit:
        """A single 'word' over the budget (a URL, a hash): keep the prefix that fits."""
        text = unit.text
        while len(text) > 1 and self._count([text])[0] > self._budget:
            text = text[: len(text) * 3 // 4]
        return _Unit(text, self._count([text])[0], unit.separator)

    def _tail(self, units: list[_Unit]) -> list[_Unit]:
        """The last whole units worth at most `overlap` tokens, or the last words of the last unit."""
        if self._overlap <= 0:
            return []
        tail: list[_Unit] = []
        used = 0
        for unit in reversed(units):
            if used + unit.tokens > self._overlap:
                break
            tail.insert(0, unit)
            used += unit.tokens
        if tail:
            return tail
        words = units[-1].text.split()
        counts = self._count(words)
        kept, used = 0, 0
        for tokens in reversed(counts):
            if used + tokens > self._overlap:
                break
            kept, used = kept + 1, used + tokens
        return [_Unit(" ".join(words[len(words) - kept :]), used, " ")] if kept else []


def _join(units: list[_Unit]) -> str:
    return "".join(
        unit.text if index == 0 else unit.separator + unit.text for index, unit in enumerate(units)
    )


def _fit_prefix(words: list[str], count_tokens: TokenCounter, limit: int) -> int:
    used = 0
    for index, tokens in enumerate(count_tokens(words)):
        if used + tokens > limit:
            return index
        used += tokens
    return len(words)
