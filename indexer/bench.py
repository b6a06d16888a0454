"""Query latency: warm end-to-end searches timed one by one, reported as percentiles."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["LatencyReport", "measure_latency"]


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


def measure_latency(kb, questions: list[str], k: int = 10, mode: str = "dense", warmup: int = 5) -> LatencyReport:
    """Time ``kb.search`` (encode, search, fetch passages and documents) for each question.

    Args:
        kb: the ``KnowledgeBase`` to query; its model and index are loaded before timing.
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
