"""BM25 over a snapshot of a space's full-text index, scored in NumPy.

SQLite's FTS5 ranks every row that matches any query term: at 100,000 chunks a question of ordinary
words matches a quarter of them and ranking takes 40-100 ms. A snapshot holds each term's postings
(row, term frequency) read from FTS5's own index, so the same tokens (Porter stemming, unicode61) are
scored for only the query's terms in a few vector operations. Rows added since the snapshot are
tokenized by an in-memory FTS5 table with the same tokenizer and scored with it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["Postings", "query_stems", "tokenize"]

TOKENIZER: Final = "porter unicode61 remove_diacritics 2"
_K1: Final = 1.2  # FTS5's bm25() constants
_B: Final = 0.75

_local = threading.local()


def _tokenizer() -> sqlite3.Connection:
    connection: sqlite3.Connection | None = getattr(_local, "connection", None)
    if connection is None:
        connection = sqlite3.connect(":memory:", isolation_level=None)
        connection.execute(f"CREATE VIRTUAL TABLE words USING fts5(text, tokenize = '{TOKENIZER}')")
        connection.execute("CREATE VIRTUAL TABLE words_seen USING fts5vocab(words, 'instance')")
        _local.connection = connection
    return connection


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """The FTS5 tokens of each text, in order, exactly as the knowledge base's full-text index sees them."""
    connection = _tokenizer()
    connection.execute("BEGIN")
    try:
        connection.executemany("INSERT INTO words (rowid, text) VALUES (?, ?)", enumerate(texts))
        tokens: list[list[str]] = [[] for _ in texts]
        for term, doc in connection.execute("SELECT term, doc FROM words_seen"):
            tokens[doc].append(term)
    finally:
        connection.execute("ROLLBACK")
    return tokens


def query_stems(words: Sequence[str]) -> list[str]:
    """Distinct stems of the query words."""
    return list(dict.fromkeys(stem for stems in tokenize([" ".join(words)]) for stem in stems))


class Postings:
    """Term -> (row, BM25 term weight) lists over a set of rows.

    A term weight is BM25's saturated, length-normalised frequency, `tf (k1 + 1) / (tf + k1 (1 - b + b
    len / avglen))`, computed once when the postings are built; a query multiplies it by the term's IDF.
    """

    def __init__(
        self,
        terms: Sequence[str],
        offsets: NDArray[np.int64],
        rows: NDArray[np.int32],
        weights: NDArray[np.float32],
        ids: NDArray[np.int64],
        average_length: float,
    ) -> None:
        self.average_length = average_length
        """The average row length the weights were computed with (reused for rows added later)."""
        self._index = {term: number for number, term in enumerate(terms)}
        self._terms = list(terms)
        self._offsets = offsets
        self._rows = rows
        self._weights = weights
        self.ids = ids
        """The chunk id of each row, ascending."""

    @classmethod
    def build(
        cls,
        ids: NDArray[np.int64],
        term_rows: Iterable[tuple[str, int, int]],
        *,
        average_length: float | None = None,
    ) -> Postings:
        """Build from (term, row, frequency) triples sorted by term; `row` indexes `ids`.

        Row lengths are the sums of their frequencies plus one (the token FTS5 adds in the space
        column). `average_length` defaults to these rows' own average.
        """
        terms: list[str] = []
        term_numbers: list[int] = []
        rows: list[int] = []
        frequencies: list[int] = []
        for term, row, frequency in term_rows:
            if not terms or terms[-1] != term:
                terms.append(term)
            term_numbers.append(len(terms) - 1)
            rows.append(row)
            frequencies.append(frequency)
        row_array = np.array(rows, dtype=np.int32)
        tf = np.array(frequencies, dtype=np.float32)
        lengths = np.ones(len(ids), dtype=np.float32)
        np.add.at(lengths, row_array, tf)
        average = average_length if average_length is not None else float(lengths.mean()) if len(ids) else 1.0
        norms = _K1 * (1 - _B + _B * lengths[row_array] / average)
        weights = (tf * (_K1 + 1) / (tf + norms)).astype(np.float32)
        offsets = np.searchsorted(np.array(term_numbers, dtype=np.int64), np.arange(len(terms) + 1))
        return cls(terms, offsets.astype(np.int64), row_array, weights, ids, average)

    @classmethod
    def from_tokens(
        cls, ids: NDArray[np.int64], tokens: Sequence[Sequence[str]], *, average_length: float | None
    ) -> Postings:
        """Build from each row's tokens (the rows added since a snapshot)."""
        counts: dict[str, dict[int, int]] = {}
        for row, row_tokens in enumerate(tokens):
            for token in row_tokens:
                by_row = counts.setdefault(token, {})
                by_row[row] = by_row.get(row, 0) + 1
        triples = ((term, row, count) for term in sorted(counts) for row, count in counts[term].items())
        return cls.build(ids, triples, average_length=average_length)

    def save(self, path: Path) -> None:
        """Write to `path` (an `.npz` file)."""
        with open(path, "wb") as handle:
            np.savez(
                handle,
                terms=np.array(self._terms, dtype=np.str_),
                offsets=self._offsets,
                rows=self._rows,
                weights=self._weights,
                ids=self.ids,
                average_length=np.array([self.average_length]),
            )

    @classmethod
    def load(cls, path: Path) -> Postings:
        """Read what `save` wrote."""
        with np.load(path, allow_pickle=False) as data:
            return cls(
                data["terms"].tolist(),
                data["offsets"],
                data["rows"],
                data["weights"],
                data["ids"],
                float(data["average_length"][0]),
            )

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (the term dictionary adds about 100 bytes a term)."""
        arrays = (self._offsets, self._rows, self._weights, self.ids)
        return sum(int(array.nbytes) for array in arrays) + 100 * len(self._terms)

    def postings(self, term: str) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """Rows holding `term` and its weight in each."""
        number = self._index.get(term)
        if number is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        start, end = self._offsets[number], self._offsets[number + 1]
        return self._rows[start:end], self._weights[start:end]


def bm25(
    stems: Sequence[str],
    parts: Sequence[tuple[Postings, NDArray[np.bool_] | None]],
    limit: int,
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """The `limit` best chunk ids by BM25 over several postings taken as one collection.

    Each part comes with a mask of its live rows (`None`: all live); dead rows are never returned
    but, like FTS5's deleted rows before a merge, still count in the collection's statistics.

    Returns:
        Chunk ids and scores, best first; only rows holding at least one stem.
    """
    total_rows = sum(len(postings.ids) for postings, _ in parts)
    if not total_rows or not stems:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    scores = [np.zeros(len(postings.ids), dtype=np.float32) for postings, _ in parts]
    for stem in stems:
        found = [postings.postings(stem) for postings, _ in parts]
        documents = sum(len(rows) for rows, _ in found)
        if not documents:
            continue
        idf = np.float32(max(np.log((total_rows - documents + 0.5) / (documents + 0.5)), 1e-6))
        for (rows, weights), part_scores in zip(found, scores, strict=True):
            part_scores[rows] += idf * weights
    for (_, alive), part_scores in zip(parts, scores, strict=True):
        if alive is not None:
            part_scores[~alive] = 0.0
    combined = np.concatenate(scores) if len(scores) > 1 else scores[0]
    candidates = np.flatnonzero(combined)
    if len(candidates) > limit:
        candidates = candidates[np.argpartition(-combined[candidates], limit - 1)[:limit]]
    order = candidates[np.argsort(-combined[candidates], kind="stable")]
    ids = np.concatenate([postings.ids for postings, _ in parts]) if len(parts) > 1 else parts[0][0].ids
    return ids[order], combined[order]
