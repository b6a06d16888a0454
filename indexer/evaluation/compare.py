"""``kb bench DATASET --compare``: this project beside the stack a user would write by hand (and, asked, txtai).

One run on one machine, the same BEIR records, model, questions and judgments for all:
this project (``KnowledgeBase.index_records`` into a fresh directory: ONNX Runtime, SQLite
FTS5, FAISS), ``handwritten.HandwrittenStack`` (sentence-transformers on PyTorch, FAISS
``IndexFlatIP``, bm25s, convex fusion with our alpha) and, with ``--txtai``, ``txtai_stack.TxtaiStack``
(txtai's default hybrid index over the same model folder). For each: build seconds from nothing
(model loaded before), passages/s of that build, passages/s of the bare forward pass (not for txtai:
the hand-written stack's model on PyTorch again), warm p50/p95 per mode (``bench.measure_latency``
for all), the wall clock of a new process answering one question (median of ``COLD_RUNS``), and
nDCG@10 per mode by the project's own scorer. Figures, rows, table and JSON: ``compare_report``.

Each stack is measured wholly before the next, so no other stack's model is even loaded while one is
timed. Ours and the hand-written stack embed in batches of ``BATCH_SIZE``; txtai keeps its own (32).
Our latency is end to end (passages and documents fetched, highlights, facets); the other stacks
return record ids and scores, all they hold.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..embed import resolve_model
from ..errors import BenchmarkFailed, DatasetError
from ..kb import KnowledgeBase
from ..records import TextRecord
from ..settings import default
from . import handwritten, txtai_stack
from .bench import Searcher, machine, measure_latency
# The figures' types live in compare_report; they are this module's API too (``__all__``).
from .compare_report import BATCH_SIZE, HANDWRITTEN, OURS, TXTAI, CompareSettings, Comparison, Row, StackFigures
from .eval_sets import EvalSet, beir_records, load_beir
from .evaluate import BEIR_CHUNKING, EVAL_MAX_QUERY_CHARS, evaluation_dir
from .metrics import run_queries, score_run

__all__ = ["OURS", "HANDWRITTEN", "TXTAI", "CompareSettings", "StackFigures", "Row", "Comparison", "compare",
           "cold_start_seconds"]


def compare(kb: KnowledgeBase, dataset: str | Path, settings: CompareSettings = CompareSettings(),
            say: Callable[[str], None] = lambda message: None) -> Comparison:
    """Measure this project, the hand-written stack and (``settings.txtai``) txtai on a BEIR folder, one after another.

    Args:
        kb: the knowledge base whose model to use; every stack is built under ``evaluation_dir(kb.data_dir) / "bench"``
            and removed after.
        dataset: a BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``).
        settings: questions, modes, k, forward-pass sample, whether to measure txtai.
        say: told what is being measured (progress for a terminal).

    Returns:
        Every stack's figures and the machine's description (taken before anything runs).

    Raises:
        DatasetError: ``dataset`` is not a BEIR folder, or has no records or no judged questions.
        BenchmarkFailed: txtai was asked for and is not installed (said before anything is built), or a cold-start process failed.
    """
    folder = Path(dataset)
    if not (folder / "corpus.jsonl").is_file():
        raise DatasetError(f"{folder} has no corpus.jsonl; --compare needs a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    if settings.txtai and not txtai_stack.available():
        raise BenchmarkFailed("--txtai needs txtai: pip install txtai==9.14.0 (in the dev extra)")
    host = machine()
    records, eval_set = beir_records(folder), load_beir(folder, settings.split)
    if not records or not eval_set.queries:
        raise DatasetError(f"{folder} has no records or no judged questions in split {settings.split!r}")
    sample = _sample([f"{record.title} {record.text}" for record in records], settings.forward_sample)
    parent = evaluation_dir(kb.data_dir) / "bench"
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="compare-", dir=parent) as work:
        ours = _measure_ours(kb, records, sample, eval_set, settings, Path(work) / "ours", say)
        theirs = _measure_handwritten(kb, records, sample, eval_set, settings, Path(work) / "handwritten", say)
        txtai = _measure_txtai(kb, records, eval_set, settings, Path(work) / "txtai", say) if settings.txtai else None
    return Comparison(dataset=eval_set.name, split=settings.split, questions=len(eval_set.queries), settings=settings,
                      machine=host, ours=ours, handwritten=theirs, txtai=txtai)


def _measure_ours(kb: KnowledgeBase, records: list[TextRecord], sample: list[str], eval_set: EvalSet,
                  settings: CompareSettings, folder: Path, say: Callable[[str], None]) -> StackFigures:
    """This project's figures: index into ``folder``, then forward pass, latency, quality, cold start."""
    embedder = kb.embedder
    embedder.encode(["warm up"])
    say(f"{OURS}: building the index of {len(records)} records")
    fresh = KnowledgeBase(folder, embedder=embedder, chunking=BEIR_CHUNKING, fusion=kb.fusion,
                          max_query_chars=EVAL_MAX_QUERY_CHARS)
    started = time.perf_counter()
    report = fresh.index_records(records)
    build_seconds = time.perf_counter() - started
    say(f"{OURS}: forward pass, latency, quality")
    forward_seconds = _timed(lambda: embedder.encode(sample, batch_size=BATCH_SIZE))
    questions = list(eval_set.queries.values())
    latency = {mode: measure_latency(fresh, questions[:settings.queries], k=settings.k, mode=mode) for mode in settings.modes}
    quality = _quality(eval_set, settings.modes, lambda question, mode: fresh.search(
        question, k=100, mode=mode, per_document=0, collapse=False).hits, lambda hit: hit.document.filename)
    fresh.close()
    say(f"{OURS}: cold starts")
    command = [*_kb_command(), "search", _cold_question(questions), "--data-dir", str(folder), "--model", fresh.model]
    cold = tuple(cold_start_seconds(command) for _ in range(settings.cold_runs))
    return StackFigures(name=OURS, passages=report.passages, build_seconds=build_seconds, forward_passages=len(sample),
                        forward_seconds=forward_seconds, latency=latency, cold_start_runs=cold, quality=quality,
                        build_detail={"index_records_seconds": round(report.seconds, 3)})


