"""Local embedding speed: chat-rag's NumPy all-MiniLM-L6-v2 beside sentence-transformers on CPU PyTorch.

    uv run python bench/embedding.py                 # about 2 minutes on 2 idle cores
    uv run python bench/embedding.py --repeats 5 --chunks 128

Both sides embed the same 200-word-piece chunks (windows of the example handbook) in batches of 32, at
1 and at 2 threads, and the two are timed in turn, round after round, so that the load of other jobs
falls on both alike; the table gives medians. The floor is this machine's float32 matrix-product peak
(a 2048 x 2048 NumPy matmul), measured in the same rounds: "% of peak" is the useful model FLOPs per
second (dense layers and attention, no padding) over that peak.

sentence-transformers and PyTorch never enter the project's environment: the benchmark installs them
into its own virtual environment under `bench/.peers/` (git-ignored, reused by later runs) and runs them
in a subprocess. `pip install torch==2.13.0` takes the CPU build; if that install fails, the table shows
the matmul peak alone and says so.

The last table is ingestion end to end (parse, chunk, embed, write to SQLite) of one ~300-chunk
Markdown document through `KnowledgeBase.ingest`, beside the time the embedder alone takes for its
chunks, so one sees that ingestion follows embedding.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]  # ships no type hints
from tokenizers import Tokenizer

from chat_rag import LocalEmbedderConfig, RagConfig, SqliteIndexConfig, open_knowledge_base
from chat_rag.embeddings import BatchProgress, Embedder, Vectors, open_embedder
from chat_rag.embeddings.local import default_model_dir

ROOT = Path(__file__).resolve().parents[1]
HANDBOOK = ROOT / "examples" / "kestrel-commuter-handbook.md"
PEER_DIR = Path(__file__).resolve().parent / ".peers" / "sentence-transformers"
PEER_PACKAGES = ["torch==2.13.0", "sentence-transformers"]
BATCH = 32
THREADS = (1, 2)
TARGETS = {1: 0.7, 2: 1.1}
"""Ours over sentence-transformers, chunks per second, at each thread count."""

# The peer side: reads one JSON request per line, answers one JSON line. Runs in the peer's venv.
PEER_WORKER = r"""
import json, sys, time
import sentence_transformers, torch
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(sys.argv[1], device="cpu")
print(json.dumps({"torch": torch.__version__, "sentence_transformers": sentence_transformers.__version__}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    torch.set_num_threads(request["threads"])
    started, cpu = time.perf_counter(), time.process_time()
    vectors = model.encode(request["texts"], batch_size=request["batch"], normalize_embeddings=True)
    answer = {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}
    if request.get("vectors"):
        answer["vectors"] = vectors.tolist()
    print(json.dumps(answer), flush=True)
"""


# --- inputs ----------------------------------------------------------------------------------------


def benchmark_chunks(count: int, tokens: int) -> list[str]:
    """`count` windows of `tokens` word pieces over the handbook (overlapping like real chunks; it holds
    15 windows of 200, so they repeat: neither side caches anything, so repeats cost the same)."""
    tokenizer = Tokenizer.from_file(str(default_model_dir() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    ids = tokenizer.encode(HANDBOOK.read_text(encoding="utf-8"), add_special_tokens=False).ids
    step = tokens - 37
    starts = range(0, len(ids) - tokens, step)
    return [
        tokenizer.decode(ids[start : start + tokens])
        for start in (starts[n % len(starts)] for n in range(count))
    ]


def model_flops(lengths: list[int], hidden: int = 384, inner: int = 1536, layers: int = 6) -> float:
    """Multiply-adds x 2 of the encoder for texts of these lengths (special tokens included)."""
    dense = 2 * hidden * (4 * hidden + 2 * inner)  # Q, K, V, output, two feed-forward products per token
    return float(sum(layers * (length * dense + 4 * length * length * hidden) for length in lengths))


def matmul_peak(threads: int, controller: ThreadpoolController) -> float:
    """GFLOP/s of a 2048 x 2048 float32 matmul at `threads` BLAS threads (median of 3)."""
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    with controller.limit(limits=threads, user_api="blas"):
        a @ a
        samples = []
        for _ in range(3):
            started = time.perf_counter()
            a @ a
            samples.append(time.perf_counter() - started)
    return 2 * 2048**3 / statistics.median(samples) / 1e9


# --- the peer -------------------------------------------------------------------------------------


def peer_python() -> tuple[Path | None, str]:
    """The peer venv's interpreter, installing it on first use; `None` and the reason if that fails."""
    python = PEER_DIR / "bin" / "python"
    marker = PEER_DIR / "installed.txt"
    if marker.is_file():
        return python, marker.read_text().strip()
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(PEER_DIR)], check=True, capture_output=True
        )
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        return (
            None,
            f"`pip install {' '.join(PEER_PACKAGES)}` failed: {str(detail).strip().splitlines()[-1:]}",
        )
    marker.write_text(" + ".join(PEER_PACKAGES) + "\n")
    return python, marker.read_text().strip()


