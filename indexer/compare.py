"""``kb bench DATASET --compare``: this project beside the stack a user would write by hand.

One run on one machine, the same BEIR records, model, questions and judgments for both:
this project (``KnowledgeBase.index_records`` into a fresh directory: ONNX Runtime, SQLite
FTS5, FAISS) and ``handwritten.HandwrittenStack`` (sentence-transformers on PyTorch, FAISS
``IndexFlatIP``, bm25s, convex fusion with our alpha). For each: build seconds from nothing
(model loaded before), passages/s of that build, passages/s of the bare forward pass, warm
p50/p95 per mode (``bench.measure_latency`` for both), the wall clock of a new process answering
one question (median of ``COLD_RUNS``), and nDCG@10 per mode by the project's own scorer.

This project is measured first, wholly, then the hand-written stack, so the latter's PyTorch
model is not even loaded while ours is timed. Both embed in batches of ``BATCH_SIZE``. Our latency is end to end
(passages and documents fetched, highlights, facets); the hand-written stack returns record
ids and scores, all it holds.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import handwritten
from .bench import LatencyReport, Machine, machine, measure_latency
from .chunk import ChunkSettings
from .embed import resolve_model
from .errors import DatasetError, KBError
from .evaluate import EvalSet, beir_records, load_beir, run_queries, score_run
from .search import MODES

__all__ = ["OURS", "HANDWRITTEN", "CompareSettings", "StackFigures", "Row", "Comparison", "compare", "cold_start_seconds"]

OURS, HANDWRITTEN = "this project", "hand-written (ST+FAISS+bm25s)"
#: Texts per forward pass, for both stacks (ours measured fastest with 16 on 2 cores).
BATCH_SIZE = 16
#: New processes timed per stack; the median is reported.
COLD_RUNS = 3
# One passage per record, as evaluate._beir_index indexes a BEIR corpus.
_BEIR_CHUNKING = ChunkSettings(max_words=100_000, overlap_words=0)


@dataclass(frozen=True)
class CompareSettings:
    """What to measure: questions' split, modes, timed questions, k, forward-pass sample (0: every passage)."""

    split: str = "test"
    modes: tuple[str, ...] = MODES
    queries: int = 200
    k: int = 10
    forward_sample: int = 0
    cold_runs: int = COLD_RUNS


@dataclass(frozen=True)
class StackFigures:
    """Everything measured for one stack."""

    name: str
    passages: int
    build_seconds: float
    forward_passages: int
    forward_seconds: float
    latency: dict[str, LatencyReport]
    cold_start_runs: tuple[float, ...]
    quality: dict[str, dict[str, float]]
    build_detail: dict[str, float] = field(default_factory=dict)

    @property
    def build_rate(self) -> float:
        """Passages per second of the build."""
        return self.passages / self.build_seconds if self.build_seconds > 0 else 0.0

    @property
    def forward_rate(self) -> float:
        """Passages per second of the forward pass alone."""
        return self.forward_passages / self.forward_seconds if self.forward_seconds > 0 else 0.0

    @property
    def cold_start_seconds(self) -> float:
        """The median of the cold-start runs."""
        return statistics.median(self.cold_start_runs)

    def to_dict(self) -> dict:
        """The figures as JSON-ready values (seconds to the millisecond, rates to 0.01)."""
        return {"name": self.name, "passages": self.passages, "build_seconds": round(self.build_seconds, 3),
                "build_passages_per_s": round(self.build_rate, 2), "build_detail": self.build_detail,
                "forward_passages": self.forward_passages, "forward_seconds": round(self.forward_seconds, 3),
                "forward_passages_per_s": round(self.forward_rate, 2),
                "latency": {mode: report.to_dict() for mode, report in self.latency.items()},
                "cold_start_seconds": round(self.cold_start_seconds, 3),
                "cold_start_runs": [round(value, 3) for value in self.cold_start_runs], "quality": self.quality}


@dataclass(frozen=True)
class Row:
    """One line of the table; ``ratio`` is above 1 where this project is ahead (None: undefined)."""

    figure: str
    ours: float
    handwritten: float
    ratio: float | None
    digits: int


def _row(figure: str, ours: float, theirs: float, digits: int, lower_is_better: bool) -> Row:
    """A row whose ratio favours this project above 1: theirs / ours for times, ours / theirs otherwise."""
    numerator, denominator = (theirs, ours) if lower_is_better else (ours, theirs)
    return Row(figure, ours, theirs, round(numerator / denominator, 2) if denominator else None, digits)


