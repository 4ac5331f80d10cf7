"""The real aioboto3 Bedrock client against a fake Bedrock Runtime speaking the wire format over HTTP."""

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
from chat_rag import BedrockEmbedderConfig, RagConfig, SqliteIndexConfig, open_knowledge_base
from chat_rag.embeddings import open_embedder

MODEL_ID = "amazon.titan-embed-text-v2:0"


class FakeBedrock:
    """`POST /model/{modelId}/invoke` for Titan Text Embeddings v2, with scripted failures."""

    def __init__(self, embed_text: Callable[[str, int], list[float]]) -> None:
        self.requests: list[dict[str, Any]] = []
        self.failures: list[tuple[int, str]] = []  # (status, error type) returned before succeeding
        self.in_flight = 0
        self.peak = 0
        self.app = FastAPI()

        @self.app.post("/model/{model_id}/invoke")
        async def invoke(model_id: str, request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(
                {"model_id": model_id, "authorization": request.headers.get("authorization", ""), **body}
            )
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                await asyncio.sleep(0.005)
            finally:
                self.in_flight -= 1
            if self.failures:
                status, error_type = self.failures.pop(0)
                return JSONResponse(
                    {"message": f"{error_type} from the fake"},
                    status_code=status,
                    headers={"x-amzn-ErrorType": error_type},
                )
            vector = embed_text(body["inputText"], body["dimensions"])
            return JSONResponse({"embedding": [value * 3 for value in vector], "inputTextTokenCount": 7})


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials for botocore's default chain; nothing from the host's AWS configuration."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


@pytest.fixture
def bedrock(
    embed_text: Callable[[str, int], list[float]], serve_app: Callable[[Any], AbstractContextManager[str]]
) -> Iterator[tuple[FakeBedrock, str]]:
    fake = FakeBedrock(embed_text)
    with serve_app(fake.app) as url:
        yield fake, url


def config(url: str, **overrides: Any) -> BedrockEmbedderConfig:
    return BedrockEmbedderConfig(
        endpoint_url=url, dimensions=256, connect_timeout=2, read_timeout=5, **overrides
    )


@pytest.mark.asyncio
@pytest.mark.usefixtures("aws_credentials")
class TestBedrockEmbedder:
    async def test_ingest_and_search_through_titan(
        self, bedrock: tuple[FakeBedrock, str], tmp_path: Path
    ) -> None:
        fake, url = bedrock
        rag = RagConfig(
            embedder=config(url),
            index=SqliteIndexConfig(data_dir=tmp_path),
            chunk_tokens=40,
            chunk_overlap_tokens=5,
            embed_concurrency=3,
        )
        text = " ".join(f"Sentence {n} mentions gadget{n} and nothing else." for n in range(40)).encode()
        async with open_knowledge_base(rag) as kb:
            result = await kb.ingest("ast-1", "DOC-1", filename="a.txt", content_type="text/plain", data=text)
            hits = await kb.search("ast-1", "gadget17", mode="vector", top_k=1)
        assert result.chunk_count > 5
        assert "gadget17" in hits[0].text
        assert len(fake.requests) == result.chunk_count + 1
        assert 1 < fake.peak <= 3
        first = fake.requests[0]
        assert first["model_id"] == MODEL_ID
        assert first["dimensions"] == 256
        assert first["normalize"] is True
        assert first["authorization"].startswith("AWS4-HMAC-SHA256")

    async def test_vectors_are_normalised_and_identified_by_model_and_size(
        self, bedrock: tuple[FakeBedrock, str]
    ) -> None:
        _, url = bedrock
        async with open_embedder(config(url), batch_size=16, concurrency=2) as embedder:
            vectors = await embedder.embed_documents(["alpha", "beta"])
            assert embedder.embedder_id == f"bedrock:{MODEL_ID}:256"
        assert vectors.shape == (2, 256)
        assert abs(float(vectors[0] @ vectors[0]) - 1.0) < 1e-5

    async def test_throttling_is_retried(self, bedrock: tuple[FakeBedrock, str]) -> None:
        fake, url = bedrock
        fake.failures = [(429, "ThrottlingException")]
        async with open_embedder(config(url, max_attempts=3), batch_size=16, concurrency=1) as embedder:
            vectors = await embedder.embed_documents(["alpha"])
        assert vectors.shape == (1, 256)
        assert len(fake.requests) == 2

    async def test_throttling_beyond_the_retries_is_unavailable(
        self, bedrock: tuple[FakeBedrock, str]
    ) -> None:
        fake, url = bedrock
        fake.failures = [(503, "ServiceUnavailableException")] * 2
        async with open_embedder(config(url, max_attempts=2), batch_size=16, concurrency=1) as embedder:
            with pytest.raises(UnavailableError, match="embeddings failed") as caught:
                await embedder.embed_documents(["alpha"])
        assert caught.value.__cause__ is not None
        assert "ServiceUnavailableException" not in caught.value.message
        assert len(fake.requests) == 2

    async def test_a_refused_input_is_invalid_input_and_not_retried(
        self, bedrock: tuple[FakeBedrock, str]
    ) -> None:
        fake, url = bedrock
        fake.failures = [(400, "ValidationException")]
        async with open_embedder(config(url, max_attempts=3), batch_size=16, concurrency=1) as embedder:
            with pytest.raises(InvalidInputError, match="refused a passage") as raised:
                await embedder.embed_documents(["alpha"])
        assert "ValidationException" not in raised.value.message  # the code stays in the chained cause
        assert len(fake.requests) == 1

    async def test_an_unreachable_endpoint_is_unavailable(self, unused_port: int) -> None:
        url = f"http://127.0.0.1:{unused_port}"
        async with open_embedder(config(url, max_attempts=1), batch_size=16, concurrency=1) as embedder:
            with pytest.raises(UnavailableError, match="could not be reached") as raised:
                await embedder.embed_query("alpha")
        assert type(raised.value.__cause__).__name__ not in raised.value.message