class Peer:
    """sentence-transformers in its own process; one request at a time over stdin/stdout."""

    def __init__(self, python: Path) -> None:
        environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        self.log = PEER_DIR / "peer.log"  # its progress bars and warnings, kept out of the tables
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [str(python), "-c", PEER_WORKER, str(default_model_dir())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=environment,
            )
        self.versions: dict[str, str] = self._read()

    def _read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the sentence-transformers process exited; see {self.log}")
        return json.loads(line)

    def encode(self, texts: list[str], threads: int, *, vectors: bool = False) -> tuple[float, float, Any]:
        assert self.process.stdin is not None
        request = {"texts": texts, "threads": threads, "batch": BATCH, "vectors": vectors}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self._read()
        return float(answer["seconds"]), float(answer["cpu"]), answer.get("vectors")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


# --- measurement ----------------------------------------------------------------------------------


@dataclass
class Samples:
    peak: list[float] = field(default_factory=list)
    ours: list[float] = field(default_factory=list)
    peer: list[float] = field(default_factory=list)
    ours_cpu: list[float] = field(default_factory=list)
    """CPU seconds of all the side's threads: robust to being descheduled, not to cache contention."""
    peer_cpu: list[float] = field(default_factory=list)

    def add_peer(self, measured: tuple[float, float, Any]) -> None:
        self.peer.append(measured[0])
        self.peer_cpu.append(measured[1])


async def embedding_rounds(
    texts: list[str], repeats: int, peer: Peer | None, controller: ThreadpoolController
) -> tuple[dict[int, Samples], float | None]:
    """Seconds per pass over `texts` for each side and thread count, interleaved round by round."""
    samples = {threads: Samples() for threads in THREADS}
    embedders: dict[int, Embedder] = {}
    cosine = None
    async with (
        open_embedder(LocalEmbedderConfig(threads=1), batch_size=BATCH, concurrency=1) as one,
        open_embedder(LocalEmbedderConfig(threads=2), batch_size=BATCH, concurrency=1) as two,
    ):
        embedders = {1: one, 2: two}
        ours = await one.embed_documents(texts)  # warm-up, and the vectors to compare
        await two.embed_documents(texts[:BATCH])
        if peer is not None:
            _, _, theirs = peer.encode(texts, 1, vectors=True)
            cosine = float((ours.astype(np.float64) * np.array(theirs)).sum(axis=1).min())
            peer.encode(texts[:BATCH], 2)
        for number in range(repeats):
            for threads in THREADS:
                samples[threads].peak.append(matmul_peak(threads, controller))
                if peer is not None and number % 2:  # who goes first alternates
                    samples[threads].add_peer(peer.encode(texts, threads))
                started, cpu = time.perf_counter(), time.process_time()
                await embedders[threads].embed_documents(texts)
                samples[threads].ours.append(time.perf_counter() - started)
                samples[threads].ours_cpu.append(time.process_time() - cpu)
                if peer is not None and not number % 2:
                    samples[threads].add_peer(peer.encode(texts, threads))
    return samples, cosine


def ingestion_document(copies: int) -> bytes:
    """The handbook's body `copies` times, each under its own title, as one Markdown document."""
    body = HANDBOOK.read_text(encoding="utf-8").split("---", 2)[2]
    return "\n\n".join(f"# Volume {number}\n\n{body}" for number in range(1, copies + 1)).encode()


