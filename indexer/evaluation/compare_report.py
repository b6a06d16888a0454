"""What ``kb bench --compare`` reports: each stack's figures, the rows with their ratios, the table and the JSON.

A ratio is above 1 where this project is ahead: the other stack's / ours for times, ours / the other's for
passages/s and nDCG. A figure a stack does not have (txtai's bare forward pass) is None, shown as "—".
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable

from .bench import LatencyReport, Machine
from ..search import MODES

__all__ = ["OURS", "HANDWRITTEN", "TXTAI", "BATCH_SIZE", "COLD_RUNS", "CompareSettings", "StackFigures", "Row", "Comparison"]

OURS, HANDWRITTEN, TXTAI = "this project", "hand-written (ST+FAISS+bm25s)", "txtai (hybrid=True)"
#: Texts per forward pass, for this project and the hand-written stack (ours measured fastest with 16 on 2 cores).
BATCH_SIZE = 16
#: New processes timed per stack; the median is reported.
COLD_RUNS = 3
# JSON keys of the stacks, in the table's order.
_KEYS = ("this_project", "handwritten", "txtai")


@dataclass(frozen=True)
class CompareSettings:
    """What to measure: questions' split, modes, timed questions, k, forward-pass sample (0: every passage), txtai or not."""

    split: str = "test"
    modes: tuple[str, ...] = MODES
    queries: int = 200
    k: int = 10
    forward_sample: int = 0
    cold_runs: int = COLD_RUNS
    txtai: bool = False


@dataclass(frozen=True)
class StackFigures:
    """Everything measured for one stack (``forward_seconds`` None: its forward pass was not timed)."""

    name: str
    passages: int
    build_seconds: float
    forward_passages: int
    forward_seconds: float | None
    latency: dict[str, LatencyReport]
    cold_start_runs: tuple[float, ...]
    quality: dict[str, dict[str, float]]
    build_detail: dict[str, float] = field(default_factory=dict)

    @property
    def build_rate(self) -> float:
        """Passages per second of the build."""
        return self.passages / self.build_seconds if self.build_seconds > 0 else 0.0

    @property
    def forward_rate(self) -> float | None:
        """Passages per second of the forward pass alone (None when not timed)."""
        if self.forward_seconds is None:
            return None
        return self.forward_passages / self.forward_seconds if self.forward_seconds > 0 else 0.0

    @property
    def cold_start_seconds(self) -> float:
        """The median of the cold-start runs."""
        return statistics.median(self.cold_start_runs)

    def to_dict(self) -> dict:
        """The figures as JSON-ready values (seconds to the millisecond, rates to 0.01; null: not measured)."""
        return {"name": self.name, "passages": self.passages, "build_seconds": round(self.build_seconds, 3),
                "build_passages_per_s": round(self.build_rate, 2), "build_detail": self.build_detail,
                "forward_passages": self.forward_passages, "forward_seconds": _rounded(self.forward_seconds, 3),
                "forward_passages_per_s": _rounded(self.forward_rate, 2),
                "latency": {mode: report.to_dict() for mode, report in self.latency.items()},
                "cold_start_seconds": round(self.cold_start_seconds, 3),
                "cold_start_runs": [round(value, 3) for value in self.cold_start_runs], "quality": self.quality}


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Row:
    """One line of the table: a value per stack, ours first, and each other stack's ratio to ours (None: undefined)."""

    figure: str
    values: tuple[float | None, ...]
    ratios: tuple[float | None, ...]
    digits: int


def _row(figure: str, values: tuple[float | None, ...], digits: int, lower_is_better: bool) -> Row:
    """A row whose ratios favour this project above 1: theirs / ours for times, ours / theirs otherwise."""
    ours = values[0]
    ratios = []
    for theirs in values[1:]:
        numerator, denominator = (theirs, ours) if lower_is_better else (ours, theirs)
        defined = numerator is not None and denominator  # 0 or None: no ratio
        ratios.append(round(numerator / denominator, 2) if defined else None)
    return Row(figure, values, tuple(ratios), digits)


