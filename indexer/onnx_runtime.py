"""A faster forward pass for mean-pooled sentence-transformers models, with ONNX Runtime.

On a 2-core CPU, all-MiniLM-L6-v2 embeds one short question in about 9 ms with
ONNX Runtime against about 25 ms with PyTorch, with the same vectors (cosine
> 0.99999). The model is exported once per machine to the cache directory
(``KB_CACHE_DIR``, default ``~/.cache/kb-search``), beside its tokenizer and a
few facts (dimension, longest input); from then on ``cached_encoder`` runs it
with ONNX Runtime and the ``tokenizers`` library alone, so a process that only
searches never imports PyTorch or sentence-transformers (a cold ``kb search``
takes about a second instead of ten). Models that are not a plain Transformer
+ mean Pooling (+ Normalize) stay on PyTorch.

At ``int8`` precision the export is quantised once more, with ONNX Runtime's
dynamic quantisation (per-channel int8 weights), into ``<key>.int8.onnx`` beside
it; that needs ONNX Runtime and ``onnx`` only, never PyTorch.

A model that already is an ONNX file (a directory with one and a
``tokenizer.json``, but no sentence-transformers config) runs the same way
without any export: ``onnx_folder.onnx_model_encoder``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .bulk_runtime import BulkRuntime, Hidden
from .onnx_export import EXPORT_FORMAT, export, fuse, is_mean_pooled, quantised, question_copy, save_tokenizer_and_facts
from .settings import PRECISIONS, cache_dir, read

__all__ = ["OnnxEncoder", "Prompts", "model_prompts", "PRECISIONS", "onnx_encoder_for", "cached_encoder", "quantised"]

#: Longest input when a model directory does not say (all-MiniLM-L6-v2's ``max_seq_length``).
DEFAULT_MAX_LENGTH = 256

#: Turns texts into (input_ids, attention_mask), padded to the longest and cut at the model's limit.
Tokenize = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prompts:
    """What a model trained with prompts wants before a question and before a passage (E5: ``query: ``, ``passage: ``)."""

    query: str = ""
    passage: str = ""


def model_prompts(prompts: dict | None) -> Prompts:
    """The prompts of a sentence-transformers model (its ``prompts``: "query", and "document" or "passage")."""
    prompts = prompts or {}
    return Prompts(str(prompts.get("query") or ""), str(prompts.get("document") or prompts.get("passage") or ""))


class OnnxEncoder:
    """Tokenise, run the exported transformer, mean-pool and normalise.

    Args:
        model_file: an ONNX transformer taking ``input_ids`` and ``attention_mask`` (and
            ``token_type_ids``, given as zeros, when it asks for them) and giving the last hidden state.
        tokenize: texts -> (input_ids, attention_mask).
        dimension: length of the vectors.
        spinning: let ONNX Runtime's inference threads spin (busy-wait) within a run, its default, so each
            step starts sooner; they stop when the run returns. Where several processes shared the cores
            (gunicorn workers) an idle worker's threads, which then spun on between runs, slowed the busy one
            (one client over HTTP: 12 ms with 2 workers against 6 ms with one), so it is turned off there.
            Default: the ``KB_ONNX_SPINNING`` setting ("0" turns it off), else on.
        prompts: what the model wants before questions and passages (the embedder adds them, not this).
        bulk: what may take over many batches from ONNX Runtime (``bulk_runtime``); default: ONNX Runtime only.
    """

    def __init__(self, model_file: Path, tokenize: Tokenize, dimension: int = 0, spinning: bool | None = None,
                 prompts: Prompts = Prompts(), bulk: BulkRuntime | None = None, question_file: Path | None = None):
        self.prompts = prompts
        # The int8 copy for questions (``onnx_export.question_copy``), unless KB_HYBRID_QUESTIONS says fp32.
        self._question_file = question_file if read("KB_HYBRID_QUESTIONS") == "int8" else None
        self._question_session = None  # made on the first quick question
        self._bulk = bulk or BulkRuntime(None)
        if spinning is None:
            spinning = read("KB_ONNX_SPINNING")
        self._model_file, self._spinning = model_file, spinning
        # Never more inference threads than the cores this process may use: more only fight over them.
        self._cores = min(len(os.sched_getaffinity(0)), 4)
        self._lock = threading.Lock()
        # Sessions are made when first needed: a hybrid `kb search` in a new process loads the question copy alone.
        self._model_session = None
        self._single_threaded = None  # made on the first bulk encode (see encode)
        self._token_types, self._output = False, ""  # the model's inputs and output, from the first session made
        self._tokenize = tokenize
        self.dimension = dimension

    @property
    def _session(self):
        """The session of the model itself, on every core this process may use."""
        with self._lock:
            if self._model_session is None:
                self._model_session = self._new_session(self._cores)
            return self._model_session

    def _new_session(self, threads: int, model_file: Path | None = None):
        """An ONNX Runtime session of ``model_file`` (default: the model's) on ``threads`` threads.

        Every file of one encoder (the export, its fused and int8 copies) has the export's inputs and output."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        if not self._spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Spin within a run only: threads still spinning after it took the second core from what follows the
        # question's embedding (the keyword side's thread at a million passages: hybrid p50 50-55 -> 34-37 ms).
        options.add_session_config_entry("session.force_spinning_stop", "1")
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(model_file or self._model_file), options, providers=["CPUExecutionProvider"])
        if not self._output:
            self._token_types = "token_type_ids" in {given.name for given in session.get_inputs()}
            outputs = [given.name for given in session.get_outputs()]
            self._output = "last_hidden_state" if "last_hidden_state" in outputs else outputs[0]
        return session

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit-length mean-pooled embeddings of ``texts``, batched by similar length.

        One batch (a question) runs on every core at once. Many batches (indexing) run one per core,
        each single-threaded: no thread waits for another at every layer, so throughput is higher
        and holds up when another process takes a core (the free core keeps taking batches). Those
        run on PyTorch in bfloat16 where ``bulk_runtime`` says so, else on ONNX Runtime.
        """
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[first:first + batch_size] for first in range(0, len(order), batch_size)]
        rows: list[np.ndarray] = [np.empty(0)] * len(texts)
        if len(batches) > 1 and self._cores > 1:
            with ThreadPoolExecutor(max_workers=self._cores, thread_name_prefix="kb-embed") as pool:
                embedded = list(pool.map(lambda chosen: self._batch([texts[i] for i in chosen], self._bulk_hidden), batches))
        else:
            hidden = functools.partial(self._hidden, session=self._session)
            embedded = [self._batch([texts[i] for i in chosen], hidden) for chosen in batches]
        for chosen, vectors in zip(batches, embedded):
            for index, vector in zip(chosen, vectors):
                rows[index] = vector
        return np.vstack(rows).astype(np.float32)

    def quick_question(self, text: str) -> np.ndarray | None:
        """The unit-length vector of one question from the int8 copy for questions, or None where there is none.

        Close to ``encode([text])[0]`` (cosine about 0.99) in half the time; for hybrid search, where the keyword
        side and the fp32 passages absorb the difference (see ``onnx_export.question_copy``).
        """
        vectors = self.quick_encode([text])
        return None if vectors is None else vectors[0]

    def quick_encode(self, texts: list[str]) -> np.ndarray | None:
        """Unit-length vectors of a few short texts (answer candidates) from the int8 copy, or None where there is none.

        Each text runs alone: int8 scales are set over the whole batch, so in a batch a sentence's vector (and the
        sentence marked as the answer) would depend on what else is being marked; one by one is as quick here.
        """
        if self._question_file is None:
            return None
        with self._lock:
            if self._question_session is None:
                self._question_session = self._new_session(self._cores, self._question_file)
        hidden = functools.partial(self._hidden, session=self._question_session)
        rows = [self._batch([text], hidden) for text in texts]
        return np.vstack(rows) if rows else np.zeros((0, self.dimension), dtype=np.float32)

    def expect_passages(self, count: int) -> None:
        """About ``count`` passages are coming: a large job loads its bulk runtime now (``BulkRuntime.expect``)."""
        self._bulk.expect(count)

    def _bulk_hidden(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """One batch of many: on PyTorch in bfloat16 once it has loaded (asked batch by batch, so the first
        batches after it loads use it, not only the next call's), else on a single-threaded ONNX Runtime session."""
        torch_hidden = self._bulk.torch_hidden(len(input_ids))
        return torch_hidden(input_ids, mask) if torch_hidden else self._hidden(input_ids, mask, self._bulk_session())

    def _bulk_session(self):
        with self._lock:
            if self._single_threaded is None:
                self._single_threaded = self._new_session(1)
            return self._single_threaded

    def _batch(self, texts: list[str], hidden: Hidden) -> np.ndarray:
        input_ids, mask = self._tokenize(texts)
        hidden = hidden(input_ids, mask)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def _hidden(self, input_ids: np.ndarray, mask: np.ndarray, session) -> np.ndarray:
        """The model's output (one vector per token) for a tokenised batch."""
        inputs = {"input_ids": input_ids, "attention_mask": mask}
        if self._token_types:
            inputs["token_type_ids"] = np.zeros_like(input_ids)
        return session.run([self._output], inputs)[0]


def _export_paths(location: str) -> tuple[Path, Path, Path]:
    """Where the export of the model loaded from ``location`` lives: model, tokenizer, facts."""
    key = hashlib.sha256(f"{Path(location).resolve() if Path(location).exists() else location}".encode()).hexdigest()[:16]
    folder = cache_dir()
    return folder / f"{key}.onnx", folder / f"{key}.tokenizer.json", folder / f"{key}.json"


def _int8_path(target: Path) -> Path:
    """``<key>.int8.onnx`` beside ``<key>.onnx``."""
    return target.with_suffix(".int8.onnx")


def _fused_path(target: Path) -> Path:
    """``<key>.fused.onnx`` beside ``<key>.onnx`` (``onnx_export.fuse``)."""
    return target.with_suffix(".fused.onnx")


def _question_path(target: Path) -> Path:
    """``<key>.questions.int8.onnx`` beside ``<key>.onnx`` (``onnx_export.question_copy``)."""
    return target.with_suffix(".questions.int8.onnx")


def _question_file(target: Path, precision: str, made: bool) -> Path | None:
    """The copy for questions to run beside the fp32 export ``target``, if one was made (an int8 index has none)."""
    return _question_path(target) if made and precision == "fp32" and _question_path(target).exists() else None


def _at_precision(model_file: Path, precision: str, int8_file: Path | None = None, fused: bool = False) -> Path:
    """The file to run: at fp32 the fused copy of ``model_file`` when ``fused`` says there is one, else ``model_file``;
    at int8 its int8 copy (made from ``model_file`` when missing; default: beside it)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "int8":
        return quantised(model_file, int8_file or _int8_path(model_file))
    return _fused_path(model_file) if fused and _fused_path(model_file).exists() else model_file


def onnx_encoder_for(model, location: str, precision: str = "fp32") -> OnnxEncoder | None:
    """An ONNX Runtime encoder equivalent to ``model``, or None where it cannot be made.

    The first call for a model exports it, with its tokenizer and facts, for ``cached_encoder``
    (and at int8, quantises the export).

    Args:
        model: a loaded ``SentenceTransformer``.
        location: where the model was loaded from (names the exported file).
        precision: ``fp32`` or ``int8``.
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    if not is_mean_pooled(model):
        return None
    target, tokenizer_file, facts_file = _export_paths(location)
    bulk = _bulk_runtime(location, precision)  # outside the try: a bad KB_BULK_RUNTIME is the user's to fix
    try:
        if not target.exists():
            export(model[0].auto_model, model.tokenizer, target)
        facts = _readable_facts(facts_file)
        if facts.get("format") != EXPORT_FORMAT:  # missing, damaged or older: written again, with the fused copies
            fused = _fused_copy(model, target)
            questions = fused and _question_copy(model, target)
            save_tokenizer_and_facts(model, tokenizer_file, facts_file, fused=fused, questions=questions)
        else:
            fused, questions = bool(facts.get("fused")), bool(facts.get("questions"))
        return OnnxEncoder(_at_precision(target, precision, fused=fused), _hf_tokenize(model.tokenizer, model.max_seq_length),
                           model.get_embedding_dimension(), prompts=model_prompts(model.prompts), bulk=bulk,
                           question_file=_question_file(target, precision, questions))
    except Exception as error:  # any export or runtime problem: stay on PyTorch, which always works
        log.warning("ONNX Runtime unavailable for %s (%s); using PyTorch", location, error)
        return None


def _readable_facts(facts_file: Path) -> dict:
    """The facts beside an export, or {} when the file is missing or cannot be read as a JSON object."""
    try:
        facts = json.loads(facts_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return facts if isinstance(facts, dict) else {}


def _fused_copy(model, target: Path) -> bool:
    """Make the fused copy of the export ``target`` (``onnx_export.fuse``); whether there is one to run."""
    try:
        return fuse(model[0].auto_model, model.tokenizer, target, _fused_path(target))
    except Exception as error:  # the plain export runs all the same, a little slower
        log.info("no fused copy of %s (%s); running the plain export", target.name, error)
        return False


def _question_copy(model, target: Path) -> bool:
    """Make the int8 copy of the fused export for questions (``onnx_export.question_copy``); whether there is one."""
    try:
        return question_copy(_fused_path(target), _question_path(target), model.tokenizer)
    except Exception as error:  # questions run at fp32 all the same, a little slower
        log.info("no int8 copy of %s for questions (%s)", target.name, error)
        return False


def cached_encoder(location: str, precision: str = "fp32") -> OnnxEncoder | None:
    """The exported model for ``location`` run without PyTorch, or None when it was never exported here.

    Args:
        location: a model directory or name, as ``embed.resolve_model`` gives it.
        precision: ``fp32``, or ``int8`` (the export is quantised on first use, without PyTorch).
    """
    target, tokenizer_file, facts_file = _export_paths(location)
    if not (target.exists() and tokenizer_file.exists() and facts_file.exists()):
        return None
    bulk = _bulk_runtime(location, precision)  # outside the try: a bad KB_BULK_RUNTIME is the user's to fix
    try:
        from tokenizers import Tokenizer

        facts = json.loads(facts_file.read_text(encoding="utf-8"))
        if facts.get("format") != EXPORT_FORMAT:
            log.info("the export in %s was made by an older version; loading the model once to make it again", target.parent)
            return None
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.enable_truncation(int(facts["max_length"]))
        tokenizer.enable_padding(pad_id=int(facts["pad_id"]), pad_token=str(facts["pad_token"]))
        return OnnxEncoder(_at_precision(target, precision, fused=bool(facts.get("fused"))), _fast_tokenize(tokenizer), int(facts["dimension"]),
                           prompts=model_prompts(facts.get("prompts")), bulk=bulk,
                           question_file=_question_file(target, precision, bool(facts.get("questions"))))
    except Exception as error:  # a damaged cache: load the model the slow way, which exports it again
        log.warning("cannot use the exported model in %s (%s); loading it with sentence-transformers", target.parent, error)
        return None


def _bulk_runtime(location: str, precision: str) -> BulkRuntime:
    """What may embed many passages of the model at ``location``: PyTorch in bfloat16 stands in for fp32 only."""
    return BulkRuntime(location if precision == "fp32" else None)


def _hf_tokenize(tokenizer, max_length: int) -> Tokenize:
    """Tokenise with a transformers tokenizer (the process that loaded sentence-transformers)."""
    def tokenize(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        tokens = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np")
        return tokens["input_ids"].astype(np.int64), tokens["attention_mask"].astype(np.int64)

    return tokenize


def _fast_tokenize(tokenizer) -> Tokenize:
    """Tokenise with the ``tokenizers`` library alone (set to pad and truncate)."""
    def tokenize(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = tokenizer.encode_batch(texts)
        return (np.array([encoding.ids for encoding in encodings], dtype=np.int64),
                np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64))

    return tokenize