@dataclass(frozen=True)
class Comparison:
    """Both stacks' figures on one dataset, with the machine they were measured on."""

    dataset: str
    split: str
    questions: int
    settings: CompareSettings
    machine: Machine
    ours: StackFigures
    handwritten: StackFigures

    def rows(self) -> list[Row]:
        """The table's rows: build, throughputs, latency per mode, cold start, nDCG@10 per mode."""
        ours, theirs = self.ours, self.handwritten
        rows = [_row("build from nothing (s)", ours.build_seconds, theirs.build_seconds, 1, True),
                _row("build (passages/s)", ours.build_rate, theirs.build_rate, 1, False),
                _row("forward pass (passages/s)", ours.forward_rate, theirs.forward_rate, 1, False)]
        for mode in self.settings.modes:
            for name in ("p50", "p95"):
                rows.append(_row(f"{mode} {name} (ms)", getattr(ours.latency[mode], f"{name}_ms"),
                                 getattr(theirs.latency[mode], f"{name}_ms"), 1, True))
        rows.append(_row("cold start, one question (s)", ours.cold_start_seconds, theirs.cold_start_seconds, 2, True))
        rows.extend(_row(f"nDCG@10 {mode}", ours.quality[mode]["ndcg@10"], theirs.quality[mode]["ndcg@10"], 4, False)
                    for mode in self.settings.modes)
        return rows

    def to_dict(self) -> dict:
        """The ``kb bench --compare --json`` shape."""
        return {"dataset": self.dataset, "split": self.split, "passages": self.ours.passages, "questions": self.questions,
                "timed_questions": min(self.settings.queries, self.questions), "k": self.settings.k,
                "forward_passages": self.ours.forward_passages, "batch_size": BATCH_SIZE, "machine": self.machine.to_dict(),
                "stacks": {"this_project": self.ours.to_dict(), "handwritten": self.handwritten.to_dict()},
                "rows": [{"figure": row.figure, "this_project": row.ours, "handwritten": row.handwritten, "ratio": row.ratio}
                         for row in self.rows()]}

    def to_table(self) -> str:
        """The figures as an aligned markdown table under a header naming dataset, settings and machine."""
        cells = [["figure", OURS, HANDWRITTEN, "ratio"]]
        cells += [[row.figure, f"{row.ours:.{row.digits}f}", f"{row.handwritten:.{row.digits}f}",
                   "n/a" if row.ratio is None else f"{row.ratio:.2f}"] for row in self.rows()]
        widths = [max(len(line[column]) for line in cells) for column in range(4)]

        def line(values: list[str]) -> str:
            return "| " + " | ".join(value.ljust(width) if column == 0 else value.rjust(width)
                                     for column, (value, width) in enumerate(zip(values, widths))) + " |"

        rule = "|" + "|".join("-" * (width + 2) if column == 0 else "-" * (width + 1) + ":"
                              for column, width in enumerate(widths)) + "|"
        header = (f"{self.dataset} ({self.split}): {self.ours.passages} passages, {self.questions} questions "
                  f"(nDCG on all, latency on {min(self.settings.queries, self.questions)} warm, k={self.settings.k}); "
                  f"forward pass on {self.ours.forward_passages} passages, batch {BATCH_SIZE}")
        footer = ("ratio: hand-written / this project for times, this project / hand-written for passages/s and nDCG "
                  "(above 1: this project ahead). Our latency includes fetching passages, documents, highlights and "
                  "facets; the hand-written stack returns ids and scores.")
        return "\n".join([header, self.machine.describe(), "", line(cells[0]), rule, *map(line, cells[1:]), "", footer])


def compare(kb, dataset: str | Path, settings: CompareSettings = CompareSettings(),
            say: Callable[[str], None] = lambda message: None) -> Comparison:
    """Measure this project and the hand-written stack on a BEIR folder, one after the other.

    Args:
        kb: the ``KnowledgeBase`` whose model to use; both stacks are built under ``<data dir>/bench`` and removed after.
        dataset: a BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``).
        settings: questions, modes, k, forward-pass sample.
        say: told what is being measured (progress for a terminal).

    Returns:
        Both stacks' figures and the machine's description (taken before anything runs).

    Raises:
        DatasetError: ``dataset`` is not a BEIR folder, or has no records or no judged questions.
        KBError: a cold-start process failed.
    """
    folder = Path(dataset)
    if not (folder / "corpus.jsonl").is_file():
        raise DatasetError(f"{folder} has no corpus.jsonl; --compare needs a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    host = machine()
    records, eval_set = beir_records(folder), load_beir(folder, settings.split)
    if not records or not eval_set.queries:
        raise DatasetError(f"{folder} has no records or no judged questions in split {settings.split!r}")
    sample = _sample([f"{record.title} {record.text}" for record in records], settings.forward_sample)
    parent = kb.data_dir / "bench"
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="compare-", dir=parent) as work:
        ours = _measure_ours(kb, records, sample, eval_set, settings, Path(work) / "ours", say)
        theirs = _measure_handwritten(kb, records, sample, eval_set, settings, Path(work) / "handwritten", say)
    return Comparison(dataset=eval_set.name, split=settings.split, questions=len(eval_set.queries), settings=settings,
                      machine=host, ours=ours, handwritten=theirs)