class TimedEmbedder:
    """Passes calls to an embedder and adds up the time spent embedding documents."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.tokens = 0

    @property
    def embedder_id(self) -> str:
        return self.inner.embedder_id

    @property
    def max_input_tokens(self) -> int:
        return self.inner.max_input_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    async def embed_documents(
        self, texts: Sequence[str], *, on_progress: BatchProgress | None = None
    ) -> Vectors:
        self.tokens += sum(min(count, self.max_input_tokens) + 2 for count in self.count_tokens(texts))
        started = time.perf_counter()
        try:
            return await self.inner.embed_documents(texts, on_progress=on_progress)
        finally:
            self.seconds += time.perf_counter() - started

    async def embed_query(self, text: str) -> Vectors:
        return await self.inner.embed_query(text)


async def ingestion_seconds(threads: int, data: bytes, directory: Path) -> tuple[int, int, float, float]:
    """(chunks, their tokens, seconds for `ingest`, seconds of it spent embedding) at `threads`."""
    config = RagConfig(
        embedder=LocalEmbedderConfig(threads=threads), index=SqliteIndexConfig(data_dir=directory)
    )
    async with open_embedder(config.embedder, batch_size=config.embed_batch_size, concurrency=1) as inner:
        embedder = TimedEmbedder(inner)
        async with open_knowledge_base(config, embedder=embedder) as kb:
            await kb.ingest("ast-bench", "DOC-warmup", filename="w.md", content_type=None, data=b"Warm up.")
            embedder.seconds, embedder.tokens = 0.0, 0
            started = time.perf_counter()
            result = await kb.ingest(
                "ast-bench", "DOC-1", filename="big.md", content_type="text/markdown", data=data
            )
            seconds = time.perf_counter() - started
            return result.chunk_count, embedder.tokens, seconds, embedder.seconds


# --- report ---------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=64, help="chunks per timed pass")
    parser.add_argument(
        "--tokens", type=int, default=200, help="word pieces per chunk, special tokens excluded"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (the table gives medians)")
    parser.add_argument("--copies", type=int, default=12, help="handbook copies in the ingestion document")
    parser.add_argument("--skip-peer", action="store_true", help="do not run sentence-transformers")
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args()

    controller = ThreadpoolController()
    texts = benchmark_chunks(args.chunks, args.tokens)
    lengths = [length + 2 for length in [len(ids) for ids in _token_ids(texts)]]
    flops = model_flops(lengths)
    blas: dict[str, Any] = next((info for info in controller.info() if info["user_api"] == "blas"), {})
    print(
        f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), load average "
        f"{load_average()} at start; NumPy {np.__version__} with {blas.get('internal_api')} "
        f"{blas.get('version')} ({blas.get('architecture')} kernels).\n"
    )

    peer: Peer | None = None
    peer_note = "skipped (--skip-peer)"
    if not args.skip_peer:
        python, peer_note = peer_python()
        if python is not None:
            peer = Peer(python)
            peer_note = (
                f"sentence-transformers {peer.versions['sentence_transformers']}, torch {peer.versions['torch']} "
                "(CPU), in bench/.peers/"
            )
    try:
        samples, cosine = asyncio.run(embedding_rounds(texts, args.repeats, peer, controller))
    finally:
        if peer is not None:
            peer.close()

    tokens = sum(lengths)
    print(
        f"### Embedding {len(texts)} chunks of {args.tokens} word pieces (+ [CLS] and [SEP]), batches of {BATCH}, "
        f"median of {args.repeats} interleaved rounds\n"
    )
    print(
        "| threads | side | chunks/s | tokens/s | GFLOP/s | % of matmul peak | ours / peer | target "
        "| chunks per CPU-second |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---|---:|")
    for threads in THREADS:
        rounds = samples[threads]
        peak = median(rounds.peak)
        rows: list[tuple[str, float, float]] = [
            ("chat-rag NumPy MiniLM", median(rounds.ours), median(rounds.ours_cpu))
        ]
        if rounds.peer:
            rows.append(("sentence-transformers (torch CPU)", median(rounds.peer), median(rounds.peer_cpu)))
        for name, seconds, cpu in rows:
            rate = flops / seconds / 1e9
            ratio, target = "", ""
            if rounds.peer and name.startswith("chat-rag"):
                ratios = [peer_s / ours_s for ours_s, peer_s in zip(rounds.ours, rounds.peer, strict=True)]
                ratio = f"**{median(ratios):.2f}x**"
                target = f">= {TARGETS[threads]}x " + (
                    "(met)" if median(ratios) >= TARGETS[threads] else "(NOT met)"
                )
            print(
                f"| {threads} | {name} | {len(texts) / seconds:.1f} | {tokens / seconds:,.0f} | {rate:.0f} | "
                f"{rate / peak * 100:.0f}% | {ratio} | {target} | {len(texts) / cpu:.1f} |"
            )
        print(f"| {threads} | float32 matmul 2048² (floor) | | | {peak:.0f} | 100% | | | |")
    print()
    print(f"Peer: {peer_note}.")
    if cosine is not None:
        print(
            f"Same vectors: lowest cosine between the two sides over the {len(texts)} chunks = {cosine:.7f} (target >= 0.99999)."
        )
    elif not args.skip_peer:
        print("The peer could not be installed: the table compares with the matmul peak alone.")
    print(
        f"Ours / peer is the median of the per-round ratios. Useful model FLOPs per chunk: {flops / len(texts) / 1e9:.2f} G. "
        "Chunks per CPU-second counts every thread's CPU time (spin-waiting included), so it shows the "
        "work each side does per core whatever the machine's load.\n"
    )

    if not args.skip_ingest:
        data = ingestion_document(args.copies)
        print(
            f"### Ingestion end to end: one Markdown document ({len(data) // 1024} KiB) through KnowledgeBase.ingest\n"
        )
        print(
            "| threads | chunks | tokens | ingest (s) | chunks/s | tokens/s | of which embedding (s) | share |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        with tempfile.TemporaryDirectory(prefix="embedding-bench-") as name:
            for threads in THREADS:
                chunks, chunk_tokens, ingest, embed = asyncio.run(
                    ingestion_seconds(threads, data, Path(name) / str(threads))
                )
                print(
                    f"| {threads} | {chunks} | {chunk_tokens:,} | {ingest:.1f} | {chunks / ingest:.1f} | "
                    f"{chunk_tokens / ingest:,.0f} | {embed:.1f} | {embed / ingest * 100:.0f}% |"
                )
        print()
    print(f"Load average at the end: {load_average()}.")


def _token_ids(texts: list[str]) -> list[list[int]]:
    tokenizer = Tokenizer.from_file(str(default_model_dir() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return [encoding.ids for encoding in tokenizer.encode_batch(texts, add_special_tokens=False)]


if __name__ == "__main__":
    main()
