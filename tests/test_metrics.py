"""Scoring: hits turned into runs, and ranx's metrics on known rankings."""

from __future__ import annotations

import math

import pytest

from indexer.evaluation.eval_sets import EvalSet
from indexer.evaluation.metrics import (METRICS, breakdown, mean_scores, question_scores, run_queries, score_run,
                                       without_identical_ids)


def tiny_set() -> EvalSet:
    return EvalSet(name="tiny", split="test", queries={"q1": "one", "q2": "two"},
                   qrels={"q1": {"a": 2, "b": 1}, "q2": {"c": 1}})


def test_known_ranking_gives_known_metrics():
    run = {"q1": {"a": 1.0, "x": 0.5, "b": 1 / 3}, "q2": {"y": 1.0}}
    ideal = 2 + 1 / math.log2(3)
    q1_ndcg = (2 + 1 / math.log2(4)) / ideal
    scores = score_run(tiny_set(), run)
    assert scores["ndcg@10"] == pytest.approx(q1_ndcg / 2, abs=1e-4)
    assert scores["mrr@10"] == pytest.approx(0.5)
    assert scores["recall@10"] == pytest.approx(0.5)
    assert scores["recall@100"] == pytest.approx(0.5)


def test_query_without_results_scores_zero():
    scores = score_run(tiny_set(), {"q1": {"a": 1.0, "b": 0.5}, "q2": {}})
    assert scores["ndcg@10"] == pytest.approx(0.5)
    assert scores["recall@100"] == pytest.approx(0.5)


def test_per_question_scores_belong_to_their_questions():
    # Ids out of alphabetical order: ranx sorts them internally, the scores must still follow their ids.
    qrels = {"z9": {"a": 1}, "a1": {"b": 2, "c": 1}, "m5": {"d": 1}, "b0": {"e": 1}}
    run = {"z9": {"x": 1.0, "a": 0.5}, "a1": {"b": 1.0}, "m5": {}, "b0": {"e": 1.0}}
    scores = question_scores(EvalSet(name="t", split="test", queries={q: q for q in qrels}, qrels=qrels), run)
    assert set(scores) == set(METRICS)
    assert scores["ndcg@10"] == {"z9": pytest.approx(1 / math.log2(3), abs=1e-4),
                                 "a1": pytest.approx(2 / (2 + 1 / math.log2(3)), abs=1e-4), "m5": 0.0, "b0": 1.0}
    assert mean_scores(scores)["mrr@10"] == pytest.approx((0.5 + 1 + 0 + 1) / 4)


def test_a_run_keeps_each_key_at_its_best_rank():
    # Two passages of one page: the page counts once, at the first one's rank.
    ranked = {"one": ["a#page=1", "b#page=2", "a#page=1"], "two": []}
    run = run_queries(tiny_set(), lambda question: ranked[question], key=lambda hit: hit)
    assert run == {"q1": {"a#page=1": 1.0, "b#page=2": 0.5}, "q2": {}}


def test_breakdown_averages_each_mode_over_each_kind_and_language():
    eval_set = EvalSet(name="t", split="dev", queries={"a": "a", "b": "b", "c": "c"}, qrels={"a": {}, "b": {}, "c": {}},
                       labels={"a": {"kind": "keywords", "language": "en"}, "b": {"kind": "question", "language": "en"},
                               "c": {"kind": "question", "language": "fr"}})
    per_question = {"hybrid": {"a": 1.0, "b": 0.5, "c": 0.0}, "dense": {"a": 0.25, "b": 0.75, "c": 0.5}}
    assert breakdown(eval_set, per_question) == {
        "kind": {"keywords": {"queries": 1, "hybrid": 1.0, "dense": 0.25},
                 "question": {"queries": 2, "hybrid": 0.25, "dense": 0.625}},
        "language": {"en": {"queries": 2, "hybrid": 0.75, "dense": 0.5},
                     "fr": {"queries": 1, "hybrid": 0.0, "dense": 0.5}},
    }
    assert breakdown(tiny_set(), per_question) == {}  # no labels: nothing to break down


def test_identical_ids_are_left_out_of_a_run():
    run = {"q1": {"q1": 1.0, "a": 0.5}, "q2": {"a": 1.0, "q1": 0.5}}
    assert without_identical_ids(run) == {"q1": {"a": 0.5}, "q2": {"a": 1.0, "q1": 0.5}}
    # The question's own hit gone, the judged ones lead: nDCG@10 1.
    found_itself = {"q1": {"q1": 1.0, "a": 0.5, "b": 1 / 3}, "q2": {"c": 1.0}}
    assert score_run(tiny_set(), without_identical_ids(found_itself))["ndcg@10"] == pytest.approx(1.0)
