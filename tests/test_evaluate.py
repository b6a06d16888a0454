"""``kb eval``: a dataset's index opened or built, every mode scored, runs saved beside the index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import indexer.kb
from indexer import InvalidQuery, KBError, KnowledgeBase
from indexer.cli import main
from indexer.evaluation import evaluation_dir
from indexer.evaluation.evaluate import EVAL_MAX_QUERY_CHARS, open_dataset
from indexer.search import Fusion

from .conftest import make_beir


def test_evaluation_output_goes_in_a_folder_beside_the_index(tmp_path, monkeypatch):
    assert evaluation_dir("var/kb") == Path("var/kb.eval")
    assert evaluation_dir(Path("/srv/kb/")) == Path("/srv/kb.eval")
    (tmp_path / "kb").mkdir()
    monkeypatch.chdir(tmp_path / "kb")
    assert evaluation_dir(".") == tmp_path.resolve() / "kb.eval"
    with pytest.raises(KBError, match="root"):
        evaluation_dir("/")


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


def test_kb_eval_json_on_a_beir_folder(beir_folder, tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    args = ["eval", str(beir_folder), "--json", "--data-dir", str(tmp_path / "data")]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    body = json.loads(result.output)
    assert body["dataset"] == "minibeir" and body["split"] == "test" and body["queries"] == 2
    assert body["modes"]["dense"] == {"ndcg@10": 1.0, "recall@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0}
    # The BEIR index and the runs are beside the data directory, not in it.
    saved = json.loads((tmp_path / "data.eval" / "minibeir-test.json").read_text())
    assert saved["ndcg@10_per_question"]["dense"] == {query_id: 1.0 for query_id in saved["runs"]["dense"]}
    assert (tmp_path / "data.eval" / "minibeir" / "manifest.json").is_file() and not (tmp_path / "data" / "eval").exists()
    again = CliRunner().invoke(main, args, catch_exceptions=False)
    assert json.loads(again.output) == body
    # A BEIR index of an older format (an earlier version of the indexer) is rebuilt, not refused.
    manifest = evaluation_dir(tmp_path / "data") / "minibeir" / "manifest.json"
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
    assert f"runs and metrics written to {tmp_path / 'data.eval' / 'corpus-test.json'}" in result.output


def test_kb_eval_refuses_an_unknown_folder(tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    result = CliRunner().invoke(main, ["eval", str(tmp_path), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1 and "neither a document folder" in result.output


def test_kb_eval_gives_ndcg_by_kind_and_language(small_corpus, tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    (small_corpus / "eval").mkdir()
    thailand = [{"file": "thailand.pptx", "slide": 2, "grade": 2}]
    questions = [
        {"id": "q1", "question": "How is the Universal Coverage Scheme financed?", "kind": "question", "language": "en",
         "relevant": thailand},
        {"id": "k1", "question": "monotributo monthly payment", "kind": "keywords", "language": "en",
         "relevant": [{"file": "monotributo.md", "section": "Monotributo", "grade": 2}]},
        {"id": "s1", "question": "¿Cómo se financia el Universal Coverage Scheme?", "kind": "question", "language": "es",
         "relevant": thailand},
    ]
    (small_corpus / "eval" / "questions.jsonl").write_text("".join(json.dumps({**q, "split": "test"}) + "\n" for q in questions))
    args = ["eval", str(small_corpus), "--data-dir", str(tmp_path / "data")]
    printed = CliRunner().invoke(main, args, catch_exceptions=False).output
    assert "corpus (test, 3 queries)" in printed and "nDCG@10 by kind" in printed and "nDCG@10 by language" in printed
    rows = {line.split()[0]: line.split()[1:] for line in printed.splitlines()
            if line.split()[:1] in (["keywords"], ["question"], ["en"], ["es"])}
    assert {value: row[0] for value, row in rows.items()} == {"keywords": "1", "question": "2", "en": "2", "es": "1"}
    by = json.loads(CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False).output)["ndcg@10_by"]
    assert list(by) == ["kind", "language"] and list(by["language"]) == ["en", "es"]
    # Each group's figure is the mean of its questions' nDCG@10, as saved beside the index.
    per_question = json.loads((tmp_path / "data.eval" / "corpus-test.json").read_text())["ndcg@10_per_question"]
    for column, mode in enumerate(("hybrid", "dense", "keyword"), start=1):
        both = (per_question[mode]["q1"] + per_question[mode]["s1"]) / 2
        assert by["kind"]["question"][mode] == pytest.approx(both, abs=1e-4)
        assert by["language"]["es"][mode] == pytest.approx(per_question[mode]["s1"], abs=1e-4)
        assert rows["es"][column] == f"{by['language']['es'][mode]:.4f}"


def test_kb_eval_takes_long_questions_and_can_ignore_identical_ids(tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    folder = make_beir(tmp_path / "argu")
    # A question longer than the web API accepts, and one that is itself a record (as in ArguAna).
    long_question = "unemployment benefits in Mongolia " * 40
    itself = "pension in Zambia. The pension scheme of Zambia covers workers and their families, financed by contributions."
    queries = [{"_id": "long", "text": long_question}, {"_id": "d1", "text": itself}]
    (folder / "queries.jsonl").write_text("".join(json.dumps(query) + "\n" for query in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nlong\td24\t1\nd1\td6\t1\n")
    args = ["eval", str(folder), "--json", "--data-dir", str(tmp_path / "data")]
    saved = tmp_path / "data.eval" / "argu-test.json"

    plain = json.loads(CliRunner().invoke(main, args, catch_exceptions=False).output)
    assert plain["queries"] == 2 and "ignore_identical_ids" not in plain
    runs = json.loads(saved.read_text())["runs"]
    assert all(next(iter(runs[mode]["d1"])) == "d1" for mode in runs)  # the question finds itself first
    assert all(next(iter(runs[mode]["long"])) == "d24" for mode in runs)

    ignoring = json.loads(CliRunner().invoke(main, [*args, "--ignore-identical-ids"], catch_exceptions=False).output)
    assert ignoring["ignore_identical_ids"] is True
    runs = json.loads(saved.read_text())["runs"]
    assert all("d1" not in runs[mode]["d1"] and runs[mode]["d1"] for mode in runs)
    assert all(ignoring["modes"][mode]["ndcg@10"] > plain["modes"][mode]["ndcg@10"] for mode in runs)

    # Only evaluation accepts it: the knowledge base keeps the web API's limit.
    beir_kb = KnowledgeBase(evaluation_dir(tmp_path / "data") / "argu", embedder=fake_embedder)
    with pytest.raises(InvalidQuery, match="limit is 500"):
        beir_kb.search(long_question)
    assert beir_kb.search(long_question, max_chars=EVAL_MAX_QUERY_CHARS).hits[0].document.filename == "d24"


def test_a_beir_folder_is_searched_with_the_callers_fusion(beir_folder, tmp_path, fake_embedder):
    kb = KnowledgeBase(tmp_path / "data", embedder=fake_embedder, fusion=Fusion(alpha=0.25))
    opened = open_dataset(kb, beir_folder, "test")
    assert opened.kb is not kb and opened.kb.fusion == Fusion(alpha=0.25)
