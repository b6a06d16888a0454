"""Evaluation plumbing: loading judgments, turning hits into runs, and ranx's metrics on known rankings."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

import indexer.kb
from indexer import DatasetError, Location
from indexer.cli import main
from indexer.evaluation.evaluate import EvalSet, load_beir, load_questions, location_key, question_scores, score_run


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
    scores = question_scores(EvalSet(name="t", split="test", queries={q: q for q in qrels}, qrels=qrels), run)["ndcg@10"]
    assert scores == {"z9": pytest.approx(1 / math.log2(3), abs=1e-4), "a1": pytest.approx(2 / (2 + 1 / math.log2(3)), abs=1e-4),
                      "m5": 0.0, "b0": 1.0}


def test_location_keys_name_page_slide_or_section():
    assert location_key("a.pdf", Location(page=3, page_label="iii")) == "a.pdf#page=3"
    assert location_key("b.pptx", Location(slide=2)) == "b.pptx#slide=2"
    assert location_key("c.docx", Location(section="Domestic workers")) == "c.docx#section=Domestic workers"


def test_questions_file_by_split(tmp_path):
    path = tmp_path / "questions.jsonl"
    rows = [
        {"id": "d1", "question": "q?", "split": "dev", "relevant": [{"file": "a.pdf", "page": 2, "grade": 2}]},
        {"id": "t1", "question": "r?", "split": "test", "relevant": [{"file": "b.pptx", "slide": 1, "grade": 1}]},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    assert load_questions(path, "test").qrels == {"t1": {"b.pptx#slide=1": 1}}
    assert set(load_questions(path, "all").queries) == {"d1", "t1"}


def test_malformed_questions_name_the_line(tmp_path):
    path = tmp_path / "questions.jsonl"
    path.write_text('{"id": "x", "question": "q", "split": "dev"}\n')
    with pytest.raises(DatasetError, match="line 1"):
        load_questions(path, "dev")


@pytest.fixture
def beir_folder(tmp_path):
    folder = tmp_path / "minibeir"
    (folder / "qrels").mkdir(parents=True)
    docs = [("d1", "Pensions", "Rural pension schemes pay old people."), ("d2", "Health", "Universal health coverage in Thailand."),
            ("d3", "Tax", "Monotributo merges tax and contributions.")]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in docs))
    queries = [("1", "rural pension schemes old people"), ("2", "monotributo tax contributions"), ("3", "not judged")]
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": x}) + "\n" for i, x in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n2\td3\t1\n")
    return folder


def test_beir_loader_keeps_judged_queries(beir_folder):
    eval_set = load_beir(beir_folder, "test")
    assert eval_set.queries == {"1": "rural pension schemes old people", "2": "monotributo tax contributions"}
    with pytest.raises(DatasetError, match="qrels/dev.tsv"):
        load_beir(beir_folder, "dev")


def test_kb_eval_json_on_a_beir_folder(beir_folder, tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    args = ["eval", str(beir_folder), "--json", "--data-dir", str(tmp_path / "data")]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    body = json.loads(result.output)
    assert body["dataset"] == "minibeir" and body["split"] == "test" and body["queries"] == 2
    assert body["modes"]["dense"] == {"ndcg@10": 1.0, "recall@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0}
    saved = json.loads((tmp_path / "data" / "eval" / "minibeir-test.json").read_text())
    assert saved["ndcg@10_per_question"]["dense"] == {query_id: 1.0 for query_id in saved["runs"]["dense"]}
    again = CliRunner().invoke(main, args, catch_exceptions=False)
    assert json.loads(again.output) == body
    # A BEIR index of an older format (an earlier version of the indexer) is rebuilt, not refused.
    manifest = tmp_path / "data" / "eval" / "minibeir" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format_version": 4}))
    rebuilt = CliRunner().invoke(main, args, catch_exceptions=False)
    assert json.loads(rebuilt.output) == body and json.loads(manifest.read_text())["format_version"] > 4


def test_kb_eval_on_a_document_folder_prints_a_table(small_corpus, tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    (small_corpus / "eval").mkdir()
    question = {"id": "t1", "question": "Universal Coverage Scheme taxation", "split": "test",
                "relevant": [{"file": "thailand.pptx", "slide": 2, "grade": 2}]}
    (small_corpus / "eval" / "questions.jsonl").write_text(json.dumps(question) + "\n")
    result = CliRunner().invoke(main, ["eval", str(small_corpus), "--data-dir", str(tmp_path / "data")], catch_exceptions=False)
    assert "corpus (test, 1 queries)" in result.output
    dense = next(line for line in result.output.splitlines() if line.startswith("dense"))
    assert dense.split()[1:] == ["1.0000"] * 4


def test_kb_eval_refuses_an_unknown_folder(tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    result = CliRunner().invoke(main, ["eval", str(tmp_path), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1 and "neither a document folder" in result.output
