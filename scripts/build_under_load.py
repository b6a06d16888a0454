"""Indexing speed on an idle machine and with one core kept busy by another process.

Builds the SciFact index from nothing (``KnowledgeBase.index_records``, as ``kb eval`` does) into a
temporary folder, and times the bare forward pass on a sample of the same passages three ways: ONNX
Runtime fp32 one single-threaded batch per core (``OnnxEncoder.encode``), ONNX Runtime with every batch
spread over all cores (its threads waiting for each other at every layer), and PyTorch in bfloat16 one
batch per core (``bulk_runtime``, where the processor has bfloat16 instructions). Each is measured idle,
then beside a process that spins on one core, the situation of a ``kb add`` next to a busy web worker.

    .venv/bin/python scripts/build_under_load.py ../shared/benchmarks/scifact [--sample 1000] [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from indexer import KnowledgeBase, load_embedder
from indexer.bulk_runtime import native_bfloat16
from indexer.embed import resolve_model
from indexer.evaluation.eval_sets import beir_records
from indexer.evaluation.evaluate import BEIR_CHUNKING
from indexer.onnx_runtime import cached_encoder
from indexer.pipeline import embedding_text
from indexer.records import Location, Passage


def _spin() -> None:
    while True:
        pass


def _encoder(bulk_runtime: str):
    """The default model's exported encoder with ``bulk_runtime`` (``KB_BULK_RUNTIME``) for its bulk batches."""
    os.environ["KB_BULK_RUNTIME"] = bulk_runtime
    try:
        return cached_encoder(resolve_model("all-MiniLM-L6-v2"))
    finally:
        del os.environ["KB_BULK_RUNTIME"]


def _forward(encoder, texts: list[str], per_core: bool) -> float:
    """Passages per second of the forward pass alone: bulk (one batch per core) or each batch on every core."""
    started = time.perf_counter()
    if per_core:
        encoder.encode(texts, 16)
    else:
        order = sorted(texts, key=len)
        every_core = functools.partial(encoder._hidden, session=encoder._session)
        for first in range(0, len(order), 16):
            encoder._batch(order[first:first + 16], every_core)
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
    onnx = _encoder("onnx")
    bfloat16 = _encoder("torch-bf16") if native_bfloat16() else None
    for encoder in filter(None, (onnx, bfloat16)):
        encoder.encode(texts[:64], 16)  # loads PyTorch for the bfloat16 one
    figures = {}
    for load in ("idle", "one core busy"):
        spinner = multiprocessing.Process(target=_spin, daemon=True) if load != "idle" else None
        if spinner:
            spinner.start()
        try:
            rows = {"forward, ONNX Runtime fp32, one batch per core (passages/s)": _forward(onnx, texts, True),
                    "forward, ONNX Runtime fp32, each batch on every core (passages/s)": _forward(onnx, texts, False)}
            if bfloat16 is not None:
                rows["forward, PyTorch bf16, one batch per core (passages/s)"] = _forward(bfloat16, texts, True)
            rows["SciFact build from nothing (passages/s)"] = _build(work_dir, records, embedder)
            figures[load] = rows
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
            print(f"  {name:<66} {value:8.1f}")


if __name__ == "__main__":
    main()
