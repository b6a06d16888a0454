"""Query latency: warm end-to-end searches timed one by one, reported as percentiles; the machine they ran on."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = ["Searcher", "LatencyReport", "Machine", "machine", "measure_latency"]

# Libraries whose versions a benchmark report names.
_LIBRARIES = ("onnxruntime", "torch", "sentence-transformers", "faiss-cpu", "bm25s", "txtai")


class Searcher(Protocol):
    """What ``measure_latency`` times: a ``KnowledgeBase``, or a stack of ``kb bench --compare`` (``HandwrittenStack``, ``TxtaiStack``)."""

    def warm(self) -> None:
        """Load the model and the index, so that the first timed question pays for neither."""
        ...

    def search(self, query: str, k: int = 10, mode: str = "hybrid") -> object:
        """Answer one question."""
        ...


@dataclass(frozen=True)
class LatencyReport:
    """Milliseconds per warm query over ``queries`` questions."""

    queries: int
    mode: str
    p50_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float

    def to_dict(self) -> dict:
        return {"queries": self.queries, "mode": self.mode, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms,
                "mean_ms": self.mean_ms, "max_ms": self.max_ms}


def measure_latency(kb: Searcher, questions: list[str], k: int = 10, mode: str = "dense", warmup: int = 5) -> LatencyReport:
    """Time ``kb.search`` (for a ``KnowledgeBase``: encode, search, fetch passages and documents) for each question.

    Args:
        kb: the ``KnowledgeBase`` (or other ``Searcher``) to query; its model and index are loaded before timing.
        questions: the questions, each searched once after the warm-up.
        k: results per question.
        mode: the retrieval mode.
        warmup: questions searched first and not timed.

    Returns:
        Percentiles of the wall-clock time per question.
    """
    kb.warm()
    for question in questions[:warmup]:
        kb.search(question, k=k, mode=mode)
    timings = []
    for question in questions:
        started = time.perf_counter()
        kb.search(question, k=k, mode=mode)
        timings.append((time.perf_counter() - started) * 1000)
    values = np.array(timings)
    return LatencyReport(queries=len(timings), mode=mode, p50_ms=round(float(np.percentile(values, 50)), 2),
                         p95_ms=round(float(np.percentile(values, 95)), 2), mean_ms=round(statistics.fmean(timings), 2),
                         max_ms=round(float(values.max()), 2))


@dataclass(frozen=True)
class Machine:
    """Where and when the figures were made."""

    cpu: str
    cores: int
    load_average: tuple[float, float, float]
    date: str
    libraries: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """One header line: CPU, cores, load average at start, date."""
        load = " ".join(f"{value:.2f}" for value in self.load_average)
        return f"machine: {self.cpu}, {self.cores} cores available, load average {load} at start, {self.date}"

    def to_dict(self) -> dict:
        """The description as JSON-ready values."""
        return {"cpu": self.cpu, "cores": self.cores, "load_average": list(self.load_average), "date": self.date,
                "libraries": self.libraries}


def machine() -> Machine:
    """Describe this machine now, before a benchmark runs.

    Returns:
        The CPU model (``/proc/cpuinfo``), the cores this process may use, the load average, the date
        and the versions of the libraries that do the work.
    """
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    load = tuple(round(value, 2) for value in os.getloadavg())
    return Machine(cpu=cpu, cores=len(os.sched_getaffinity(0)), load_average=load,
                   date=datetime.now().astimezone().isoformat(timespec="seconds"), libraries=versions)