def _measure_handwritten(kb: KnowledgeBase, records: list[TextRecord], sample: list[str], eval_set: EvalSet,
                         settings: CompareSettings, folder: Path, say: Callable[[str], None]) -> StackFigures:
    """The hand-written stack's figures: build and save into ``folder``, then forward pass, latency, quality, cold start."""
    path = _torch_model_path(kb)
    say(f"{HANDWRITTEN}: loading the model with sentence-transformers")
    stack = handwritten.HandwrittenStack(handwritten.SentenceTransformerEncoder(path), path, alpha=kb.fusion.alpha,
                                         depth=kb.fusion.depth, batch_size=BATCH_SIZE)
    stack.warm()
    say(f"{HANDWRITTEN}: building the index of {len(records)} records")
    timing = stack.build(records)
    save_seconds = stack.save(folder)
    say(f"{HANDWRITTEN}: forward pass")
    # Over every passage the forward pass is the build's own encode call; on a sample it is timed on its own.
    forward_seconds = (timing.encode_seconds if len(sample) == len(records)
                       else _timed(lambda: stack.encoder.encode(sample, batch_size=BATCH_SIZE)))
    detail = {"encode_seconds": round(timing.encode_seconds, 3), "index_seconds": round(timing.index_seconds, 3),
              "save_seconds": round(save_seconds, 3)}
    return _saved_stack_figures(HANDWRITTEN, stack, handwritten.__file__, folder, eval_set, settings, say,
                                passages=len(records), build_seconds=timing.seconds + save_seconds,
                                forward_passages=len(sample), forward_seconds=forward_seconds, build_detail=detail)


