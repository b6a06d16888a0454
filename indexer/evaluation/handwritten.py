"""The competitor of ``kb bench --compare``: the hybrid search an engineer would write by hand.

sentence-transformers on PyTorch embeds ``title + " " + text`` of each record (unit vectors),
a FAISS ``IndexFlatIP`` holds them, bm25s indexes the same texts (English stop words, Snowball
English stems by PyStemmer), and hybrid search fuses the two top-100 lists convexly: each side
min-max scaled over the union, ``alpha * dense + (1 - alpha) * keyword`` with our alpha (0.6).
A passage only the keyword side found gets its real dense score (computed from its vector); one
only the dense side found gets a BM25 score of 0.

The module imports nothing from ``indexer`` when it runs, and torch, sentence-transformers, FAISS and bm25s
only when used, so a cold start times its own libraries alone::

    python -P indexer/evaluation/handwritten.py search DIR "question" [-k 10] [--mode hybrid]

(``-P`` keeps ``indexer/evaluation/`` off ``sys.path``, where its modules would shadow installed packages of
the same name, such as Hugging Face's ``evaluate``.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

import numpy as np

if TYPE_CHECKING:  # annotations only: run as a script, the module must not load the indexer package
    from ..records import TextRecord

__all__ = ["MODES", "Encoder", "SentenceTransformerEncoder", "HandwrittenHit", "BuildTiming", "HandwrittenStack", "fuse"]

MODES = ("hybrid", "dense", "keyword")
_CONFIG, _DENSE, _KEYWORD = "stack.json", "dense.faiss", "bm25s"


class Encoder(Protocol):
    """Turns texts into unit-length float32 rows (the sentence-transformers model, or a fake in tests)."""

    def encode(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Return an array of shape ``(len(texts), dimension)``."""
        ...


