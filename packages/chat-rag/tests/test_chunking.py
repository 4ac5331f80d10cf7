from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from chat_rag.chunking import Chunk, chunk_blocks, estimate_tokens, heading_context
from chat_rag.parsing import Block


def count_words(texts: Sequence[str]) -> list[int]:
    """A whitespace tokenizer: additive, like WordPiece (one or more tokens per word)."""
    return [len(text.split()) for text in texts]


def sentence(number: int, words: int = 10) -> str:
    return " ".join(f"S{number}w{index}" for index in range(words)) + "."


def words_of(chunk: Chunk) -> list[str]:
    return re.findall(r"S\d+w\d+", chunk.text)


class TestChunkBlocks:
    def test_chunks_fit_the_budget_with_the_heading_line(self) -> None:
        blocks = [Block(" ".join(sentence(n) for n in range(40)), ("Guide", "Setup"))]
        chunks = chunk_blocks(blocks, count_tokens=count_words, max_tokens=50, overlap_tokens=10)
        assert len(chunks) > 5
        assert all(count_words([chunk.embedding_text])[0] <= 50 for chunk in chunks)
        assert all(chunk.embedding_text.startswith("Guide > Setup\n\n") for chunk in chunks)

    def test_overlap_repeats_the_last_sentences_of_the_previous_chunk(self) -> None:
        blocks = [Block(" ".join(sentence(n) for n in range(30)))]
        chunks = chunk_blocks(blocks, count_tokens=count_words, max_tokens=50, overlap_tokens=10)
        for previous, current in itertools.pairwise(chunks):
            shared = set(words_of(previous)) & set(words_of(current))
            assert len(shared) == 10  # one whole 10-token sentence carried over
            assert current.text.startswith(previous.text.split(". ")[-1].rstrip("."))

    def test_without_overlap_no_text_is_repeated(self) -> None:
        blocks = [Block(" ".join(sentence(n) for n in range(30)))]
        chunks = chunk_blocks(blocks, count_tokens=count_words, max_tokens=50, overlap_tokens=0)
        all_words = [word for chunk in chunks for word in words_of(chunk)]
        assert len(all_words) == len(set(all_words)) == 300

    def test_a_sentence_longer_than_the_overlap_still_overlaps_by_its_last_words(self) -> None:
        blocks = [Block(" ".join(sentence(n, words=29) for n in range(6)))]
        chunks = chunk_blocks(blocks, count_tokens=count_words, max_tokens=40, overlap_tokens=8)
        for previous, current in itertools.pairwise(chunks):
            assert words_of(current)[:8] == words_of(previous)[-8:]

    def test_long_sentences_are_cut_at_words(self) -> None:
        blocks = [Block(sentence(0, words=130))]
        chunks = chunk_blocks(blocks, count_tokens=count_words, max_tokens=50, overlap_tokens=0)
        assert [len(words_of(chunk)) for chunk in chunks] == [50, 50, 30]

    def test_text_without_sentences_still_overlaps(self) -> None:
        blocks = [Block(sentence(0, words=130))]
        chunks = chunk_blocks(blocks, count_tokens=count_words, max_tokens=50, overlap_tokens=10)
        assert all(len(words_of(chunk)) <= 50 for chunk in chunks)
        for previous, current in itertools.pairwise(chunks):
            assert words_of(current)[:10] == words_of(previous)[-10:]

    def test_chunks_do_not_cross_headings_and_positions_are_sequential(self) -> None:
        blocks = [
            Block(sentence(1), ("A",)),
            Block(sentence(2), ("A",)),
            Block(sentence(3), ("A", "B")),
            Block(sentence(4), ("C",)),
        ]
        chunks = chunk_blocks(blocks, count_tokens=count_words, max_tokens=100, overlap_tokens=10)
        assert [(chunk.position, chunk.heading_path) for chunk in chunks] == [
            (0, ("A",)),
            (1, ("A", "B")),
            (2, ("C",)),
        ]
        assert chunks[0].text == f"{sentence(1)}\n\n{sentence(2)}"

    def test_an_overlong_heading_path_is_shortened_from_the_outside(self) -> None:
        path = ("word " * 30, "Inner heading")
        assert heading_context(path, count_words, max_tokens=30) == "Inner heading"

    @settings(max_examples=60, deadline=None)
    @given(
        paragraphs=st.lists(
            st.lists(st.integers(min_value=1, max_value=45), min_size=1, max_size=8), min_size=1, max_size=6
        ),
        max_tokens=st.integers(min_value=20, max_value=120),
        overlap_ratio=st.floats(min_value=0.0, max_value=0.45),
    )
    def test_every_word_is_kept_in_order_and_every_chunk_fits(
        self, paragraphs: list[list[int]], max_tokens: int, overlap_ratio: float
    ) -> None:
        counter = iter(range(10_000))
        blocks = [
            Block(" ".join(sentence(next(counter), words=length) for length in paragraph), ("H",))
            for paragraph in paragraphs
        ]
        expected = [word for block in blocks for word in re.findall(r"S\d+w\d+", block.text)]
        overlap = int(max_tokens * overlap_ratio)
        chunks = chunk_blocks(blocks, count_tokens=count_words, max_tokens=max_tokens, overlap_tokens=overlap)
        assert all(count_words([chunk.embedding_text])[0] <= max_tokens for chunk in chunks)
        seen: list[str] = []
        for chunk in chunks:
            for word in words_of(chunk):
                if word not in seen:
                    seen.append(word)
        assert seen == expected


class TestEstimateTokens:
    def test_counts_every_word_and_long_words_by_four_characters(self) -> None:
        assert estimate_tokens(["a cat", "internationalisation!", ""]) == [2, 6, 0]