def _measure_txtai(kb: KnowledgeBase, records: list[TextRecord], eval_set: EvalSet, settings: CompareSettings, folder: Path,
                   say: Callable[[str], None]) -> StackFigures:
    """txtai's figures: its default hybrid index built and saved into ``folder``, then latency, quality, cold start."""
    path = _torch_model_path(kb)
    say(f"{TXTAI}: loading the model with txtai")
    stack = txtai_stack.TxtaiStack.create(txtai_stack.default_config(path))
    stack.warm()
    say(f"{TXTAI}: building the index of {len(records)} records")
    index_seconds = stack.build(records)
    save_seconds = stack.save(folder)
    # No forward pass: txtai runs the hand-written stack's PyTorch model, whose figure is in the table.
    return _saved_stack_figures(TXTAI, stack, txtai_stack.__file__, folder, eval_set, settings, say,
                                passages=len(records), build_seconds=index_seconds + save_seconds, forward_passages=0,
                                forward_seconds=None,
                                build_detail={"index_seconds": round(index_seconds, 3), "save_seconds": round(save_seconds, 3)})


def _torch_model_path(kb: KnowledgeBase) -> str:
    """The model folder the PyTorch stacks load, their progress bars off (no "Loading weights" bar in the report)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # PyTorch runs the model as trained (fp32), whatever precision ("name@int8") this project runs it at.
    return resolve_model(kb.model.split("@", 1)[0])


def _saved_stack_figures(name: str, stack: Searcher, script: str, folder: Path, eval_set: EvalSet, settings: CompareSettings,
                         say: Callable[[str], None], **build) -> StackFigures:
    """The figures of a stack built and saved into ``folder``: its build's figures, then latency, quality, cold start.

    Args:
        name: the stack's name in the table.
        stack: the built stack: ``warm()``, and ``search(question, k=, mode=)`` giving hits with ``doc_id``.
        script: the stack's module, run as ``python -P script search folder question`` for a cold start.
        folder: where the stack was saved.
        eval_set: the questions and judgments.
        settings: modes, timed questions, k, cold-start runs.
        say: told what is being measured.
        build: the ``StackFigures`` fields of the build and forward pass.

    Returns:
        All the stack's figures.
    """
    say(f"{name}: latency, quality")
    questions = list(eval_set.queries.values())
    latency = {mode: measure_latency(stack, questions[:settings.queries], k=settings.k, mode=mode) for mode in settings.modes}
    quality = _quality(eval_set, settings.modes, lambda question, mode: stack.search(question, k=100, mode=mode),
                       lambda hit: hit.doc_id)
    say(f"{name}: cold starts")
    command = [sys.executable, "-P", script, "search", str(folder), _cold_question(questions)]
    cold = tuple(cold_start_seconds(command) for _ in range(settings.cold_runs))
    return StackFigures(name=name, latency=latency, cold_start_runs=cold, quality=quality, **build)


def _cold_question(questions: list[str]) -> str:
    """What every stack's cold start answers: the first question, cut to the length ``kb search`` accepts."""
    return questions[0][:default("KB_MAX_QUERY_CHARS")]


def _sample(texts: list[str], size: int) -> list[str]:
    """``size`` evenly spaced texts (every text when ``size`` is 0 or at least their number)."""
    if size <= 0 or size >= len(texts):
        return texts
    return [texts[index] for index in np.linspace(0, len(texts) - 1, size).round().astype(int)]


def _timed(work: Callable[[], object]) -> float:
    """The seconds ``work()`` takes."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _quality(eval_set: EvalSet, modes: tuple[str, ...], search: Callable[[str, str], list], key: Callable) -> dict[str, dict[str, float]]:
    """The project's metrics per mode, the run of each built by ``metrics.run_queries`` as ``kb eval`` builds it (100 deep)."""
    return {mode: score_run(eval_set, run_queries(eval_set, lambda question: search(question, mode), key)) for mode in modes}


def _kb_command() -> list[str]:
    """How to start ``kb``: the script beside this Python, else ``python -m indexer``."""
    script = Path(sys.executable).with_name("kb")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "indexer"]


def cold_start_seconds(command: list[str]) -> float:
    """The wall clock of ``command`` from start to exit (a new process answering one question).

    Raises:
        BenchmarkFailed: the command failed (its last error line is given).
    """
    started = time.perf_counter()
    finished = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - started
    if finished.returncode:
        last = (finished.stderr.strip().splitlines() or ["no message"])[-1]
        raise BenchmarkFailed(f"cold start failed ({' '.join(command[:3])} ...): {last}")
    return seconds
