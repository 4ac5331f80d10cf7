"""The OpenAI-compatible embedder against a fake `/v1/embeddings` server over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from chat_core.errors import InvalidInputError, UnavailableError
from chat_rag import OpenAIEmbedderConfig, RagConfig, SqliteIndexConfig, open_knowledge_base
from chat_rag.embeddings import open_embedder


class FakeOpenAI:
    """An OpenAI-style embeddings endpoint with scripted failures and request accounting."""

    def __init__(self, embed_text: Callable[[str, int], list[float]]) -> None:
        self.requests: list[dict[str, Any]] = []
        self.failures: list[tuple[int, dict[str, str], Any]] = []  # (status, headers, body)
        self.size = 256
        self.drop_one = False
        self.in_flight = 0
        self.peak = 0
        self.app = FastAPI()

        @self.app.post("/v1/embeddings")
        async def embeddings(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append({"authorization": request.headers.get("authorization"), **body})
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                await asyncio.sleep(0.01)
            finally:
                self.in_flight -= 1
            if self.failures:
                status, headers, error = self.failures.pop(0)
                return JSONResponse(error, status_code=status, headers=headers)
            size = body.get("dimensions", self.size)
            inputs = body["input"][:-1] if self.drop_one else body["input"]
            data = [
                {"object": "embedding", "index": index, "embedding": embed_text(text, size)}
                for index, text in enumerate(inputs)
            ]
            return JSONResponse({"object": "list", "model": body["model"], "data": data[::-1]})


@pytest.fixture
def openai_server(
    embed_text: Callable[[str, int], list[float]], serve_app: Callable[[Any], AbstractContextManager[str]]
) -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI(embed_text)
    with serve_app(fake.app) as url:
        yield fake, f"{url}/v1"


def config(url: str, **overrides: Any) -> OpenAIEmbedderConfig:
    settings: dict[str, Any] = {
        "base_url": url,
        "model": "nomic-embed-text",
        "api_key": "sk-test",
        "retry_base_delay": 0,
    }
    return OpenAIEmbedderConfig(**(settings | overrides))


@pytest.mark.asyncio
class TestOpenAIEmbedder:
    async def test_ingest_and_search_in_bounded_batches(
        self, openai_server: tuple[FakeOpenAI, str], tmp_path: Path
    ) -> None:
        fake, url = openai_server
        rag = RagConfig(
            embedder=config(url, query_prefix="search_query: ", document_prefix="search_document: "),
            index=SqliteIndexConfig(data_dir=tmp_path),
            chunk_tokens=30,
            chunk_overlap_tokens=4,
            embed_batch_size=4,
            embed_concurrency=2,
        )
        text = " ".join(f"Line {n} is about widget{n} only." for n in range(60)).encode()
        async with open_knowledge_base(rag) as kb:
            result = await kb.ingest("ast-1", "DOC-1", filename="a.txt", content_type="text/plain", data=text)
            hits = await kb.search("ast-1", "widget33", mode="vector", top_k=1)
        assert "widget33" in hits[0].text
        batches = [request["input"] for request in fake.requests]
        assert sum(len(batch) for batch in batches[:-1]) == result.chunk_count
        assert max(len(batch) for batch in batches) == 4
        assert fake.peak == 2
        assert all(text.startswith("search_document: ") for batch in batches[:-1] for text in batch)
        assert batches[-1] == ["search_query: widget33"]
        assert fake.requests[0]["authorization"] == "Bearer sk-test"
        assert "dimensions" not in fake.requests[0]

    async def test_configured_dimensions_are_requested_and_checked(
        self, openai_server: tuple[FakeOpenAI, str]
    ) -> None:
        fake, url = openai_server
        async with open_embedder(config(url, dimensions=32), batch_size=8, concurrency=1) as embedder:
            vectors = await embedder.embed_documents(["a", "b", "c"])
            assert embedder.embedder_id == "openai:nomic-embed-text:32"
        assert vectors.shape == (3, 32)
        assert fake.requests[0]["dimensions"] == 32

    async def test_rate_limits_are_retried_honouring_retry_after(
        self, openai_server: tuple[FakeOpenAI, str]
    ) -> None:
        fake, url = openai_server
        fake.failures = [(429, {"retry-after": "0"}, {"error": {"message": "slow down"}})] * 2
        async with open_embedder(config(url, max_attempts=3), batch_size=8, concurrency=1) as embedder:
            vectors = await embedder.embed_documents(["a"])
        assert vectors.shape == (1, 256)
        assert len(fake.requests) == 3

    async def test_server_errors_beyond_the_retries_are_unavailable(
        self, openai_server: tuple[FakeOpenAI, str]
    ) -> None:
        fake, url = openai_server
        fake.failures = [(503, {}, {"error": {"message": "model is loading"}})] * 3
        async with open_embedder(config(url, max_attempts=3), batch_size=8, concurrency=1) as embedder:
            with pytest.raises(UnavailableError, match=r"HTTP 503.*model is loading"):
                await embedder.embed_query("a")
        assert len(fake.requests) == 3

    async def test_bad_credentials_are_unavailable_without_retries(
        self, openai_server: tuple[FakeOpenAI, str]
    ) -> None:
        fake, url = openai_server
        fake.failures = [(401, {}, {"error": {"message": "invalid api key"}})]
        async with open_embedder(config(url), batch_size=8, concurrency=1) as embedder:
            with pytest.raises(UnavailableError, match="HTTP 401"):
                await embedder.embed_query("a")
        assert len(fake.requests) == 1

    async def test_a_refused_input_is_invalid_input(self, openai_server: tuple[FakeOpenAI, str]) -> None:
        fake, url = openai_server
        fake.failures = [(400, {}, {"error": {"message": "input too long"}})]
        async with open_embedder(config(url), batch_size=8, concurrency=1) as embedder:
            with pytest.raises(InvalidInputError, match="input too long"):
                await embedder.embed_documents(["a"])

    async def test_a_response_missing_vectors_is_unavailable(
        self, openai_server: tuple[FakeOpenAI, str]
    ) -> None:
        fake, url = openai_server
        fake.drop_one = True
        async with open_embedder(config(url), batch_size=8, concurrency=1) as embedder:
            with pytest.raises(UnavailableError, match="1 vectors for 2 inputs"):
                await embedder.embed_documents(["a", "b"])

    async def test_an_unreachable_endpoint_is_unavailable(self, unused_port: int) -> None:
        url = f"http://127.0.0.1:{unused_port}/v1"
        async with open_embedder(config(url, max_attempts=2), batch_size=8, concurrency=1) as embedder:
            with pytest.raises(UnavailableError, match=r"could not be reached after 2 attempts") as raised:
                await embedder.embed_query("a")
        assert type(raised.value.__cause__).__name__ not in raised.value.message
