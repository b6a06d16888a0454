"""Score rankings against judgments: nDCG@10, Recall@10, Recall@100 and MRR@10, computed by ranx.

A run is ``run[query_id][key] = score`` (``key``: a judged location or record id), as ranx takes it;
``run_queries`` builds one from any search function, so every stack is scored the same way.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence, TypeVar

import numpy as np

from .eval_sets import EvalSet

__all__ = ["METRICS", "Run", "run_queries", "without_identical_ids", "score_run", "question_scores", "mean_scores", "breakdown"]

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")

#: ``run[query_id][key] = score``.
Run = dict[str, dict[str, float]]

# A hit of any stack: this project's ``Hit``, or the record-id hits of the stacks ``kb bench --compare`` measures.
HitT = TypeVar("HitT")


def run_queries(eval_set: EvalSet, search: Callable[[str], Sequence[HitT]], key: Callable[[HitT], str]) -> Run:
    """Search every question; keep each key (location or document) at its best passage's score.

    Args:
        eval_set: the questions.
        search: returns the ranked hits of one question.
        key: names the judged unit a hit belongs to.

    Returns:
        ``run[query_id][key] = score``, as ranx takes it.
    """
    run: Run = {}
    for query_id, question in eval_set.queries.items():
        ranked: dict[str, float] = {}
        for position, hit in enumerate(search(question)):
            # Scores from rank, so ties (and fusions with other scales) keep the search's order.
            ranked.setdefault(key(hit), 1.0 / (position + 1))
        run[query_id] = ranked
    return run


def without_identical_ids(run: Run) -> Run:
    """The run without any hit whose key is its own question's id (BEIR's ``ignore_identical_ids``).

    In collections whose questions are documents too (ArguAna, Quora), the question finds itself first;
    BEIR's published figures leave such hits out, and so does ``kb eval --ignore-identical-ids``.
    """
    return {query_id: {key: score for key, score in ranked.items() if key != query_id} for query_id, ranked in run.items()}


def score_run(eval_set: EvalSet, run: Run) -> dict[str, float]:
    """The mean of each of ``METRICS`` over the questions (a question with no results scores 0)."""
    return mean_scores(question_scores(eval_set, run))


def question_scores(eval_set: EvalSet, run: Run) -> dict[str, dict[str, float]]:
    """Each of ``METRICS`` for each judged question: ``scores[metric][query_id]``, to find the questions a mode answers badly."""
    return _ranx_scores(eval_set, run, METRICS)


def mean_scores(scores: dict[str, dict[str, float]]) -> dict[str, float]:
    """The mean over the questions of each metric of ``question_scores``, rounded to 4 places."""
    return {metric: round(float(np.mean(list(by_question.values()))), 4) for metric, by_question in scores.items()}


def breakdown(eval_set: EvalSet, per_question: dict[str, dict[str, float]]) -> dict[str, dict[str, dict[str, float]]]:
    """The mean score of each mode over the questions of each label value (``EvalSet.labels``: kind, language).

    Args:
        eval_set: the questions and their labels.
        per_question: ``per_question[mode][query_id]``, one metric (``kb eval`` gives nDCG@10).

    Returns:
        ``{label: {value: {"queries": n, mode: mean, ...}}}``, labels and values sorted, means rounded to 4
        places; empty when no question carries a label (BEIR).
    """
    groups: dict[str, dict[str, list[str]]] = {}
    for query_id, labels in eval_set.labels.items():
        for label, value in labels.items():
            groups.setdefault(label, {}).setdefault(value, []).append(query_id)
    return {label: {value: {"queries": len(ids),
                            **{mode: round(float(np.mean([scores.get(query_id, 0.0) for query_id in ids])), 4)
                               for mode, scores in per_question.items()}}
                    for value, ids in sorted(values.items())}
            for label, values in sorted(groups.items())}


def _ranx_scores(eval_set: EvalSet, run: Run, metrics: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """``scores[metric][query_id]`` for every judged question, by ranx."""
    # ranx brings numba, a heavy import: only a process that scores pays for it (not `kb search`, not the web app).
    from numba.core.errors import NumbaTypeSafetyWarning
    from ranx import Qrels, Run as RanxRun, evaluate

    # ranx needs at least one entry per query; a sentinel key no judgment names scores zero.
    ranx_run = RanxRun({query_id: run.get(query_id) or {"\u0000none": 0.0} for query_id in eval_set.qrels})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaTypeSafetyWarning)
        # Every judged question is in the run and nothing else, so the two are comparable as they are;
        # ranx keeps each question's scores in the Run, keyed by question id.
        evaluate(Qrels(eval_set.qrels), ranx_run, list(metrics), return_mean=False)
    return {metric: {query_id: float(score) for query_id, score in ranx_run.scores[metric].items()} for metric in metrics}
