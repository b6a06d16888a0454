"""The third stack of ``kb bench --compare --txtai``: txtai's default hybrid index, as a user who picks txtai builds it.

``txtai.Embeddings(path=<the all-MiniLM-L6-v2 folder>, hybrid=True)`` and nothing more (``default_config``);
everything else is txtai's default: content storage off (searches return ``(id, score)``), vectors by its
own transformers mean pooling truncating at the tokenizer's 512 tokens (sentence-transformers stops at
256), batches of 32, a FAISS index chosen by size, BM25 with normalized scores, and hybrid search fusing
the two lists (each ``10 * limit`` deep) convexly with weight 0.5. Records are indexed as
``(id, title + " " + text)``, as the other stacks embed them.

Modes are txtai's hybrid score weights (``Embeddings.search(query, limit, weights=...)``, dense first):
hybrid its default, dense 1, keyword 0. A side of weight 0 is left out of the fusion, so the ranking is
the other side's alone; txtai still runs both searches, so dense and keyword latency include both.

The module imports nothing from ``indexer`` when it runs, but the command line of ``handwritten`` (which
imports nothing from it either), and txtai only when used, so a cold start times txtai alone::

    python -P indexer/evaluation/txtai_stack.py search DIR "question" [-k 10] [--mode hybrid]
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # annotations only: run as a script, the module must not load the indexer package
    from ..records import TextRecord

__all__ = ["MODES", "WEIGHTS", "TxtaiHit", "TxtaiStack", "default_config", "available"]

MODES = ("hybrid", "dense", "keyword")
#: The ``weights`` argument of ``Embeddings.search`` per mode (None: txtai's default, 0.5).
WEIGHTS: dict[str, float | None] = {"hybrid": None, "dense": 1.0, "keyword": 0.0}


def default_config(model_path: str) -> dict:
    """txtai's default hybrid index over the model in ``model_path``: every other setting is left to txtai."""
    return {"path": model_path, "hybrid": True}


def available() -> bool:
    """Whether txtai is installed (found without importing it: its import loads PyTorch)."""
    return importlib.util.find_spec("txtai") is not None


def _embeddings_class():
    # The model is a local folder: nothing should be fetched or checked on the Hub, here or in a cold start.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from txtai import Embeddings

    return Embeddings


@dataclass(frozen=True)
class TxtaiHit:
    """One ranked record: its id (the BEIR ``_id``) and txtai's score."""

    doc_id: str
    score: float


class TxtaiStack:
    """A ``txtai.Embeddings`` index searched in the three modes of the comparison.

    Args:
        embeddings: the txtai index (see ``create`` and ``load``).
    """

    def __init__(self, embeddings):
        self.embeddings = embeddings

    @classmethod
    def create(cls, config: dict) -> "TxtaiStack":
        """An empty index of ``config`` (``default_config(path)`` for the comparison); the model is loaded now."""
        return cls(_embeddings_class()(config))

    @classmethod
    def load(cls, folder: str | Path, overrides: dict | None = None) -> "TxtaiStack":
        """An index saved by ``save``; ``overrides`` replace saved settings (a test's fake ``transform``)."""
        return cls(_embeddings_class()().load(str(folder), config=overrides))

    def build(self, records: Sequence[TextRecord]) -> float:
        """Index records (anything with ``key``, ``title`` and ``text``) from nothing; return the seconds it took."""
        started = time.perf_counter()
        self.embeddings.index([(record.key, f"{record.title} {record.text}") for record in records])
        return time.perf_counter() - started

    def save(self, folder: str | Path) -> float:
        """Write the index to ``folder`` (txtai's own format); return the seconds it took."""
        started = time.perf_counter()
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.embeddings.save(str(folder))
        return time.perf_counter() - started

    def warm(self) -> None:
        """Run the model once, as ``KnowledgeBase.warm`` does, before timing questions."""
        self.embeddings.transform("warm up")

    def search(self, query: str, k: int = 10, mode: str = "hybrid") -> list[TxtaiHit]:
        """The ``k`` best records for ``query`` in ``mode`` (hybrid, dense or keyword), best first."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        return [TxtaiHit(str(uid), float(score)) for uid, score in self.embeddings.search(query, k, weights=WEIGHTS[mode])]


def main(argv: list[str] | None = None) -> None:
    """``search DIR QUESTION [-k N] [--mode MODE]``: load a saved index, answer one question, print the ranking."""
    _sibling("handwritten").command_line(argv, "txtai_stack", __doc__.split("\n")[0], TxtaiStack.load)


def _sibling(name: str):
    """The module ``name`` of this folder: from the package when this module is imported from it, else from its file.

    A cold start runs this file as a script (``-P``): the package's ``__init__`` would load the whole library,
    and the folder put on ``sys.path`` would let its modules shadow installed packages of the same name.
    """
    if __package__:
        return importlib.import_module(f"{__package__}.{name}")
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would: its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    main(sys.argv[1:])