class SentenceTransformerEncoder:
    """``SentenceTransformer(path, device="cpu").encode(..., normalize_embeddings=True)``, offline."""

    def __init__(self, model_path: str):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(model_path, device="cpu")

    def encode(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Embed ``texts`` as unit-length float32 rows."""
        return self._model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False).astype(np.float32)


@dataclass(frozen=True)
class HandwrittenHit:
    """One ranked record: its id (the BEIR ``_id``) and its score."""

    doc_id: str
    score: float


@dataclass(frozen=True)
class BuildTiming:
    """Seconds spent building: the forward pass, the two indexes, writing them (0 until saved)."""

    encode_seconds: float
    index_seconds: float
    save_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        """The whole build."""
        return self.encode_seconds + self.index_seconds + self.save_seconds


def fuse(dense: dict[int, float], keyword: dict[int, float], alpha: float) -> dict[int, float]:
    """Convex fusion of two score lists over the union of their keys.

    Args:
        dense: dense scores; it should cover every key of ``keyword`` too (a missing one counts as 0).
        keyword: BM25 scores of the keyword side's top list; a key it lacks scores 0.
        alpha: the weight of the dense side.

    Returns:
        ``alpha * dense' + (1 - alpha) * keyword'`` for each key, each side min-max scaled to 0..1 over the union.
    """
    union = sorted(set(dense) | set(keyword))
    scaled = [_min_max(np.array([side.get(i, 0.0) for i in union], dtype=np.float64)) for side in (dense, keyword)]
    return {i: float(alpha * d + (1 - alpha) * w) for i, d, w in zip(union, *scaled)}


def _min_max(values: np.ndarray) -> np.ndarray:
    if not len(values):
        return values
    span = values.max() - values.min()
    return (values - values.min()) / (span if span > 0 else 1.0)


def _tokenize(texts: list[str]):
    import bm25s
    import Stemmer

    return bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False)


class HandwrittenStack:
    """Dense (FAISS), keyword (bm25s) and hybrid search over records, in memory or saved to a folder.

    Args:
        encoder: the embedding model.
        model_path: where the model was loaded from (saved, so ``load`` can load it again).
        alpha: the dense side's weight in hybrid fusion.
        depth: candidates taken from each side for fusion.
        batch_size: texts per forward pass when building.
    """

    def __init__(self, encoder: Encoder, model_path: str = "", alpha: float = 0.6, depth: int = 100, batch_size: int = 16):
        self.encoder, self.model_path = encoder, model_path
        self.alpha, self.depth, self.batch_size = alpha, depth, batch_size
        self._ids: list[str] = []
        self._dense = None
        self._bm25 = None

    def build(self, records: Sequence[TextRecord]) -> BuildTiming:
        """Embed and index records (anything with ``key``, ``title`` and ``text``).

        Returns:
            The seconds of the forward pass and of building both indexes.
        """
        import bm25s
        import faiss

        texts = [f"{record.title} {record.text}" for record in records]
        started = time.perf_counter()
        vectors = np.ascontiguousarray(self.encoder.encode(texts, batch_size=self.batch_size), dtype=np.float32)
        encoded = time.perf_counter()
        self._dense = faiss.IndexFlatIP(vectors.shape[1])
        self._dense.add(vectors)
        self._bm25 = bm25s.BM25()
        self._bm25.index(_tokenize(texts), show_progress=False)
        self._ids = [record.key for record in records]
        return BuildTiming(encode_seconds=encoded - started, index_seconds=time.perf_counter() - encoded)

    def save(self, folder: str | Path) -> float:
        """Write both indexes and the record ids to ``folder``; return the seconds it took."""
        import faiss

        started = time.perf_counter()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._dense, str(folder / _DENSE))
        self._bm25.save(str(folder / _KEYWORD), show_progress=False)
        config = {"model": self.model_path, "alpha": self.alpha, "depth": self.depth, "ids": self._ids}
        (folder / _CONFIG).write_text(json.dumps(config), encoding="utf-8")
        return time.perf_counter() - started

    @classmethod
    def load(cls, folder: str | Path, encoder: Encoder | None = None) -> "HandwrittenStack":
        """A stack saved by ``save``; its model is loaded from the saved path unless ``encoder`` is given."""
        import bm25s
        import faiss

        folder = Path(folder)
        config = json.loads((folder / _CONFIG).read_text(encoding="utf-8"))
        stack = cls(encoder or SentenceTransformerEncoder(config["model"]), config["model"], config["alpha"], config["depth"])
        stack._ids = config["ids"]
        stack._dense = faiss.read_index(str(folder / _DENSE))
        stack._bm25 = bm25s.BM25.load(str(folder / _KEYWORD), show_progress=False)
        return stack

    def warm(self) -> None:
        """Run the model once, as ``KnowledgeBase.warm`` does, before timing questions."""
        self.encoder.encode(["warm up"], batch_size=1)

    def search(self, query: str, k: int = 10, mode: str = "hybrid") -> list[HandwrittenHit]:
        """The ``k`` best records for ``query`` in ``mode`` (hybrid, dense or keyword), best first."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        if mode == "keyword":
            scores = self._keyword(query)
        else:
            vector = self.encoder.encode([query], batch_size=1)[0].astype(np.float32)
            scores = self._dense_top(vector)
            if mode == "hybrid":
                keyword = self._keyword(query)
                missing = [i for i in keyword if i not in scores]
                if missing:
                    scores.update(zip(missing, (self._dense.reconstruct_batch(np.array(missing, dtype=np.int64)) @ vector).tolist()))
                scores = fuse(scores, keyword, self.alpha)
        ranked = sorted(scores, key=lambda i: (-scores[i], i))[:k]
        return [HandwrittenHit(self._ids[i], float(scores[i])) for i in ranked]

    def _dense_top(self, vector: np.ndarray) -> dict[int, float]:
        scores, rows = self._dense.search(vector.reshape(1, -1), min(self.depth, self._dense.ntotal))
        return {int(row): float(score) for row, score in zip(rows[0], scores[0]) if row >= 0}

    def _keyword(self, query: str) -> dict[int, float]:
        """BM25 scores of the top ``depth`` records holding a query word."""
        rows, scores = self._bm25.retrieve(_tokenize([query]), k=min(self.depth, len(self._ids)), show_progress=False)
        return {int(row): float(score) for row, score in zip(rows[0], scores[0]) if score > 0}


def command_line(argv: list[str] | None, prog: str, description: str, load: Callable[[str], object]) -> None:
    """``search DIR QUESTION [-k N] [--mode MODE]``: load a saved stack, answer one question, print the ranking.

    Args:
        argv: the arguments (None: the process's).
        prog: the program's name in messages.
        description: the first line of its help.
        load: opens the stack saved in DIR; its ``search(question, k=, mode=)`` gives hits with ``doc_id`` and ``score``.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser("search", help="answer one question from a saved stack")
    search.add_argument("folder")
    search.add_argument("question")
    search.add_argument("-k", type=int, default=10)
    search.add_argument("--mode", choices=MODES, default="hybrid")
    arguments = parser.parse_args(argv)
    stack = load(arguments.folder)
    for rank, hit in enumerate(stack.search(arguments.question, k=arguments.k, mode=arguments.mode), start=1):
        print(f"{rank:>3}. {hit.doc_id}  {hit.score:.4f}")


def main(argv: list[str] | None = None) -> None:
    """The hand-written stack's ``command_line``."""
    command_line(argv, "handwritten", __doc__.split("\n")[0], HandwrittenStack.load)


if __name__ == "__main__":
    main(sys.argv[1:])
