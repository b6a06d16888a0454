"""Indexing speed on an idle machine and with one core kept busy by another process.

Builds the SciFact index from nothing (``KnowledgeBase.index_records``, as ``kb eval`` does) into a
temporary folder, and times the bare forward pass two ways on a sample of the same passages: the
way indexing runs it (one single-threaded batch per core, ``OnnxEncoder.encode``) and the way it ran
before (every batch spread over all cores, ONNX Runtime's threads waiting for each other at every
layer). Each is measured idle, then beside a process that spins on one core, the situation of a
``kb add`` next to a busy web worker.

    .venv/bin/python scripts/build_under_load.py ../shared/benchmarks/scifact [--sample 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from pathlib import Path

from indexer import KnowledgeBase, load_embedder
from indexer.evaluation.eval_sets import beir_records
from indexer.evaluation.evaluate import BEIR_CHUNKING
from indexer.pipeline import embedding_text
from indexer.records import Location, Passage


def _spin() -> None:
    while True:
        pass


def _forward(embedder, texts: list[str], per_core: bool) -> float:
    """Passages per second of the forward pass alone: bulk (one batch per core) or each batch on every core."""
    encoder = embedder._encoder
    started = time.perf_counter()
    if per_core:
        encoder.encode(texts, 16)
    else:
        order = sorted(texts, key=len)
        for first in range(0, len(order), 16):
            encoder._batch(order[first:first + 16], encoder._session)
    return len(texts) / (time.perf_counter() - started)


def _build(folder: Path, records: list, embedder) -> float:
    """Passages per second of building the index from nothing."""
    with tempfile.TemporaryDirectory(dir=folder) as target:
        kb = KnowledgeBase(target, embedder=embedder, chunking=BEIR_CHUNKING)
        report = kb.index_records(records)
        kb.close()
        return report.passages / report.seconds


def measure(dataset: Path, sample: int, work_dir: Path) -> dict:
    """Build and forward-pass rates, idle and with one busy core."""
    records = beir_records(dataset)
    embedder = load_embedder("all-MiniLM-L6-v2")
    texts = [embedding_text(record.title, Passage(text=record.text, location=Location())) for record in records]
    texts = texts[:: max(1, len(texts) // sample)][:sample]
    embedder.encode(texts[:32])
    figures = {}
    for load in ("idle", "one core busy"):
        spinner = multiprocessing.Process(target=_spin, daemon=True) if load != "idle" else None
        if spinner:
            spinner.start()
        try:
            figures[load] = {"forward, one batch per core (passages/s)": _forward(embedder, texts, True),
                             "forward, each batch on every core (passages/s)": _forward(embedder, texts, False),
                             "SciFact build from nothing (passages/s)": _build(work_dir, records, embedder)}
        finally:
            if spinner:
                spinner.terminate()
                spinner.join()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--sample", type=int, default=1000, help="passages timed in the bare forward passes")
    parser.add_argument("--work-dir", type=Path, default=Path("var"))
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    arguments.work_dir.mkdir(parents=True, exist_ok=True)
    figures = measure(arguments.dataset, arguments.sample, arguments.work_dir)
    if arguments.json:
        print(json.dumps(figures))
        return
    for load, rows in figures.items():
        print(load)
        for name, value in rows.items():
            print(f"  {name:<50} {value:8.1f}")


if __name__ == "__main__":
    main()