@dataclass(frozen=True)
class Comparison:
    """Every stack's figures on one dataset, with the machine they were measured on (``txtai`` None: not asked for)."""

    dataset: str
    split: str
    questions: int
    settings: CompareSettings
    machine: Machine
    ours: StackFigures
    handwritten: StackFigures
    txtai: StackFigures | None = None

    @property
    def stacks(self) -> tuple[StackFigures, ...]:
        """The stacks measured, in the table's order."""
        return (self.ours, self.handwritten) + ((self.txtai,) if self.txtai else ())

    def rows(self) -> list[Row]:
        """The table's rows: build, throughputs, latency per mode, cold start, nDCG@10 per mode."""
        def row(figure: str, value: Callable[[StackFigures], float | None], digits: int, lower_is_better: bool) -> Row:
            return _row(figure, tuple(value(stack) for stack in self.stacks), digits, lower_is_better)

        rows = [row("build from nothing (s)", lambda stack: stack.build_seconds, 1, True),
                row("build (passages/s)", lambda stack: stack.build_rate, 1, False),
                row("forward pass (passages/s)", lambda stack: stack.forward_rate, 1, False)]
        for mode in self.settings.modes:
            for name in ("p50", "p95"):
                rows.append(row(f"{mode} {name} (ms)", lambda stack: getattr(stack.latency[mode], f"{name}_ms"), 1, True))
        rows.append(row("cold start, one question (s)", lambda stack: stack.cold_start_seconds, 2, True))
        rows.extend(row(f"nDCG@10 {mode}", lambda stack: stack.quality[mode]["ndcg@10"], 4, False) for mode in self.settings.modes)
        return rows

    def to_dict(self) -> dict:
        """The ``kb bench --compare --json`` shape (with ``--txtai``: a ``txtai`` stack, and ``txtai``/``txtai_ratio`` per row)."""
        keys = _KEYS[:len(self.stacks)]
        return {"dataset": self.dataset, "split": self.split, "passages": self.ours.passages, "questions": self.questions,
                "timed_questions": min(self.settings.queries, self.questions), "k": self.settings.k,
                "forward_passages": self.ours.forward_passages, "batch_size": BATCH_SIZE, "machine": self.machine.to_dict(),
                "stacks": {key: stack.to_dict() for key, stack in zip(keys, self.stacks)},
                "rows": [_row_dict(row, keys) for row in self.rows()]}

    def to_table(self) -> str:
        """The figures as an aligned markdown table under a header naming dataset, settings and machine."""
        header = (f"{self.dataset} ({self.split}): {self.ours.passages} passages, {self.questions} questions "
                  f"(nDCG on all, latency on {min(self.settings.queries, self.questions)} warm, k={self.settings.k}); "
                  f"forward pass on {self.ours.forward_passages} passages, batch {BATCH_SIZE}")
        footer = ("ratio: the other stack / this project for times, this project / the other stack for passages/s and nDCG "
                  "(above 1: this project ahead). Our latency includes reading passages and documents and collapsing near "
                  "duplicates (highlights and facets, which the web app asks for, are not made); hybrid questions run on "
                  "the int8 copy for questions (KB_HYBRID_QUESTIONS), dense ones on the fp32 model; the other stacks "
                  "return ids and scores.")
        if self.txtai:
            footer += (" txtai: Embeddings(path=model, hybrid=True) with its defaults (512 tokens, batch 32, weight 0.5); "
                       "dense and keyword are its search weights 1 and 0, which still run both sides; no forward pass "
                       "timed (the hand-written stack's model on PyTorch).")
        return "\n".join([header, self.machine.describe(), "", *_markdown(self._cells()), "", footer])

    def _cells(self) -> list[list[str]]:
        """The table's text, header first: each stack's value and, after each other stack, its ratio."""
        head = [["figure", OURS, HANDWRITTEN, "ratio", TXTAI, "ratio (txtai)"][:2 + 2 * (len(self.stacks) - 1)]]
        body = []
        for row in self.rows():
            cells = [row.figure, _number(row.values[0], row.digits)]
            for value, ratio in zip(row.values[1:], row.ratios):
                cells += [_number(value, row.digits), _number(ratio, 2) if ratio is not None or value is None else "n/a"]
            body.append(cells)
        return head + body


def _row_dict(row: Row, keys: tuple[str, ...]) -> dict:
    """One row for JSON: the value under each stack's key, ``ratio`` (hand-written) and ``txtai_ratio``."""
    entry = {"figure": row.figure, **dict(zip(keys, row.values)), "ratio": row.ratios[0]}
    if len(row.ratios) > 1:
        entry["txtai_ratio"] = row.ratios[1]
    return entry


def _number(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _markdown(cells: list[list[str]]) -> list[str]:
    """Lines of a markdown table: the first column left-aligned, the others right-aligned, all padded alike."""
    widths = [max(len(line[column]) for line in cells) for column in range(len(cells[0]))]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(value.ljust(width) if column == 0 else value.rjust(width)
                                 for column, (value, width) in enumerate(zip(values, widths))) + " |"

    rule = "|" + "|".join("-" * (width + 2) if column == 0 else "-" * (width + 1) + ":" for column, width in enumerate(widths)) + "|"
    return [line(cells[0]), rule, *map(line, cells[1:])]