def _measure_ours(kb, records: list, sample: list[str], eval_set: EvalSet, settings: CompareSettings, folder: Path,
                  say: Callable[[str], None]) -> StackFigures:
    """This project's figures: index into ``folder``, then forward pass, latency, quality, cold start."""
    from .kb import KnowledgeBase

    embedder = kb.embedder
    embedder.encode(["warm up"])
    say(f"{OURS}: building the index of {len(records)} records")
    fresh = KnowledgeBase(folder, embedder=embedder, chunking=_BEIR_CHUNKING, fusion=kb.fusion)
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
    command = [*_kb_command(), "search", questions[0], "--data-dir", str(folder), "--model", fresh.model]
    cold = tuple(cold_start_seconds(command) for _ in range(settings.cold_runs))
    return StackFigures(name=OURS, passages=report.passages, build_seconds=build_seconds, forward_passages=len(sample),
                        forward_seconds=forward_seconds, latency=latency, cold_start_runs=cold, quality=quality,
                        build_detail={"index_records_seconds": round(report.seconds, 3)})


def _measure_handwritten(kb, records: list, sample: list[str], eval_set: EvalSet, settings: CompareSettings,
                         folder: Path, say: Callable[[str], None]) -> StackFigures:
    """The hand-written stack's figures: build and save into ``folder``, then forward pass, latency, quality, cold start."""
    # PyTorch runs the model as trained (fp32), whatever precision ("name@int8") this project runs it at.
    path = resolve_model(kb.model.split("@", 1)[0])
    say(f"{HANDWRITTEN}: loading the model with sentence-transformers")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar in the report
    stack = handwritten.HandwrittenStack(handwritten.SentenceTransformerEncoder(path), path, alpha=kb.fusion.alpha,
                                         depth=kb.fusion.depth, batch_size=BATCH_SIZE)
    stack.warm()
    say(f"{HANDWRITTEN}: building the index of {len(records)} records")
    timing = stack.build(records)
    save_seconds = stack.save(folder)
    say(f"{HANDWRITTEN}: forward pass, latency, quality")
    # Over every passage the forward pass is the build's own encode call; on a sample it is timed on its own.
    forward_seconds = (timing.encode_seconds if len(sample) == len(records)
                       else _timed(lambda: stack.encoder.encode(sample, batch_size=BATCH_SIZE)))
    questions = list(eval_set.queries.values())
    latency = {mode: measure_latency(stack, questions[:settings.queries], k=settings.k, mode=mode) for mode in settings.modes}
    quality = _quality(eval_set, settings.modes, lambda question, mode: stack.search(question, k=100, mode=mode),
                       lambda hit: hit.doc_id)
    say(f"{HANDWRITTEN}: cold starts")
    command = [sys.executable, "-P", handwritten.__file__, "search", str(folder), questions[0]]
    cold = tuple(cold_start_seconds(command) for _ in range(settings.cold_runs))
    detail = {"encode_seconds": round(timing.encode_seconds, 3), "index_seconds": round(timing.index_seconds, 3),
              "save_seconds": round(save_seconds, 3)}
    return StackFigures(name=HANDWRITTEN, passages=len(records), build_seconds=timing.seconds + save_seconds,
                        forward_passages=len(sample), forward_seconds=forward_seconds, latency=latency,
                        cold_start_runs=cold, quality=quality, build_detail=detail)


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
    """The project's metrics per mode, the run of each built as ``evaluate.run_queries`` builds it (100 deep)."""
    return {mode: score_run(eval_set, run_queries(eval_set, lambda question: search(question, mode), key)) for mode in modes}


def _kb_command() -> list[str]:
    """How to start ``kb``: the script beside this Python, else ``python -m indexer``."""
    script = Path(sys.executable).with_name("kb")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "indexer"]


def cold_start_seconds(command: list[str]) -> float:
    """The wall clock of ``command`` from start to exit (a new process answering one question).

    Raises:
        KBError: the command failed (its last error line is given).
    """
    started = time.perf_counter()
    finished = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - started
    if finished.returncode:
        last = (finished.stderr.strip().splitlines() or ["no message"])[-1]
        raise KBError(f"cold start failed ({' '.join(command[:3])} ...): {last}")
    return seconds
